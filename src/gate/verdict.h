// Verdict: what the gate decided about one request, in terms every front end can map.
//
// The PostgreSQL front end turns a refusal into an ErrorResponse with a SQLSTATE
// (server/refusal.h); an HTTP front end turns it into a status and a problem+json body. The
// policy's own Decision travels with the Verdict, for the audit record.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/policy.h"

namespace jg::gate {

enum class Outcome {
  kAllow,   // run it, with the modifiers below
  kReview,  // needs a person's approval first: a review exists (review_id)
  kDeny,    // refused: `refusal` says why
};

// Why a request was not allowed. PostgreSQL / HTTP mapping in brackets.
enum class Refusal {
  kNone,
  kForbidden,       // a rule, a guardrail or no rule at all (42501 / 403)
  kNeedsApproval,   // a review is required and none could be used (42501 / 403)
  kInvalidRequest,  // the request does not parse (42601 / 400)
  kLimit,           // a per-session limit (54000 / 429)
  kUnknownName,     // a prepared statement or portal the gateway does not know (26000, 34000 / 404)
  kAborted,         // the transaction failed earlier (25P02 / 409)
  kUnrecorded,      // the audit log cannot be written (58030 / 503)
  kInternal,        // the gateway cannot apply its own configuration (XX000 / 500)
};
std::string_view refusalName(Refusal r);

// A grant that admits the caller (session-scope review).
struct GrantInfo {
  std::string id;
  std::string rule_id;
  std::chrono::system_clock::time_point expires_at;
};

// Identifies "exactly this request" for a one-time approval: the statements' fingerprints, and
// a digest of the text standing in for the literals the fingerprint normalizes away.
struct ApprovalKey {
  std::string fingerprint;
  std::string params_hash;
};

struct Verdict {
  Outcome outcome = Outcome::kDeny;
  Refusal refusal = Refusal::kForbidden;
  policy::Decision decision;  // what the policy said; rule, reason, role, modifiers
  std::string message;        // for the caller: why it was refused or held
  std::string detail;         // what matched, or what to do about it

  // kAllow: modifiers.
  int64_t row_limit = 0;  // 0 = none
  std::string row_limit_by;
  // HTTP: the response limits of the deciding allow rule (0 / empty = none).
  int64_t max_items = 0;
  std::string items_path;  // JSON path of the array max_items counts; empty = the top level
  int64_t max_response_bytes = 0;
  std::string approval;            // the approval this run consumed (statement scope)
  std::optional<GrantInfo> grant;  // a session grant found while settling; the caller attaches it

  // kReview: the review to wait for.
  std::string review_id;
  std::string approval_hint;  // how an approver decides it
  bool hold = false;          // wait mode: hold the request until decided
  ApprovalKey key;            // what the approval, once given, must match

  bool allowed() const { return outcome == Outcome::kAllow; }
  std::string_view ruleId() const { return decision.rule_id; }

  static Verdict refuse(Refusal why, std::string_view rule_id, std::string message,
                        std::string detail = {});
};

}  // namespace jg::gate
