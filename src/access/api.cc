#include "access/api.h"

#include <boost/json.hpp>

#include "access/json.h"
#include "config/node.h"
#include "policy/rule.h"

namespace jg::access {
namespace {

namespace json = boost::json;

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    if (j > i) {
      out.emplace_back(path.substr(i, j - i));
    }
    i = j + 1;
  }
  return out;
}

// The JSON object body of a request; an empty body is an empty object.
std::optional<json::object> bodyObject(const ApiRequest& req) {
  if (req.body.empty()) {
    return json::object{};
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  return std::move(v.get_object());
}

std::string member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

size_t limitOf(const ApiRequest& req) {
  auto it = req.query.find("limit");
  if (it == req.query.end()) {
    return 100;
  }
  long n = std::strtol(it->second.c_str(), nullptr, 10);
  return static_cast<size_t>(std::clamp(n, 1L, 1000L));
}

std::string queryParam(const ApiRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

bool inAny(const identity::Identity& who, const std::vector<std::string>& groups) {
  for (const auto& g : groups) {
    if (who.inGroup(g)) {
      return true;
    }
  }
  return false;
}

ApiReply ok(json::value body, int status = 200) {
  return ApiReply{status, std::move(body)};
}

}  // namespace

Api::Api(std::shared_ptr<Broker> broker, PolicySource policy, const Clock& clock)
    : broker_(std::move(broker)), policy_(std::move(policy)), clock_(clock) {}

ApiReply Api::error(int status, std::string code, std::string message) {
  return ApiReply{status,
                  json::object{{"error", std::move(code)}, {"message", std::move(message)}}};
}

ApiReply Api::fromStatus(const Status& s) {
  if (isConflict(s)) {
    return error(409, "conflict", s.message());
  }
  switch (s.code()) {
    case Code::kNotFound:
      return error(404, "not_found", s.message());
    case Code::kPermissionDenied:
      return error(403, "forbidden", s.message());
    case Code::kInvalidArgument:
      return error(400, "bad_request", s.message());
    case Code::kUnavailable:
      return error(503, "unavailable", s.message());
    default:
      return error(500, "internal", s.message());
  }
}

bool Api::isApprover(const identity::Identity& who) const {
  auto p = policy_ ? policy_() : nullptr;
  if (!p) {
    return false;
  }
  for (uint32_t i = 0; i < p->ruleCount(); ++i) {
    const auto& r = p->rule(i);
    if (r.effect == policy::Effect::kReview && inAny(who, r.review.approver_groups)) {
      return true;
    }
  }
  return false;
}

std::optional<ApiReply> Api::handle(const ApiRequest& req, const identity::Identity& caller) {
  const auto parts = split(req.path);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1" ||
      (parts[2] != "reviews" && parts[2] != "grants")) {
    return std::nullopt;
  }
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  const bool reviews = parts[2] == "reviews";
  if (parts.size() == 3) {
    if (get) {
      return reviews ? listReviews(req, caller) : listGrants(req, caller);
    }
    if (post && reviews) {
      return createReview(req, caller);
    }
  } else if (parts.size() == 4 && get) {
    return reviews ? showReview(parts[3], caller) : showGrant(parts[3], caller);
  } else if (parts.size() == 5 && post) {
    if (reviews && (parts[4] == "approve" || parts[4] == "reject")) {
      return decide(parts[3], parts[4] == "approve", req, caller);
    }
    if (!reviews && parts[4] == "revoke") {
      return revoke(parts[3], req, caller);
    }
    return error(404, "not_found", "no such action: " + parts[4]);
  } else if (parts.size() > 5) {
    return error(404, "not_found", "no such resource: " + req.path);
  }
  return error(405, "method_not_allowed", req.method + " is not allowed on " + req.path);
}

ApiReply Api::listReviews(const ApiRequest& req, const identity::Identity& caller) {
  ReviewFilter f;
  f.limit = limitOf(req);
  f.resource = queryParam(req, "resource");
  if (auto s = queryParam(req, "state"); !s.empty()) {
    f.state = parseReviewState(s);
    if (!f.state) {
      return error(400, "bad_request", "unknown state '" + s + "'");
    }
  }
  const bool own = !isApprover(caller) || queryParam(req, "mine") == "true";
  if (own) {
    f.requester_subject = caller.subject;
  } else {
    f.requester_subject = queryParam(req, "requester");  // an approver's look at one person
  }
  auto list = broker_->listReviews(f);
  if (!list) {
    return fromStatus(list.status());
  }
  json::array items;
  for (const auto& r : *list) {
    if (!own || r.requester.issuer == caller.issuer) {
      items.push_back(toJson(r));
    }
  }
  return ok(json::object{{"reviews", std::move(items)}});
}

ApiReply Api::createReview(const ApiRequest& req, const identity::Identity& caller) {
  auto body = bodyObject(req);
  if (!body) {
    return error(400, "bad_request", "the body must be a JSON object");
  }
  ReviewRequest r;
  r.requester = caller;
  r.scope = Scope::kSession;
  r.resource = member(*body, "resource");
  r.role = member(*body, "role");
  r.reason = member(*body, "reason");
  r.client = req.client;
  if (r.resource.empty() || r.reason.empty()) {
    return error(400, "bad_request", "resource and reason are required");
  }
  if (const auto* d = body->if_contains("duration")) {
    std::optional<std::chrono::milliseconds> ms;
    if (d->is_string()) {
      ms = config::parseDuration(d->get_string());
    } else if (d->is_int64() && d->get_int64() > 0) {
      ms = std::chrono::seconds(d->get_int64());
    }
    if (!ms || ms->count() <= 0) {
      return error(400, "bad_request", "duration must be like \"30m\", \"1h\" or seconds");
    }
    r.duration = std::chrono::duration_cast<std::chrono::seconds>(*ms);
  }
  auto p = policy_ ? policy_() : nullptr;
  if (!p) {
    return error(503, "unavailable", "no policy is loaded");
  }
  const auto binding = p->bind(caller, r.resource, clock_.now());
  if (binding.session.effect == policy::Effect::kDeny) {
    return error(403, "forbidden", binding.session.message());
  }
  const std::string wanted = member(*body, "rule");
  const policy::Rule* chosen = nullptr;
  for (uint32_t i : binding.rules()) {
    const auto& rule = p->rule(i);
    if (rule.effect != policy::Effect::kReview || (!wanted.empty() && rule.id != wanted)) {
      continue;
    }
    const bool session_rule = rule.id == binding.session.rule_id;
    if (chosen == nullptr || session_rule) {
      chosen = &rule;
    }
  }
  if (chosen == nullptr) {
    return error(409, "conflict",
                 wanted.empty() ? "no review rule applies to you on " + r.resource +
                                      ": there is nothing to approve"
                                : "rule " + wanted + " does not apply to you on " + r.resource);
  }
  r.rule_id = chosen->id;
  r.spec = chosen->review;
  if (r.role.empty()) {
    r.role = std::string(chosen->role.empty() ? binding.session.role : chosen->role);
  }
  auto created = broker_->createReview(r);
  if (!created) {
    return fromStatus(created.status());
  }
  json::object out = toJson(*created);
  out["hint"] = broker_->approvalHint(created->id);
  return ok(std::move(out), 201);
}

ApiReply Api::showReview(const std::string& id, const identity::Identity& caller) {
  auto r = broker_->review(id);
  if (!r) {
    return fromStatus(r.status());
  }
  if (!*r) {
    return error(404, "not_found", "no review " + id);
  }
  if (!(*r)->requester.samePerson(Person::from(caller)) && !isApprover(caller) &&
      !inAny(caller, (*r)->approver_groups)) {
    return error(403, "forbidden", "review " + id + " is not yours and you are not an approver");
  }
  return ok(toJson(**r));
}

ApiReply Api::decide(const std::string& id, bool approve, const ApiRequest& req,
                     const identity::Identity& caller) {
  auto body = bodyObject(req);
  if (!body) {
    return error(400, "bad_request", "the body must be a JSON object");
  }
  const std::string comment = member(*body, "comment");
  auto r = approve ? broker_->approve(id, caller, comment) : broker_->reject(id, caller, comment);
  if (!r) {
    return fromStatus(r.status());
  }
  return ok(toJson(*r));
}

ApiReply Api::listGrants(const ApiRequest& req, const identity::Identity& caller) {
  GrantFilter f;
  f.limit = limitOf(req);
  f.resource = queryParam(req, "resource");
  if (auto s = queryParam(req, "state"); !s.empty()) {
    f.state = parseGrantState(s);
    if (!f.state) {
      return error(400, "bad_request", "unknown state '" + s + "'");
    }
  }
  if (!isApprover(caller) || queryParam(req, "mine") == "true") {
    f.grantee_subject = caller.subject;
  }
  auto list = broker_->listGrants(f);
  if (!list) {
    return fromStatus(list.status());
  }
  json::array items;
  for (const auto& g : *list) {
    if (f.grantee_subject.empty() || g.grantee.issuer == caller.issuer) {
      items.push_back(toJson(g));
    }
  }
  return ok(json::object{{"grants", std::move(items)}});
}

ApiReply Api::showGrant(const std::string& id, const identity::Identity& caller) {
  auto g = broker_->grant(id);
  if (!g) {
    return fromStatus(g.status());
  }
  if (!*g) {
    return error(404, "not_found", "no grant " + id);
  }
  if (!(*g)->grantee.samePerson(Person::from(caller)) && !isApprover(caller)) {
    return error(403, "forbidden", "grant " + id + " is not yours and you are not an approver");
  }
  return ok(toJson(**g));
}

ApiReply Api::revoke(const std::string& id, const ApiRequest& req,
                     const identity::Identity& caller) {
  auto body = bodyObject(req);
  if (!body) {
    return error(400, "bad_request", "the body must be a JSON object");
  }
  auto g = broker_->revokeGrant(id, caller, member(*body, "reason"));
  if (!g) {
    return fromStatus(g.status());
  }
  return ok(toJson(*g));
}

}  // namespace jg::access
