// Repository: the reviews, decisions and grants tables of the state store, and every state
// transition on them as one store transaction.
//
// Transitions are conditional updates on the expected state (`... WHERE id = ? AND state =
// 'pending'`), checked by the number of changed rows, so two gateways (or two threads) deciding
// the same review cannot both win: the database resolves the race. On PostgreSQL the review row
// is also locked (SELECT ... FOR UPDATE) while approvals are counted.
//
// Every transition other replicas must hear of (a review decided or expired, a grant revoked or
// expired) publishes a store event (kReviewEvent / kGrantEvent with the id) as the last step of
// its transaction; see store::Tx::publish.
//
// Times are stored as Unix milliseconds. The schema is migrated as the store component
// "access" (see kMigrations in repository.cc; the list is only ever appended to).
//
// Thread-safe (the Store serializes transactions). Not for direct use by the server: the
// Broker wraps it with notifications, waiters and timers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "access/types.h"
#include "core/status.h"
#include "store/store.h"

namespace jg::access {

// SQLSTATE carried by refusals that mean "not in a state that allows this" (HTTP 409).
inline constexpr std::string_view kConflictState = "55000";
Status conflict(std::string message);

// Store event kinds (store::StoreEvent::kind); the ref is the review or grant id.
inline constexpr std::string_view kReviewEvent = "review";
inline constexpr std::string_view kGrantEvent = "grant";
bool isConflict(const Status& s);

// What deciding a review did. `status` is the refusal, when there is one; the transaction still
// commits what it found out (a review found past its expiry is marked expired).
struct DecideOutcome {
  Status status;
  Review review;               // the review after the decision (valid unless not found)
  std::optional<Grant> grant;  // created when a session review reached its approvals
  bool finalized = false;      // this decision approved or rejected the review
  bool expired = false;        // the review was found past its expiry and is now expired
};

struct RevokeOutcome {
  Status status;
  Grant grant;
  bool expired = false;  // found past its window and marked expired instead
};

class Repository {
 public:
  // Migrates the "access" component. `store` must outlive the Repository.
  static Result<std::unique_ptr<Repository>> open(store::Store& store);

  // Inserts `review` (id, times and requester set by the caller) unless a pending review with
  // the same request key exists; returns the review that is pending for that key.
  Result<Review> insertOrGetPending(const Review& review, const std::string& request_key);
  Result<std::optional<Review>> review(const std::string& id);
  Result<std::optional<Grant>> grant(const std::string& id);

  // Records one approval or rejection. Enforces: pending and not past expiry, not the
  // requester, member of one approver group, one decision per approver.
  // `statement_validity`: how long an approved statement review stays usable.
  Result<DecideOutcome> decide(const std::string& id, const ReviewDecision& decision, TimePoint now,
                               std::chrono::seconds statement_validity);
  // Revokes an active grant; allowed to the grantee and to members of its approver groups.
  Result<RevokeOutcome> revoke(const std::string& grant_id, const Person& by,
                               const std::string& reason, TimePoint now);

  Result<std::optional<Grant>> activeGrant(const std::string& issuer, const std::string& subject,
                                           const std::string& resource, const std::string& role,
                                           TimePoint now);
  Result<std::vector<Grant>> activeGrants(const std::string& issuer, const std::string& subject,
                                          const std::string& resource, TimePoint now);
  // Marks the oldest usable approval for exactly this statement as consumed and returns it.
  Result<std::optional<Review>> consumeStatement(const std::string& issuer,
                                                 const std::string& subject,
                                                 const std::string& resource,
                                                 const std::string& fingerprint,
                                                 const std::string& params_hash, TimePoint now);

  // Moves pending reviews past their expiry to expired; returns those this call moved.
  Result<std::vector<Review>> expirePending(TimePoint now);
  // Moves active grants past their window to expired; returns those this call moved.
  Result<std::vector<Grant>> expireGrants(TimePoint now);
  // The earliest expiry among pending reviews and active grants (nullopt: none).
  Result<std::optional<TimePoint>> nextDeadline();

  Result<std::vector<Review>> listReviews(const ReviewFilter& f);
  Result<std::vector<Grant>> listGrants(const GrantFilter& f);

 private:
  explicit Repository(store::Store& store) : store_(store) {}
  std::string lockClause() const;

  store::Store& store_;
};

// A stable key for "the same request": requester, scope, resource, role, rule and statement.
std::string requestKey(const Review& r);

}  // namespace jg::access
