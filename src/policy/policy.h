// Policy: the compiled, immutable access rules of the gateway, and their evaluation.
//
// Built once from the `policies:` section of the configuration (Policy::compile) and shared by
// every session through a shared_ptr; a reload (SIGHUP) compiles a new Policy and the server
// swaps the pointer atomically — sessions keep the Policy they bound to until they rebind.
// Evaluation is const and thread-safe.
//
// Two levels of decision:
//  - bind(identity, resource): once per session — which rules apply to this caller on this
//    resource, and whether the session may start (allow with a role, review, or deny);
//  - evaluate(binding, request): per statement, over a cached Statement and the tables the
//    session resolved. The allow path allocates nothing: a Decision points into the Policy
//    (rule id, reason, role, mask profile), so the Policy must outlive its Decisions.
// Order: a built-in guardrail or a deny rule beats review, review beats allow, and no matching
// rule means deny. HTTP requests (http.h) are decided by evaluateHttp on the same Binding.
// See docs/policy.md for the file format and matching semantics.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/node.h"
#include "identity/identity.h"
#include "policy/http.h"
#include "sql/session_context.h"
#include "sql/statement.h"

namespace jg::policy {

enum class Effect { kAllow, kDeny, kReview };
std::string_view effectName(Effect e);

struct ReviewSpec {
  enum class Mode { kWait, kFailFast };       // hold the statement until decided, or fail now
  enum class Scope { kStatement, kSession };  // approve this statement, or the whole session
  std::vector<std::string> approver_groups;
  int approver_count = 1;
  std::chrono::seconds grant{3600};  // how long an approval lasts
  Mode mode = Mode::kWait;
  Scope scope = Scope::kStatement;
};

struct Decision {
  Effect effect = Effect::kDeny;
  std::string_view rule_id;   // e.g. "pipeline-read", "builtin:do-block", "default-deny"
  std::string_view reason;    // for people; part of the error message
  std::string detail;         // what matched (deny and review only): "kind delete; table crm.x"
  std::string_view sqlstate;  // "42501" for denials, "42601" for statements that do not parse
  std::string parse_error;    // the parser's message when sqlstate is 42601
  // Modifiers of an allowed (or approved) statement.
  std::string_view role;          // role key for the upstream credential ("reader")
  std::string_view mask_profile;  // empty = default masking
  int64_t row_limit = 0;          // 0 = no limit
  bool read_only = false;
  // HTTP response limits of the deciding allow rule (on review: of the rule that allows the
  // request once approved).
  int64_t max_items = 0;               // 0 = none
  std::string_view items_path;         // JSON path of the array max_items counts ("$.result");
                                       // empty = the top-level array
  int64_t max_response_bytes = 0;      // 0 = none
  const ReviewSpec* review = nullptr;  // effect == kReview: what the approval flow needs
  int statement_index = -1;            // in a batch: the statement that decided

  bool allowed() const { return effect == Effect::kAllow; }
  // "denied by rule <id>: <reason>" (or "review required by rule ...").
  std::string message() const;
};

// What the session level decided, plus the rules that apply to this identity and resource.
class Binding {
 public:
  Decision session;  // allow (with role), review (scope: session) or deny
  const std::vector<uint32_t>& rules() const { return rules_; }

 private:
  friend class Policy;
  std::vector<uint32_t> rules_;  // indices into the Policy's rules, guardrails first
};

struct Request {
  const sql::Resolved& stmt;  // statement and schema-qualified tables (SessionContext::resolve)
  std::chrono::system_clock::time_point now;
  std::span<const std::string> granted = {};  // ids of review rules with an active approval
};

// Why each rule did or did not match one request: `jitgate policy explain`.
struct Explanation {
  Decision decision;
  std::vector<std::string> lines;  // one per rule, in evaluation order
};

struct Rule;  // compiled rule (rule.h)

class Policy {
 public:
  // Compiles the `policies:` sequence. Problems are reported into `errors` (file, line, key);
  // returns an error status when there is any, and the caller keeps its previous Policy.
  static Result<std::shared_ptr<const Policy>> compile(const config::Node& policies,
                                                       config::Errors& errors);
  ~Policy();

  Binding bind(const identity::Identity& who, std::string_view resource,
               std::chrono::system_clock::time_point now) const;
  Decision evaluate(const Binding& b, const Request& r) const;
  // Classifies nothing: evaluates every statement of `c` in order, each resolved in `ctx` as
  // changed by the statements before it (on a scratch copy: `ctx` itself is not changed). The
  // most restrictive decision wins. The caller applies the batch (ctx.applyAll) only when it
  // runs, so a refused batch leaves no trace. A statement that would create a prepared statement
  // or cursor past the session's limit is denied (54000).
  Decision evaluateBatch(const Binding& b, const std::shared_ptr<const sql::Classification>& c,
                         const sql::SessionContext& ctx, std::chrono::system_clock::time_point now,
                         std::span<const std::string> granted = {}) const;
  Explanation explain(const identity::Identity& who, std::string_view resource,
                      const Request& r) const;

  // One HTTP request on a resource bound with bind(). Guardrails and builtin:session are SQL
  // only; a rule with statement conditions never matches HTTP, a rule with HTTP conditions never
  // matches SQL. A default deny names, in `detail`, the condition the closest allow rule failed.
  Decision evaluateHttp(const Binding& b, const HttpRequest& r) const;
  Explanation explainHttp(const identity::Identity& who, std::string_view resource,
                          const HttpRequest& r) const;

  // True when some rule has a time window: a decision taken at Parse may not hold at Execute.
  bool timeDependent() const { return time_dependent_; }

  size_t ruleCount() const;
  const Rule& rule(uint32_t index) const;

 private:
  Policy();
  std::string closestMiss(const Binding& b, const HttpRequest& r) const;
  std::vector<Rule> rules_;
  bool time_dependent_ = false;
};

}  // namespace jg::policy
