#include "access/json.h"

#include "access/broker.h"
#include "core/duration.h"

namespace jg::access {
namespace {

namespace json = boost::json;

void putTime(json::object& o, std::string_view key, TimePoint t) {
  if (t != TimePoint{}) {
    o[key] = formatUtc(t);
  }
}

json::array strings(const std::vector<std::string>& items) {
  return json::array(items.begin(), items.end());
}

// " from 203.0.113.7:51234 (psql)", or "" when the client is not known.
std::string from(const ClientInfo& c) {
  if (c.address.empty() && c.application.empty()) {
    return "";
  }
  std::string app = c.application.empty() ? "" : "(" + c.application + ")";
  return " from " + (c.address.empty() ? app : c.address + (app.empty() ? "" : " " + app));
}

}  // namespace

json::object toJson(const Person& p) {
  json::object o{{"issuer", p.issuer}, {"subject", p.subject}, {"display", p.display()}};
  if (!p.email.empty()) {
    o["email"] = p.email;
  }
  if (!p.name.empty()) {
    o["name"] = p.name;
  }
  if (!p.groups.empty()) {
    o["groups"] = strings(p.groups);
  }
  return o;
}

json::object toJson(const Review& r) {
  json::object o{{"id", r.id},
                 {"scope", scopeName(r.scope)},
                 {"state", stateName(r.state)},
                 {"requester", toJson(r.requester)},
                 {"resource", r.resource},
                 {"role", r.role},
                 {"rule", r.rule_id},
                 {"reason", r.reason},
                 {"approvers", json::object{{"groups", strings(r.approver_groups)},
                                            {"count", r.approver_count}}},
                 {"approvals", r.approvals()},
                 {"mode", r.mode == policy::ReviewSpec::Mode::kFailFast ? "fail_fast" : "wait"}};
  if (r.scope == Scope::kSession) {
    o["grant_duration"] = formatDuration(r.grant_duration);
    o["grant_duration_seconds"] = r.grant_duration.count();
  } else {
    o["statement"] = json::object{
        {"text", r.statement_text}, {"fingerprint", r.fingerprint}, {"params_hash", r.params_hash}};
  }
  if (!r.session_id.empty()) {
    o["session_id"] = r.session_id;
  }
  if (!r.client.address.empty() || !r.client.application.empty()) {
    o["client"] =
        json::object{{"address", r.client.address}, {"application", r.client.application}};
  }
  putTime(o, "created_at", r.created_at);
  putTime(o, "expires_at", r.expires_at);
  putTime(o, "decided_at", r.decided_at);
  putTime(o, "valid_until", r.valid_until);
  putTime(o, "consumed_at", r.consumed_at);
  if (!r.grant_id.empty()) {
    o["grant_id"] = r.grant_id;
  }
  json::array decisions;
  for (const auto& d : r.decisions) {
    json::object x{{"approver", toJson(d.approver)},
                   {"verdict", d.approve ? "approve" : "reject"},
                   {"comment", d.comment}};
    putTime(x, "at", d.at);
    decisions.push_back(std::move(x));
  }
  o["decisions"] = std::move(decisions);
  return o;
}

json::object toJson(const Grant& g) {
  json::object o{{"id", g.id},
                 {"review_id", g.review_id},
                 {"state", grantStateName(g.state)},
                 {"grantee", toJson(g.grantee)},
                 {"resource", g.resource},
                 {"role", g.role},
                 {"rule", g.rule_id},
                 {"approver_groups", strings(g.approver_groups)}};
  putTime(o, "starts_at", g.starts_at);
  putTime(o, "expires_at", g.expires_at);
  putTime(o, "ended_at", g.ended_at);
  if (!g.ended_by.empty()) {
    o["ended_by"] = g.ended_by;
  }
  if (!g.end_reason.empty()) {
    o["end_reason"] = g.end_reason;
  }
  return o;
}

json::object toJson(const AccessEvent& e) {
  json::object o{{"event", eventName(e.type)}};
  putTime(o, "time", e.at);
  if (e.actor) {
    o["actor"] = toJson(*e.actor);
  }
  if (!e.comment.empty()) {
    o["comment"] = e.comment;
  }
  if (e.review) {
    o["review"] = toJson(*e.review);
  }
  if (e.grant) {
    o["grant"] = toJson(*e.grant);
  }
  o["summary"] = summary(e);
  return o;
}

std::string summary(const AccessEvent& e) {
  const std::string actor = e.actor ? e.actor->display() : std::string("jitgate");
  const std::string comment = e.comment.empty() ? "" : " (\"" + e.comment + "\")";
  auto what = [](const Review& r) {
    std::string s = r.scope == Scope::kSession
                        ? "access to " + r.resource + (r.role.empty() ? "" : " as " + r.role) +
                              " for " + formatDuration(r.grant_duration)
                        : "a statement on " + r.resource + ": " + r.statement_text.substr(0, 200);
    return s;
  };
  switch (e.type) {
    case AccessEvent::Type::kReviewCreated:
      return e.review->requester.display() + from(e.review->client) + " asks for " +
             what(*e.review) + " — review " + e.review->id + " (rule " + e.review->rule_id + ")" +
             (e.review->reason.empty() ? "" : ": " + e.review->reason);
    case AccessEvent::Type::kReviewApproval:
      return actor + " approved review " + e.review->id + comment + "; " +
             std::to_string(e.review->approvals()) + " of " +
             std::to_string(e.review->approver_count) + " approvals";
    case AccessEvent::Type::kReviewApproved:
    case AccessEvent::Type::kReviewRejected:
    case AccessEvent::Type::kReviewExpired:
      return describeDecision(*e.review);
    case AccessEvent::Type::kGrantCreated:
      return "grant " + e.grant->id + ": " + e.grant->grantee.display() + " may use " +
             e.grant->resource + " until " + formatUtc(e.grant->expires_at);
    case AccessEvent::Type::kGrantExpired:
      return "grant " + e.grant->id + " of " + e.grant->grantee.display() + " on " +
             e.grant->resource + " expired";
    case AccessEvent::Type::kGrantRevoked:
      return actor + " revoked grant " + e.grant->id + " of " + e.grant->grantee.display() +
             " on " + e.grant->resource + comment;
    case AccessEvent::Type::kStatementApprovalUsed:
      return actor + " ran the statement approved by review " + e.review->id;
  }
  return std::string(eventName(e.type));
}

}  // namespace jg::access
