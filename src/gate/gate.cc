#include "gate/gate.h"

#include <openssl/sha.h>

#include <fmt/format.h>

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
}

void needsApproval(Verdict& v) {
  v.refusal = Refusal::kNeedsApproval;
  v.detail += v.detail.empty() ? "" : "; ";
  v.detail += "this statement needs approval";
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
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  key.params_hash = toHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  return key;
}

Verdict Gate::decide(const Caller& caller, const SqlRequest& request, TimePoint now) const {
  return fromDecision(policy_.evaluateBatch(caller.binding, request.classification,
                                            request.context, now, caller.granted),
                      request);
}

Verdict Gate::fromDecision(policy::Decision d, const SqlRequest& request) const {
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
  needsApproval(v);
  if (statementScope(v.decision) && request.reusable) {
    // An approval covers one run; a named prepared statement could be executed again.
    v.outcome = Outcome::kDeny;
    v.message += ": a statement that needs approval runs once, so it cannot be prepared as a "
                 "named statement; send it unprepared";
  } else if (statementScope(v.decision)) {
    v.key = approvalKey(*request.classification, request.text);
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
  if (!needsSettling(v)) {
    return v;
  }
  if (approvals == nullptr) {
    v.outcome = Outcome::kDeny;
    v.message += "; this gateway has no store for reviews (set store:)";
    return v;
  }
  if (statementScope(v.decision)) {
    return settleStatement(std::move(v), request, *approvals);
  }
  // A session-scope approval may have been granted since the session started.
  auto grant = approvals->activeGrant(v.decision.role);
  if (!grant) {
    v.outcome = Outcome::kDeny;
    return v;
  }
  std::vector<std::string> granted(caller.granted.begin(), caller.granted.end());
  granted.push_back(grant->rule_id);
  Verdict again = decide(Caller{caller.binding, granted}, request, now);
  if (again.outcome == Outcome::kReview) {
    again.outcome = Outcome::kDeny;  // the grant does not cover it
  }
  again.grant = std::move(grant);
  return again;
}

Verdict Gate::settleStatement(Verdict v, const SqlRequest& request, Approvals& approvals) const {
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
  draft.text = request.text;
  draft.key = v.key;
  auto created = approvals.create(draft);
  if (!created) {
    v.outcome = Outcome::kDeny;
    v.message = "cannot create a review: " + created.status().message();
    return v;
  }
  v.review_id = created->id;
  v.approval_hint = created->hint;
  v.message = fmt::format("{}: review {} created; {}", v.decision.message(), created->id,
                          created->hint);
  v.hold = v.decision.review->mode == policy::ReviewSpec::Mode::kWait;
  if (!v.hold) {
    v.outcome = Outcome::kDeny;
  }
  return v;
}

}  // namespace jg::gate
