// Gate: the protocol-neutral decision for one request.
//
//   identity × resource (the policy Binding) × request × time × grants  →  Verdict
//
// decide() is pure: no I/O, no clock, no sockets; the same inputs give the same Verdict. A
// Verdict of kReview is settled by settle(), which consumes an approval, finds a session grant,
// or creates the review, through the Approvals interface the front end supplies (off its I/O
// thread: those calls reach the state store). The front end then maps the Verdict to its
// protocol (PostgreSQL: server/refusal.h) and records it in the audit log with the protocol's
// own facts (statement name, resolved tables, HTTP route).
//
// Today's request kind is SQL (a classification from sql::Classifier); an HTTP front end adds its
// own request description and reuses everything else.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gate/approvals.h"
#include "gate/verdict.h"
#include "policy/policy.h"
#include "sql/session_context.h"
#include "sql/statement.h"

namespace jg::gate {

using TimePoint = std::chrono::system_clock::time_point;

// Who asks, as the policy bound them at connect time, and the review rules their active grants
// unlock.
struct Caller {
  const policy::Binding& binding;
  std::span<const std::string> granted;
};

// One SQL request: a batch of statements as the session will run it.
struct SqlRequest {
  std::shared_ptr<const sql::Classification> classification;
  const sql::SessionContext& context;  // names resolve as in the session, before this request
  std::string_view text;
  // A named prepared statement may run many times; a one-time approval cannot cover it.
  bool reusable = false;
};

class Gate {
 public:
  explicit Gate(const policy::Policy& policy) : policy_(policy) {}

  Verdict decide(const Caller& caller, const SqlRequest& request, TimePoint now) const;
  // Decides again, at execution, each statement a prepared statement or portal may run (a time
  // window may have closed, or names resolve differently now). The first refusal wins.
  Verdict decideAgain(const Caller& caller,
                      std::span<const std::shared_ptr<const sql::Classification>> statements,
                      const sql::SessionContext& context, TimePoint now) const;
  // True when settle() has work to do (it then calls `approvals`).
  static bool needsSettling(const Verdict& v);
  // Settles a kReview verdict: statement scope consumes a matching approval (→ kAllow) or
  // creates the review (kReview with its id; `hold` in wait mode); session scope finds an active
  // grant and decides again with it. Without `approvals` (no state store) it is refused.
  Verdict settle(Verdict v, const Caller& caller, const SqlRequest& request, Approvals* approvals,
                 TimePoint now) const;

 private:
  Verdict fromDecision(policy::Decision d, const SqlRequest& request) const;
  Verdict settleStatement(Verdict v, const SqlRequest& request, Approvals& approvals) const;

  const policy::Policy& policy_;
};

// The key a one-time approval of `text` must match.
ApprovalKey approvalKey(const sql::Classification& c, std::string_view text);

}  // namespace jg::gate
