// Policy evaluation: session binding, per-statement decisions, batches and explanations.
#include <algorithm>
#include <optional>

#include "policy/match.h"
#include "policy/policy.h"
#include "policy/rule.h"

namespace jg::policy {

namespace {

constexpr std::string_view kDenied = "42501";
constexpr std::string_view kSyntax = "42601";
constexpr std::string_view kCatalogHint =
    "; the statement reads only catalog relations (pg_catalog, information_schema): add "
    "`catalog: true` to an allow rule to let metadata reads through (docs/policy.md)";

int rank(Effect e) {
  return e == Effect::kDeny ? 2 : e == Effect::kReview ? 1 : 0;
}

bool isGranted(const Request& r, const std::string& id) {
  return detail::isGranted(r.granted, id);
}

using detail::applyModifiers;
using detail::denyWith;

// The first allow rule of `b` that covers the statement and unlocks every guardrail of `guards`
// (one rule must cover the whole statement, as for any allow). When there is none, `blamed` is
// the guardrail the denial names: the first that no covering rule unlocks, else the first.
const Rule* unlockingRule(const std::vector<Rule>& rules, const Binding& b, const Request& req,
                          const std::vector<const Rule*>& guards, const Rule*& blamed) {
  std::vector<bool> unlocked(guards.size());
  for (uint32_t i : b.rules()) {
    const Rule& r = rules[i];
    if (r.effect != Effect::kAllow || r.unlock.empty() ||
        !detail::statementMatches(r, req, detail::Mode::kCover, nullptr)) {
      continue;
    }
    bool all = true;
    for (size_t g = 0; g < guards.size(); ++g) {
      Guardrail id = guards[g]->guardrail;
      bool lifts = guardrailUnlockable(id) &&
                   std::find(r.unlock.begin(), r.unlock.end(), guardrailName(id)) != r.unlock.end();
      unlocked[g] = unlocked[g] || lifts;
      all = all && lifts;
    }
    if (all) {
      return &r;
    }
  }
  auto first = std::find(unlocked.begin(), unlocked.end(), false);
  blamed = guards[first == unlocked.end() ? 0 : first - unlocked.begin()];
  return nullptr;
}

// The DETAIL of a default deny; a metadata read (psql's \d, a driver's getTables) also says how
// to allow it, unless a rule of the session already has `catalog: true`.
std::string defaultDenyDetail(const std::vector<Rule>& rules, const Binding& b,
                              const Request& req) {
  std::string out = detail::describe(req);
  if (!detail::catalogRead(req)) {
    return out;
  }
  for (uint32_t i : b.rules()) {
    if (rules[i].catalog) {
      return out;
    }
  }
  return out.append(kCatalogHint);
}

}  // namespace

namespace detail {

bool isGranted(std::span<const std::string> granted, const std::string& id) {
  return std::find(granted.begin(), granted.end(), id) != granted.end();
}

Decision denyWith(std::string_view id, std::string_view reason, std::string detail) {
  Decision d;
  d.effect = Effect::kDeny;
  d.rule_id = id;
  d.reason = reason;
  d.detail = std::move(detail);
  d.sqlstate = kDenied;
  return d;
}

void applyModifiers(Decision& d, const Rule& r) {
  d.role = r.role;
  d.mask_profile = r.mask;
  d.row_limit = r.row_limit;
  d.read_only = r.read_only;
}

std::string sessionLine(const Binding& b) {
  return "session: " + std::string(effectName(b.session.effect)) + " by " +
         std::string(b.session.rule_id) +
         (b.session.role.empty() ? "" : " (role " + std::string(b.session.role) + ")");
}

std::string ruleHead(const Rule& r) {
  return "[" + std::string(effectName(r.effect)) + "] " + r.id + " (" + r.where + "): ";
}

std::string unboundWhy(const Rule& r, const identity::Identity& who, std::string_view resource) {
  std::string why;
  if (r.id == "builtin:session") {
    why = "the session is not admitted";
  } else {
    (void)identityMatches(r, who, resource, &why);
  }
  return why;
}

}  // namespace detail

// The rule that lets every admitted session run transaction control, SET/RESET/SHOW,
// DEALLOCATE and cursor FETCH/CLOSE (guardrails still apply: SET ROLE stays blocked).

Rule builtinSessionRule() {
  Rule r;
  r.id = "builtin:session";
  r.reason = "session housekeeping is allowed in every admitted session";
  r.effect = Effect::kAllow;
  r.where = "built-in";
  r.has_kinds = true;
  r.kinds = *sql::kindGroupFromName("session");
  return r;
}

std::string_view effectName(Effect e) {
  return e == Effect::kAllow ? "allow" : e == Effect::kDeny ? "deny" : "review";
}

std::string Decision::message() const {
  if (sqlstate == kSyntax) {
    return parse_error;
  }
  std::string verb = effect == Effect::kDeny     ? "denied by rule "
                     : effect == Effect::kReview ? "review required by rule "
                                                 : "allowed by rule ";
  return verb + std::string(rule_id) + ": " + std::string(reason);
}

Policy::Policy() = default;
Policy::~Policy() = default;
size_t Policy::ruleCount() const {
  return rules_.size();
}
const Rule& Policy::rule(uint32_t index) const {
  return rules_[index];
}

Binding Policy::bind(const identity::Identity& who, std::string_view resource,
                     std::chrono::system_clock::time_point now) const {
  Binding b;
  const Rule* deny = nullptr;
  const Rule* allow = nullptr;
  const Rule* session_review = nullptr;
  bool all_read_only = true;
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (r.guardrail != Guardrail::kNone) {
      b.rules_.push_back(i);
      continue;
    }
    if (r.id == "builtin:session" || !detail::identityMatches(r, who, resource, nullptr)) {
      continue;
    }
    b.rules_.push_back(i);
    bool unconditional = !r.hasRequestConditions() && (!r.when || r.when->contains(now));
    if (r.effect == Effect::kDeny && unconditional && deny == nullptr) {
      deny = &r;
    } else if (r.effect == Effect::kAllow) {
      all_read_only = all_read_only && r.read_only;
      if (allow == nullptr || (allow->role.empty() && !r.role.empty())) {
        allow = &r;  // the first allow rule that names a role, else the first allow rule
      }
    } else if (r.effect == Effect::kReview) {
      bool whole = r.review.scope == ReviewSpec::Scope::kSession && !r.hasRequestConditions();
      if (whole && session_review == nullptr) {
        session_review = &r;  // statement-scope reviews do not admit a session by themselves
      }
    }
  }
  Decision& d = b.session;
  if (deny != nullptr) {
    d = denyWith(deny->id, deny->reason, "resource " + std::string(resource));
  } else if (session_review != nullptr || allow != nullptr) {
    const Rule& r = session_review ? *session_review : *allow;
    d.effect = session_review ? Effect::kReview : Effect::kAllow;
    d.rule_id = r.id;
    d.reason = r.reason;
    d.role = !r.role.empty() || allow == nullptr ? std::string_view(r.role) : allow->role;
    d.read_only = allow != nullptr && all_read_only;
    if (session_review != nullptr) {
      d.review = &session_review->review;
      d.sqlstate = kDenied;
      d.detail = "session on resource " + std::string(resource);
    }
    // Admitted sessions may run housekeeping statements.
    for (uint32_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].id == "builtin:session") {
        b.rules_.push_back(i);
      }
    }
  } else {
    d = denyWith("default-deny", "no rule gives this identity access to the resource",
                 "resource " + std::string(resource));
  }
  return b;
}

Decision Policy::evaluate(const Binding& b, const Request& req) const {
  if (!req.stmt.known || req.stmt.stmt == nullptr) {
    return denyWith("builtin:unknown-prepared",
                    "EXECUTE or FETCH of a prepared statement or cursor the gateway did not see "
                    "created",
                    {});
  }
  if (req.stmt.stmt->kinds.has(sql::Kind::kUnknown)) {
    return denyWith("builtin:unknown", "the statement runs something the gateway cannot see",
                    detail::describe(req));
  }
  const Rule* deny = nullptr;
  const Rule* review = nullptr;
  const Rule* allow = nullptr;
  std::vector<const Rule*> guards;  // every guardrail that applies (none on the usual path)
  for (uint32_t i : b.rules()) {
    const Rule& r = rules_[i];
    if (r.guardrail != Guardrail::kNone) {
      if (detail::guardrailMatches(r, req, nullptr)) {
        guards.push_back(&r);
      }
    } else if (r.effect == Effect::kDeny) {
      if (deny == nullptr && detail::statementMatches(r, req, detail::Mode::kAny, nullptr)) {
        deny = &r;
      }
    } else if (r.effect == Effect::kReview) {
      // An active approval lifts the review; it never allows anything by itself.
      if (review == nullptr && !isGranted(req, r.id) &&
          detail::statementMatches(r, req, detail::Mode::kAny, nullptr)) {
        review = &r;
      }
    } else if (allow == nullptr &&
               detail::statementMatches(r, req, detail::Mode::kCover, nullptr)) {
      allow = &r;
    }
  }
  if (!guards.empty()) {
    // Lifted only when a rule that covers the statement unlocks each of them explicitly.
    const Rule* blamed = nullptr;
    allow = unlockingRule(rules_, b, req, guards, blamed);
    if (allow == nullptr) {
      std::string what;
      (void)detail::guardrailMatches(*blamed, req, &what);
      return denyWith(blamed->id, blamed->reason, what + "; " + detail::describe(req));
    }
  }
  if (deny != nullptr) {
    return denyWith(deny->id, deny->reason, detail::describe(req));
  }
  if (review != nullptr && allow != nullptr) {  // asking is pointless when nothing would allow it
    Decision d;
    d.effect = Effect::kReview;
    d.rule_id = review->id;
    d.reason = review->reason;
    d.detail = detail::describe(req);
    d.review = &review->review;
    d.sqlstate = kDenied;
    applyModifiers(d, *review);
    return d;
  }
  if (allow == nullptr) {
    return denyWith("default-deny", "no rule allows this statement",
                    defaultDenyDetail(rules_, b, req));
  }
  Decision d;
  d.effect = Effect::kAllow;
  d.rule_id = allow->id;
  d.reason = allow->reason;
  applyModifiers(d, *allow);
  if (d.role.empty()) {
    d.role = b.session.role;
  }
  const sql::Statement& st = *req.stmt.stmt;
  if (d.row_limit > 0 && (st.tag == "DeclareCursorStmt" || st.kinds.has(sql::Kind::kCopyOut))) {
    // The gateway counts the DataRows of a result: a cursor's FETCHes are results of their own
    // and COPY TO STDOUT sends no DataRows, so either would carry rows past the limit.
    return denyWith("builtin:row-limit",
                    "a rule with a row limit allows neither cursors nor COPY TO (their rows "
                    "would escape the limit); use LIMIT, or a rule without row_limit",
                    "row_limit " + std::to_string(d.row_limit) + " of rule " +
                        std::string(d.rule_id) + "; " + detail::describe(req));
  }
  return d;
}

namespace {

Decision overLimit(const sql::Statement& st) {
  Decision d = denyWith("builtin:limits",
                        st.kind == sql::Kind::kPrepare
                            ? "too many prepared statements in this session; DEALLOCATE some first"
                            : "too many open cursors in this session; CLOSE some first",
                        "limits.max_prepared_statements");
  d.sqlstate = "54000";
  return d;
}

}  // namespace

Decision Policy::evaluateBatch(const Binding& b,
                               const std::shared_ptr<const sql::Classification>& c,
                               const sql::SessionContext& ctx,
                               std::chrono::system_clock::time_point now,
                               std::span<const std::string> granted) const {
  if (!c->status.isOk()) {
    Decision d;
    d.effect = Effect::kDeny;
    d.rule_id = "builtin:parse-error";
    d.reason = "the statement does not parse";
    d.sqlstate = kSyntax;
    d.parse_error = c->status.message();
    return d;
  }
  thread_local sql::Resolved resolved;
  Decision best;
  best.effect = Effect::kAllow;
  best.rule_id = "builtin:empty";
  best.reason = "empty query";
  const sql::SessionContext* cur = &ctx;
  std::optional<sql::SessionContext> scratch;  // only for batches whose statements change it
  for (size_t i = 0; i < c->statements.size(); ++i) {
    const sql::Statement& st = c->statements[i];
    cur->resolve(st, resolved);
    Decision d = cur->full(st) ? overLimit(st) : evaluate(b, Request{resolved, now, granted});
    d.statement_index = static_cast<int>(i);
    if (i == 0 || rank(d.effect) > rank(best.effect)) {
      best = std::move(d);
    } else if (d.effect == Effect::kAllow && best.effect == Effect::kAllow) {
      if (best.rule_id.starts_with("builtin:") && !d.rule_id.starts_with("builtin:")) {
        // Name the rule that allowed the substance of the batch, not its BEGIN.
        best.rule_id = d.rule_id;
        best.reason = d.reason;
        best.role = d.role;
        best.statement_index = d.statement_index;
      }
      if (d.row_limit > 0 && (best.row_limit == 0 || d.row_limit < best.row_limit)) {
        best.row_limit = d.row_limit;
      }
      best.read_only = best.read_only || d.read_only;
      if (best.mask_profile.empty()) {
        best.mask_profile = d.mask_profile;
      }
    }
    if (best.effect == Effect::kDeny) {
      break;  // nothing of the batch runs
    }
    if (i + 1 < c->statements.size()) {
      if (!scratch) {
        scratch.emplace(ctx);
        cur = &*scratch;
      }
      scratch->apply(st, c);
    }
  }
  return best;
}

Explanation Policy::explain(const identity::Identity& who, std::string_view resource,
                            const Request& req) const {
  Explanation ex;
  Binding b = bind(who, resource, req.now);
  ex.lines.push_back(detail::sessionLine(b));
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    std::string head = detail::ruleHead(r);
    std::string why;
    bool bound = std::find(b.rules().begin(), b.rules().end(), i) != b.rules().end();
    if (!bound) {
      ex.lines.push_back(head + "not applicable: " + detail::unboundWhy(r, who, resource));
      continue;
    }
    if (!req.stmt.known || req.stmt.stmt == nullptr) {
      ex.lines.push_back(head + "not evaluated (unknown prepared statement)");
      continue;
    }
    bool m;
    if (r.guardrail != Guardrail::kNone) {
      m = detail::guardrailMatches(r, req, &why);
      ex.lines.push_back(head + (m ? "MATCHED: " + why : "not matched"));
      continue;
    }
    auto mode = r.effect == Effect::kAllow ? detail::Mode::kCover : detail::Mode::kAny;
    m = detail::statementMatches(r, req, mode, &why);
    std::string granted = r.effect == Effect::kReview && isGranted(req, r.id) ? " (approved)" : "";
    ex.lines.push_back(head + (m ? "MATCHED" + granted : "not matched: " + why));
  }
  ex.decision = b.session.effect == Effect::kDeny ? b.session : evaluate(b, req);
  return ex;
}

}  // namespace jg::policy
