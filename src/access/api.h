// Api: the REST resources of just-in-time access (/api/v1/reviews, /api/v1/grants), independent
// of the HTTP transport. The admin listener (server/admin_api.h) authenticates the caller from
// the bearer token and hands each request here; unit tests call handle() directly.
//
//   GET  /api/v1/reviews[?state=&resource=&limit=]   approvers: all; others: their own
//   POST /api/v1/reviews                             ask ahead of time (session scope)
//        {"resource": "kb", "role": "reader", "duration": "1h", "reason": "...", "rule": "..."}
//   GET  /api/v1/reviews/{id}                        requester or approver
//   POST /api/v1/reviews/{id}/approve  {"comment"}   approver groups of the review, not self
//   POST /api/v1/reviews/{id}/reject   {"comment"}
//   GET  /api/v1/grants[?state=&resource=&limit=]    approvers: all; others: their own
//   GET  /api/v1/grants/{id}
//   POST /api/v1/grants/{id}/revoke    {"reason"}    grantee or the grant's approver groups
//
// Who is an approver: a member of the approver groups of any review rule of the current policy.
// Errors are {"error": "<code>", "message": "..."} with 400, 403, 404, 405, 409, 503.
// See docs/openapi.yaml. Thread-safe (the Broker is; the policy source must be).
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "access/broker.h"
#include "core/clock.h"
#include "identity/identity.h"
#include "policy/policy.h"

namespace jg::access {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::string body;
  ClientInfo client{};  // where the request came from (a review records it)
};

struct ApiReply {
  int status = 200;
  boost::json::value body;
};

// The current policy (reload-aware); may return null when none is loaded.
using PolicySource = std::function<std::shared_ptr<const policy::Policy>()>;

class Api {
 public:
  Api(std::shared_ptr<Broker> broker, PolicySource policy, const Clock& clock = Clock::system());

  // nullopt when the path is not one of this API's resources.
  std::optional<ApiReply> handle(const ApiRequest& req, const identity::Identity& caller);

  static ApiReply error(int status, std::string code, std::string message);
  // The HTTP answer for a refusal from the Broker.
  static ApiReply fromStatus(const Status& s);
  // Member of the approver groups of some review rule of the current policy.
  bool isApprover(const identity::Identity& who) const;

 private:
  ApiReply listReviews(const ApiRequest& req, const identity::Identity& caller);
  ApiReply createReview(const ApiRequest& req, const identity::Identity& caller);
  ApiReply showReview(const std::string& id, const identity::Identity& caller);
  ApiReply decide(const std::string& id, bool approve, const ApiRequest& req,
                  const identity::Identity& caller);
  ApiReply listGrants(const ApiRequest& req, const identity::Identity& caller);
  ApiReply showGrant(const std::string& id, const identity::Identity& caller);
  ApiReply revoke(const std::string& id, const ApiRequest& req, const identity::Identity& caller);

  std::shared_ptr<Broker> broker_;
  PolicySource policy_;
  const Clock& clock_;
};

}  // namespace jg::access
