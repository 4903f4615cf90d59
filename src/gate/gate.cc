#include "gate/gate.h"

#include <openssl/sha.h>

#include <cctype>
#include <functional>

#include <fmt/format.h>

#include "core/log.h"
#include "core/random.h"

namespace jg::gate {
namespace {

Refusal refusalOf(const policy::Decision& d) {
  if (d.sqlstate == "42601") {
    return Refusal::kInvalidRequest;
  }
  if (d.sqlstate == "54000") {
    return Refusal::kLimit;
  }
  if (d.sqlstate == "XX000") {
    return Refusal::kInternal;
  }
  return Refusal::kForbidden;
}

bool statementScope(const policy::Decision& d) {
  return d.review != nullptr && d.review->scope == policy::ReviewSpec::Scope::kStatement;
}

void allow(Verdict& v) {
  v.outcome = Outcome::kAllow;
  v.refusal = Refusal::kNone;
  v.decision.effect = policy::Effect::kAllow;
  v.row_limit = v.decision.row_limit;
  if (v.row_limit > 0) {
    v.row_limit_by = fmt::format("rule {}", v.decision.rule_id);
  }
  v.max_items = v.decision.max_items;
  v.items_path = std::string(v.decision.items_path);
  v.max_response_bytes = v.decision.max_response_bytes;
}

void needsApproval(Verdict& v, std::string_view what) {
  v.refusal = Refusal::kNeedsApproval;
  v.detail += v.detail.empty() ? "" : "; ";
  v.detail += fmt::format("this {} needs approval", what);
}

// The verdict of a policy decision, before any approval is looked up. `what` names the request
// for people ("statement", "request"); `reusable` says it may run more than once.
Verdict fromDecision(policy::Decision d, std::string_view what, bool reusable) {
  Verdict v;
  v.decision = std::move(d);
  v.message = v.decision.message();
  v.detail = v.decision.detail;
  switch (v.decision.effect) {
    case policy::Effect::kAllow:
      allow(v);
      return v;
    case policy::Effect::kDeny:
      v.refusal = refusalOf(v.decision);
      return v;
    case policy::Effect::kReview:
      break;
  }
  v.outcome = Outcome::kReview;
  needsApproval(v, what);
  if (statementScope(v.decision) && reusable) {
    // An approval covers one run; a named prepared statement could be executed again.
    v.outcome = Outcome::kDeny;
    v.message +=
        ": a statement that needs approval runs once, so it cannot be prepared as a "
        "named statement; send it unprepared";
  }
  return v;
}

// A review that a one-time approval of exactly this request settles.
bool needsKey(const Verdict& v) {
  return v.outcome == Outcome::kReview && statementScope(v.decision);
}

Verdict settleStatement(Verdict v, std::string_view text, Approvals& approvals) {
  if (auto approved = approvals.consume(v.key)) {
    v.approval = std::move(*approved);
    allow(v);
    return v;
  }
  ReviewDraft draft;
  draft.scope = ReviewDraft::Scope::kStatement;
  draft.rule_id = v.decision.rule_id;
  draft.reason = v.decision.reason;
  draft.role = v.decision.role;
  draft.spec = v.decision.review;
  draft.text = text;
  draft.key = v.key;
  auto created = approvals.create(draft);
  if (!created) {
    // The client learns that the store failed, not where it is or how it failed: that goes
    // to the gateway's log.
    log::warn("", "cannot create a review for rule {}: {}", v.decision.rule_id,
              created.status().message());
    v.outcome = Outcome::kDeny;
    v.message =
        "cannot create a review: the gateway's state store is unavailable (the cause is in the "
        "gateway's log); try again later";
    return v;
  }
  v.review_id = created->id;
  v.approval_hint = created->hint;
  v.message =
      fmt::format("{}: review {} created; {}", v.decision.message(), created->id, created->hint);
  v.hold = v.decision.review->mode == policy::ReviewSpec::Mode::kWait;
  if (!v.hold) {
    v.outcome = Outcome::kDeny;
  }
  return v;
}

// The settling flow of every request kind; `redecide` decides the same request again for a
// caller with more granted rules.
Verdict settleReview(Verdict v, const Caller& caller, std::string_view text, Approvals* approvals,
                     const std::function<Verdict(const Caller&)>& redecide) {
  if (!Gate::needsSettling(v)) {
    return v;
  }
  if (approvals == nullptr) {
    v.outcome = Outcome::kDeny;
    v.message += "; this gateway has no store for reviews (set store:)";
    return v;
  }
  if (statementScope(v.decision)) {
    return settleStatement(std::move(v), text, *approvals);
  }
  // A session-scope approval may have been granted since the session started.
  auto grant = approvals->activeGrant(v.decision.role);
  if (!grant) {
    v.outcome = Outcome::kDeny;
    return v;
  }
  std::vector<std::string> granted(caller.granted.begin(), caller.granted.end());
  granted.push_back(grant->rule_id);
  Verdict again = redecide(Caller{caller.binding, granted});
  if (again.outcome == Outcome::kReview) {
    again.outcome = Outcome::kDeny;  // the grant does not cover it
  }
  again.grant = std::move(grant);
  return again;
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return toHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace

std::string_view refusalName(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kForbidden:
      return "forbidden";
    case Refusal::kNeedsApproval:
      return "needs-approval";
    case Refusal::kInvalidRequest:
      return "invalid-request";
    case Refusal::kLimit:
      return "limit";
    case Refusal::kUnknownName:
      return "unknown-name";
    case Refusal::kAborted:
      return "aborted";
    case Refusal::kUnrecorded:
      return "unrecorded";
    case Refusal::kInternal:
      return "internal";
  }
  return "unknown";
}

Verdict Verdict::refuse(Refusal why, std::string_view rule_id, std::string message,
                        std::string detail) {
  Verdict v;
  v.outcome = Outcome::kDeny;
  v.refusal = why;
  v.decision.effect = policy::Effect::kDeny;
  v.decision.rule_id = rule_id;
  v.message = std::move(message);
  v.detail = std::move(detail);
  return v;
}

ApprovalKey approvalKey(const sql::Classification& c, std::string_view text) {
  ApprovalKey key;
  for (const auto& st : c.statements) {
    key.fingerprint += fmt::format("{}{:016x}", key.fingerprint.empty() ? "" : ",", st.fingerprint);
  }
  key.params_hash = sha256Hex(text);
  return key;
}

ApprovalKey approvalKey(const policy::HttpFacts& facts, std::string_view body_digest) {
  std::string method(facts.method);
  for (char& ch : method) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  ApprovalKey key;
  key.fingerprint = fmt::format("http:{} {}", method, facts.path);
  // Length-prefixed fields: no two different requests give the same bytes.
  std::string all;
  auto field = [&](std::string_view f) { all += fmt::format("{}:{};", f.size(), f); };
  field(method);
  field(facts.path);
  for (const auto& [k, v] : facts.query) {
    field(k);
    field(v);
  }
  all += "body;";
  field(body_digest);
  key.params_hash = sha256Hex(all);
  return key;
}

namespace {

// A statement review whose rule names another upstream role than the session's: the session's
// upstream login cannot change, so an approval would be spent on "permission denied". Refused
// before a review is created, with what to do instead.
bool refuseForeignRole(Verdict& v, const policy::Decision& session) {
  if (!needsKey(v) || v.decision.role.empty() || v.decision.role == session.role) {
    return false;
  }
  v.outcome = Outcome::kDeny;
  v.refusal = Refusal::kForbidden;
  v.message = fmt::format(
      "rule {} runs approved statements as upstream role \"{}\", but this session logged in "
      "upstream as {}",
      v.decision.rule_id, v.decision.role,
      session.role.empty() ? std::string("the resource's default user")
                           : fmt::format("role \"{}\" (rule {})", session.role, session.rule_id));
  v.detail = fmt::format(
      "an approval could not be used in this session, so no review was created; connect under a "
      "rule that gives the session role \"{}\", or have rule {} name the session's role",
      v.decision.role, v.decision.rule_id);
  return true;
}

}  // namespace

Verdict Gate::decide(const Caller& caller, const SqlRequest& request, TimePoint now) const {
  Verdict v = fromDecision(policy_.evaluateBatch(caller.binding, request.classification,
                                                 request.context, now, caller.granted),
                           "statement", request.reusable);
  if (refuseForeignRole(v, caller.binding.session)) {
    return v;
  }
  if (needsKey(v)) {
    v.key = approvalKey(*request.classification, request.text);
  }
  return v;
}

Verdict Gate::decide(const Caller& caller, const HttpRequest& request, TimePoint now) const {
  policy::HttpRequest r{.facts = request.facts, .now = now, .granted = caller.granted};
  Verdict v = fromDecision(policy_.evaluateHttp(caller.binding, r), "request", false);
  if (needsKey(v)) {
    v.key = approvalKey(request.facts, request.body_digest);
  }
  return v;
}

Verdict Gate::decideAgain(const Caller& caller,
                          std::span<const std::shared_ptr<const sql::Classification>> statements,
                          const sql::SessionContext& context, TimePoint now) const {
  Verdict v;
  for (const auto& c : statements) {
    SqlRequest request{c, context, {}, true};
    v = decide(caller, request, now);
    if (!v.allowed()) {
      v.outcome = Outcome::kDeny;  // no review at execution: the statement was prepared earlier
      v.message += " (decided again at execution)";
      return v;
    }
  }
  return v;
}

bool Gate::needsSettling(const Verdict& v) {
  return v.outcome == Outcome::kReview;
}

Verdict Gate::settle(Verdict v, const Caller& caller, const SqlRequest& request,
                     Approvals* approvals, TimePoint now) const {
  return settleReview(std::move(v), caller, request.text, approvals,
                      [&](const Caller& c) { return decide(c, request, now); });
}

Verdict Gate::settle(Verdict v, const Caller& caller, const HttpRequest& request,
                     Approvals* approvals, TimePoint now) const {
  return settleReview(std::move(v), caller, request.text, approvals,
                      [&](const Caller& c) { return decide(c, request, now); });
}

}  // namespace jg::gate
