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
// Two request kinds share the flow: SQL (a classification from sql::Classifier) and HTTP (the
// request facts the HTTP front end builds, policy/http.h). Both bind the same policy::Binding.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gate/approvals.h"
#include "gate/verdict.h"
#include "policy/http.h"
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

// One HTTP request. The facts and the text must outlive the call.
struct HttpRequest {
  const policy::HttpFacts& facts;
  std::string_view
      text;  // the request as an approver reads it: "POST /kb/collections/x/points/search"
             // plus the body (the front end builds it, bounded)
  std::string_view body_digest;  // SHA-256 hex of the raw body bytes ("" if none)
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

  // The same for one HTTP request (Policy::evaluateHttp). An allow carries the deciding rule's
  // response limits (max_items, items_path, max_response_bytes).
  Verdict decide(const Caller& caller, const HttpRequest& request, TimePoint now) const;
  // Statement scope consumes a one-time approval of exactly this request (approvalKey below:
  // method, path, query and body) or creates the review with `request.text`; session scope finds
  // an active grant, as for SQL.
  Verdict settle(Verdict v, const Caller& caller, const HttpRequest& request, Approvals* approvals,
                 TimePoint now) const;

 private:
  const policy::Policy& policy_;
};

// The key a one-time approval of `text` must match.
ApprovalKey approvalKey(const sql::Classification& c, std::string_view text);
// The key a one-time approval of this exact HTTP request must match: the fingerprint is
// "http:<METHOD> <path>" (the literal path), the params_hash a SHA-256 over the method, the
// path, every query parameter in order and the body digest, each length-prefixed.
ApprovalKey approvalKey(const policy::HttpFacts& facts, std::string_view body_digest);

}  // namespace jg::gate
