// Approvals: the narrow interface through which the gate uses just-in-time access.
//
// The gate itself does no I/O. When a decision needs the approval store (a one-time approval to
// consume, a review to create, a session grant to look up), the front end calls Gate::settle
// with an Approvals implementation; over the state store those calls block, so the front end
// runs settle off its I/O thread. Tests supply an in-memory implementation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gate/verdict.h"
#include "policy/policy.h"

namespace jg::gate {

// A review the gate asks for.
struct ReviewDraft {
  enum class Scope { kStatement, kSession };
  Scope scope = Scope::kStatement;
  std::string_view rule_id;
  std::string_view reason;
  std::string_view role;
  const policy::ReviewSpec* spec = nullptr;
  std::string_view text;  // the request as an approver reads it (SQL text, HTTP request line)
  ApprovalKey key;
};

struct CreatedReview {
  std::string id;
  std::string hint;  // how an approver decides it ("jitgate review approve r-...")
};

class Approvals {
 public:
  virtual ~Approvals() = default;
  // Consumes a one-time approval for exactly `key`; returns the approved review's id.
  virtual std::optional<std::string> consume(const ApprovalKey& key) = 0;
  // Creates a pending review (or returns the pending one for the same request).
  virtual Result<CreatedReview> create(const ReviewDraft& draft) = 0;
  // An active session grant for `role` (empty: any role).
  virtual std::optional<GrantInfo> activeGrant(std::string_view role) = 0;
};

}  // namespace jg::gate
