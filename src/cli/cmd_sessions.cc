// `jitgate sessions list` and `jitgate sessions end ID`: the live client sessions of a running
// gateway, and ending one (like pgbouncer's SHOW CLIENTS and KILL), through the admin API with
// the caller's own OIDC token (members of auth.admin_groups; see access/api_client.h for where
// the URL and the token come from). The client of an ended session gets FATAL 57P01 naming who
// ended it. Exit status: 0 done, 1 refused by the gateway (not allowed, no such session),
// 2 unusable input or gateway unreachable.
#include <fmt/format.h>
#include <boost/json.hpp>
#include <cctype>
#include <iostream>

#include "access/api_client.h"
#include "cli/command.h"

namespace jg::cli {
namespace {

namespace json = boost::json;

struct SessionsOptions {
  access::ClientOptions client;
  std::string id;
  std::string reason;
  std::string resource;
  bool json = false;
};

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return {};
  }
  return v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
}

// Query-string encoding (RFC 3986 unreserved characters stay as they are).
std::string encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

void printSessions(const json::array& sessions, const std::string& resource) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "RESOURCE", "USER", "CLIENT", "STATE", "STARTED", "AGE"}};
  for (const auto& v : sessions) {
    const auto& s = v.as_object();
    if (!resource.empty() && str(s, "resource") != resource) {
      continue;
    }
    rows.push_back({str(s, "id"), str(s, "resource"), str(s, "user"), str(s, "client_addr"),
                    str(s, "state"), str(s, "started"), str(s, "age_seconds") + "s"});
  }
  if (rows.size() == 1) {
    std::cout << "no live sessions" << (resource.empty() ? "" : " on " + resource) << "\n";
    return;
  }
  std::vector<size_t> width(rows[0].size());
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(width[i] - row[i].size() + 2, ' ');
      }
    }
    std::cout << line << "\n";
  }
}

int exitFor(const Status& st) {
  std::cerr << "jitgate: " << st.message() << "\n";
  return st.code() == Code::kUnavailable || st.code() == Code::kInvalidArgument ? 2 : 1;
}

int run(const SessionsOptions& o, const std::string& action) {
  auto client = access::ApiClient::make(o.client);
  if (!client) {
    return exitFor(client.status());
  }
  Result<json::value> res =
      action == "list"
          ? client->call("GET", "/api/v1/sessions")
          : client->call("DELETE", "/api/v1/sessions/" + encode(o.id) +
                                       (o.reason.empty() ? "" : "?reason=" + encode(o.reason)));
  if (!res) {
    return exitFor(res.status());
  }
  if (o.json) {
    std::cout << json::serialize(*res) << "\n";
    return 0;
  }
  const auto& body = res->as_object();
  if (action == "list") {
    printSessions(body.at("sessions").as_array(), o.resource);
  } else {
    std::cout << "session " << str(body, "id") << " (" << str(body, "user") << " on "
              << str(body, "resource") << ") is being ended\n";
  }
  return 0;
}

void addSessions(CLI::App& app) {
  auto* sessions = app.add_subcommand("sessions", "List the live sessions of a gateway; end one");
  sessions->require_subcommand(1);
  for (const std::string name : {"list", "end"}) {
    auto o = std::make_shared<SessionsOptions>();
    auto* cmd = sessions->add_subcommand(
        name, name == "list" ? "List live PostgreSQL sessions (who, which resource, since when)"
                             : "End a live session now (its client gets FATAL 57P01)");
    if (name == "end") {
      cmd->add_option("id", o->id, "Session id (s-...)")->required();
      cmd->add_option("--reason", o->reason, "Told to the client and recorded");
    } else {
      cmd->add_option("--resource", o->resource, "Only this resource");
    }
    cmd->add_option("--gateway", o->client.gateway, "Admin API URL (http://host:port)")
        ->envname("JITGATE_ADMIN_URL");
    cmd->add_option("--token", o->client.token,
                    "OIDC access token (default: $JITGATE_TOKEN or the `jitgate login` cache)");
    cmd->add_option("-c,--config", o->client.config_file,
                    "Gateway configuration (for listen.admin)");
    cmd->add_flag("--json", o->json, "Print the API's JSON");
    cmd->callback([o, name] { setExitCode(run(*o, name)); });
  }
}

}  // namespace

JITGATE_COMMAND(addSessions);

}  // namespace jg::cli
