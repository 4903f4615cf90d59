// `jitgate request RESOURCE --role reader --for 1h --reason '...'`: asks ahead of time for a
// just-in-time grant on a resource (a session-scope review through the admin API), so the
// first connection does not have to wait. `jitgate request status ID` shows where it stands;
// `--wait` (on either) polls until the review is decided. Exit status: 0 created / approved,
// 1 refused, rejected, expired or still pending after --wait, 2 unusable input or gateway
// unreachable.
#include <boost/json.hpp>
#include <iostream>
#include <thread>

#include "access/api_client.h"
#include "access/repository.h"
#include "cli/command.h"
#include "config/node.h"

namespace jg::cli {
namespace {

namespace json = boost::json;

struct RequestOptions {
  access::ClientOptions client;
  std::string resource;
  std::string role;
  std::string duration;
  std::string reason;
  std::string rule;
  std::string id;
  std::string wait;  // empty: do not wait
  bool json = false;
};

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return {};
  }
  return v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
}

int fail(const Status& st) {
  std::cerr << "jitgate: " << st.message() << "\n";
  const bool usage = !access::isConflict(st) &&
                     (st.code() == Code::kUnavailable || st.code() == Code::kInvalidArgument);
  return usage ? 2 : 1;
}

void printStatus(const json::object& r) {
  const std::string state = str(r, "state");
  const auto& approvers = r.at("approvers").as_object();
  std::cout << "review " << str(r, "id") << ": " << state << " — " << str(r, "resource")
            << (str(r, "role").empty() ? "" : " as " + str(r, "role")) << ", "
            << str(r, "approvals") << " of " << str(approvers, "count") << " approvals\n";
  if (state == "pending") {
    std::cout << "  expires " << str(r, "expires_at") << " unless decided\n";
  }
  for (const auto& d : r.at("decisions").as_array()) {
    const auto& x = d.as_object();
    std::cout << "  " << str(x, "verdict") << " by " << str(x.at("approver").as_object(), "display")
              << (str(x, "comment").empty() ? "" : ": " + str(x, "comment")) << "\n";
  }
  if (!str(r, "grant_id").empty()) {
    std::cout << "  grant " << str(r, "grant_id") << "\n";
  }
}

int exitForState(const std::string& state) {
  return state == "approved" ? 0 : 1;
}

// Polls the review until it is decided or `wait` has passed.
Result<json::object> waitFor(access::ApiClient& client, const std::string& id,
                             const std::string& wait) {
  auto limit = config::parseDuration(wait);
  if (!limit) {
    return invalidArgument("--wait takes a duration such as 30s, 5m or 1h");
  }
  const auto deadline = std::chrono::steady_clock::now() + *limit;
  for (;;) {
    auto r = client.call("GET", "/api/v1/reviews/" + id);
    if (!r) {
      return r.status();
    }
    auto obj = r->as_object();
    if (str(obj, "state") != "pending" || std::chrono::steady_clock::now() >= deadline) {
      return obj;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

int create(const RequestOptions& o) {
  auto client = access::ApiClient::make(o.client);
  if (!client) {
    return fail(client.status());
  }
  json::object body{{"resource", o.resource}, {"reason", o.reason}};
  if (!o.role.empty()) {
    body["role"] = o.role;
  }
  if (!o.duration.empty()) {
    body["duration"] = o.duration;
  }
  if (!o.rule.empty()) {
    body["rule"] = o.rule;
  }
  auto res = client->call("POST", "/api/v1/reviews", body);
  if (!res) {
    return fail(res.status());
  }
  auto r = res->as_object();
  if (o.wait.empty()) {
    if (o.json) {
      std::cout << json::serialize(r) << "\n";
    } else {
      std::cout << "review " << str(r, "id") << " is " << str(r, "state") << " (rule "
                << str(r, "rule") << ")\n  " << str(r, "hint")
                << "\n  follow it with `jitgate request status " << str(r, "id") << "`\n";
    }
    return 0;
  }
  std::cerr << "waiting for approval of review " << str(r, "id") << ": " << str(r, "hint") << "\n";
  auto decided = waitFor(*client, str(r, "id"), o.wait);
  if (!decided) {
    return fail(decided.status());
  }
  o.json ? (void)(std::cout << json::serialize(*decided) << "\n") : printStatus(*decided);
  return exitForState(str(*decided, "state"));
}

int status(const RequestOptions& o) {
  auto client = access::ApiClient::make(o.client);
  if (!client) {
    return fail(client.status());
  }
  Result<json::object> r = Status::error(Code::kInternal, "");
  if (o.wait.empty()) {
    auto res = client->call("GET", "/api/v1/reviews/" + o.id);
    r = res ? Result<json::object>(res->as_object()) : Result<json::object>(res.status());
  } else {
    r = waitFor(*client, o.id, o.wait);
  }
  if (!r) {
    return fail(r.status());
  }
  o.json ? (void)(std::cout << json::serialize(*r) << "\n") : printStatus(*r);
  const std::string state = str(*r, "state");
  return state == "pending" && o.wait.empty() ? 0 : exitForState(state);
}

void addClientOptions(CLI::App* cmd, RequestOptions& o) {
  cmd->add_option("--gateway", o.client.gateway, "Admin API URL (http://host:port)")
      ->envname("JITGATE_ADMIN_URL");
  cmd->add_option("--token", o.client.token,
                  "OIDC access token (default: $JITGATE_TOKEN or the `jitgate login` cache)");
  cmd->add_option("-c,--config", o.client.config_file, "Gateway configuration (for listen.admin)");
  cmd->add_option("--wait", o.wait, "Wait up to this long for a decision (e.g. 10m)");
  cmd->add_flag("--json", o.json, "Print the API's JSON");
}

void addRequest(CLI::App& app) {
  auto o = std::make_shared<RequestOptions>();
  auto* cmd = app.add_subcommand(
      "request", "Ask ahead of time for access to a resource (approved by the policy's approvers)");
  cmd->add_option("resource", o->resource, "Resource (database) name");
  cmd->add_option("--role", o->role, "Role key (default: the rule's)");
  cmd->add_option("--for", o->duration, "Grant window, e.g. 30m or 1h (capped by the rule)");
  cmd->add_option("--reason", o->reason, "Why you need it (shown to approvers, audited)");
  cmd->add_option("--rule", o->rule,
                  "The review rule to ask under (default: the one that applies)");
  addClientOptions(cmd, *o);

  auto s = std::make_shared<RequestOptions>();
  auto* st = cmd->add_subcommand("status", "Show where a request stands");
  st->add_option("id", s->id, "Review id (r-...)")->required();
  addClientOptions(st, *s);
  st->callback([s] { setExitCode(status(*s)); });

  cmd->callback([o, st] {
    if (st->parsed()) {
      return;
    }
    if (o->resource.empty() || o->reason.empty()) {
      throw CLI::ValidationError("request", "RESOURCE and --reason are required");
    }
    setExitCode(create(*o));
  });
}

}  // namespace

JITGATE_COMMAND(addRequest);

}  // namespace jg::cli
