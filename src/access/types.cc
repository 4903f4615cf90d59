#include "access/types.h"

#include <algorithm>
#include <cctype>

namespace jg::access {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

constexpr std::string_view kReviewStates[] = {"pending", "approved", "rejected", "expired",
                                              "revoked"};
constexpr std::string_view kGrantStates[] = {"active", "expired", "revoked"};

}  // namespace

std::string_view stateName(ReviewState s) {
  return kReviewStates[static_cast<int>(s)];
}

std::optional<ReviewState> parseReviewState(std::string_view s) {
  for (size_t i = 0; i < std::size(kReviewStates); ++i) {
    if (kReviewStates[i] == s) {
      return static_cast<ReviewState>(i);
    }
  }
  return std::nullopt;
}

std::string_view scopeName(Scope s) {
  return s == Scope::kSession ? "session" : "statement";
}

std::string_view grantStateName(GrantState s) {
  return kGrantStates[static_cast<int>(s)];
}

std::optional<GrantState> parseGrantState(std::string_view s) {
  for (size_t i = 0; i < std::size(kGrantStates); ++i) {
    if (kGrantStates[i] == s) {
      return static_cast<GrantState>(i);
    }
  }
  return std::nullopt;
}

Person Person::from(const identity::Identity& id) {
  return Person{id.issuer, id.subject, id.email, id.name, id.groups};
}

bool Person::samePerson(const Person& other) const {
  if (issuer == other.issuer && subject == other.subject) {
    return true;
  }
  return !email.empty() && lower(email) == lower(other.email);
}

int Review::approvals() const {
  return static_cast<int>(
      std::count_if(decisions.begin(), decisions.end(), [](const auto& d) { return d.approve; }));
}

std::string_view eventName(AccessEvent::Type t) {
  switch (t) {
    case AccessEvent::Type::kReviewCreated:
      return "review.created";
    case AccessEvent::Type::kReviewApproval:
      return "review.approval";
    case AccessEvent::Type::kReviewApproved:
      return "review.approved";
    case AccessEvent::Type::kReviewRejected:
      return "review.rejected";
    case AccessEvent::Type::kReviewExpired:
      return "review.expired";
    case AccessEvent::Type::kGrantCreated:
      return "grant.created";
    case AccessEvent::Type::kGrantExpired:
      return "grant.expired";
    case AccessEvent::Type::kGrantRevoked:
      return "grant.revoked";
    case AccessEvent::Type::kStatementApprovalUsed:
      return "statement_approval.used";
  }
  return "unknown";
}

}  // namespace jg::access
