// Value types of just-in-time access: reviews (a request for approval and its decisions),
// grants (an approved session review: identity × resource × role × window), the request that
// creates a review, list filters, and the events the Broker reports to the audit log.
//
// Plain values, copyable; thread-compatible. Times are wall-clock (jg::Clock); a zero time point
// means "not set".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "identity/identity.h"
#include "policy/policy.h"

namespace jg::access {

using TimePoint = std::chrono::system_clock::time_point;

enum class ReviewState { kPending, kApproved, kRejected, kExpired, kRevoked };
enum class Scope { kSession, kStatement };
enum class GrantState { kActive, kExpired, kRevoked };

std::string_view stateName(ReviewState s);
std::optional<ReviewState> parseReviewState(std::string_view s);
std::string_view scopeName(Scope s);
std::string_view grantStateName(GrantState s);
std::optional<GrantState> parseGrantState(std::string_view s);

// Who asked or who decided: the non-secret claims of an identity.
struct Person {
  std::string issuer;
  std::string subject;
  std::string email;
  std::string name;
  std::vector<std::string> groups;

  static Person from(const identity::Identity& id);
  const std::string& display() const { return email.empty() ? subject : email; }
  // Same person: same issuer and subject, or the same (non-empty, case-insensitive) email.
  bool samePerson(const Person& other) const;
};

// Where a request for access came from, as the gateway saw it: the client's address and the
// application it named (PostgreSQL: the application_name startup parameter; HTTP: the
// X-Jitgate-Application header, else User-Agent). Both informational: a client chooses its
// application name. Empty when not known.
struct ClientInfo {
  std::string address{};  // "203.0.113.7:51234"
  std::string application{};
};

struct ReviewDecision {
  Person approver;
  bool approve = false;
  std::string comment;
  TimePoint at;
};

struct Review {
  std::string id;  // "r-k3x9q2m7ab4c"
  Scope scope = Scope::kSession;
  ReviewState state = ReviewState::kPending;
  Person requester;
  std::string resource;
  std::string role;  // session scope; may be empty (the rule's role)
  std::string rule_id;
  std::string reason;
  // Statement scope: exactly what may run.
  std::string statement_text;
  std::string fingerprint;
  std::string params_hash;
  std::string session_id;  // the session that asked, when one did
  ClientInfo client;       // where the requester asked from
  // What approval needs, copied from the policy rule when the review was created.
  std::vector<std::string> approver_groups;
  int approver_count = 1;
  std::chrono::seconds grant_duration{0};  // session scope: length of the grant window
  policy::ReviewSpec::Mode mode = policy::ReviewSpec::Mode::kWait;
  TimePoint created_at;
  TimePoint expires_at;   // a pending review expires here
  TimePoint decided_at;   // approved, rejected or expired
  TimePoint valid_until;  // statement scope, approved: the approval may be used until then
  TimePoint consumed_at;  // statement scope: when the approved statement ran
  std::string grant_id;   // session scope, approved
  std::vector<ReviewDecision> decisions;

  int approvals() const;
};

struct Grant {
  std::string id;  // "g-..."
  std::string review_id;
  GrantState state = GrantState::kActive;
  Person grantee;
  std::string resource;
  std::string role;
  std::string rule_id;
  std::vector<std::string> approver_groups;  // who may revoke it (besides the grantee)
  TimePoint starts_at;
  TimePoint expires_at;
  TimePoint ended_at;    // expired or revoked
  std::string ended_by;  // display of who revoked it
  std::string end_reason;
};

// What a session (or `jitgate request`) asks for. See Broker::createReview.
struct ReviewRequest {
  identity::Identity requester;
  Scope scope = Scope::kSession;
  std::string resource;
  std::string role;
  std::string rule_id;
  std::string reason;
  policy::ReviewSpec spec;
  // Session scope: asked window (zero: the rule's `grant`); never longer than the rule allows.
  std::chrono::seconds duration{0};
  // Statement scope.
  std::string statement_text;
  std::string fingerprint;
  std::string params_hash;
  std::string session_id;
  ClientInfo client;
};

struct ReviewFilter {
  std::optional<ReviewState> state;
  std::string requester_subject;  // empty: anyone
  std::string resource;           // empty: any
  size_t limit = 100;
};

struct GrantFilter {
  std::optional<GrantState> state;
  std::string grantee_subject;
  std::string resource;
  size_t limit = 100;
};

// One thing that happened, for the audit log and for notifications.
struct AccessEvent {
  enum class Type {
    kReviewCreated,
    kReviewApproval,  // one approver said yes (the review may still need more)
    kReviewApproved,  // the review reached its count
    kReviewRejected,
    kReviewExpired,
    kGrantCreated,
    kGrantExpired,
    kGrantRevoked,
    kStatementApprovalUsed,
  };
  Type type;
  TimePoint at;
  std::optional<Person> actor;  // who approved, rejected or revoked; empty for timers
  std::string comment;
  std::optional<Review> review;
  std::optional<Grant> grant;
};

// "review.created", "review.approval", "review.approved", "review.rejected", "review.expired",
// "grant.created", "grant.expired", "grant.revoked", "statement_approval.used".
std::string_view eventName(AccessEvent::Type t);

}  // namespace jg::access
