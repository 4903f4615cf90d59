// Fuzzes the admin API's request handling without sockets. The input is a request:
//   <METHOD> <target>\n<Authorization header value>\n<body>
// The target is parsed as the listener parses it (parseAdminTarget: path, query string), the
// caller comes from the bearer token ("Bearer alice": a requester, "olga": an approver, "audrey":
// an auditor; anything else is unauthenticated and answered 401), and the request goes to the
// access API (reviews, grants) or the audit API (statement search, session records). Each input
// sees the same in-memory state store: one approved review with its grant and one pending
// review; "{review}", "{grant}" and "{pending}" in the target stand for their ids. Every answer
// must be a JSON document. Time is fixed; the audit directory does not exist.
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "access/api.h"
#include "audit/index.h"
#include "audit/settings.h"
#include "config/node.h"
#include "core/clock.h"
#include "policy/policy.h"
#include "server/admin_request.h"
#include "server/audit_api.h"
#include "store/store.h"

namespace {

using namespace jg;
namespace json = boost::json;

constexpr char kPolicy[] = R"(
- { id: kb-read, match: { resource: kb, groups: [engineers] }, allow: [select], role: reader }
- { id: kb-session, match: { resource: kb, groups: [engineers] }, action: review,
    scope: session, approvers: { groups: [data-owners], count: 1 }, grant: 2h }
)";

std::shared_ptr<const policy::Policy> compiledPolicy() {
  static const auto p = [] {
    config::Errors errors;
    auto node = config::Node::parse(kPolicy, "policy.yaml");
    auto compiled = policy::Policy::compile(*node, errors);
    if (!compiled) {
      std::abort();
    }
    return *compiled;
  }();
  return p;
}

identity::Identity person(std::string name, std::vector<std::string> groups) {
  identity::Identity id;
  id.issuer = "https://idp.example.com";
  id.subject = name;
  id.email = name + "@example.com";
  id.groups = std::move(groups);
  return id;
}

const audit::Settings& auditSettings() {
  static const audit::Settings s = [] {
    audit::Settings a;
    a.dir = std::filesystem::temp_directory_path() / "jitgate-fuzz-admin-no-audit-dir";
    a.auditor_groups = {"auditors"};
    return a;
  }();
  return s;
}

// The state one input starts from: a store, the broker and API over it, and three ids.
struct World {
  ManualClock clock = ManualClock::atUnix(1'800'000'000);
  std::unique_ptr<store::Store> store;
  std::shared_ptr<access::Broker> broker;
  std::unique_ptr<access::Api> api;
  std::string review, grant, pending;
};

std::string idOf(const access::ApiReply& r, std::string_view key) {
  const auto* o = r.body.if_object();
  const auto* v = o ? o->if_contains(key) : nullptr;
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::unique_ptr<World> makeWorld() {
  auto w = std::make_unique<World>();
  auto s = store::open("sqlite::memory:");
  if (!s || !(*s)->migrate("audit", audit::indexMigrations())) {
    std::abort();
  }
  w->store = std::move(*s);
  access::BrokerOptions o;
  o.clock = &w->clock;
  o.start_sweeper = false;
  w->broker = *access::Broker::create(*w->store, o);
  w->api = std::make_unique<access::Api>(w->broker, compiledPolicy, w->clock);
  const auto alice = person("alice", {"engineers"});
  const std::string ask = R"({"resource":"kb","duration":"30m","reason":"incident 7"})";
  auto first = w->api->handle({"POST", "/api/v1/reviews", {}, ask}, alice);
  w->review = first ? idOf(*first, "id") : "";
  const auto olga = person("olga", {"data-owners"});
  auto approved =
      w->api->handle({"POST", "/api/v1/reviews/" + w->review + "/approve", {}, "{}"}, olga);
  w->grant = approved ? idOf(*approved, "grant_id") : "";
  auto second = w->api->handle({"POST", "/api/v1/reviews", {}, ask}, person("eve", {"engineers"}));
  w->pending = second ? idOf(*second, "id") : "";
  return w;
}

std::optional<identity::Identity> caller(std::string_view authorization) {
  const std::string token = server::bearerToken(authorization);
  if (token == "alice") {
    return person("alice", {"engineers"});
  }
  if (token == "olga") {
    return person("olga", {"data-owners"});
  }
  if (token == "audrey") {
    return person("audrey", {"auditors"});
  }
  return std::nullopt;
}

// Takes the text up to the next newline (or the end) off the front of `in`.
std::string_view nextLine(std::string_view& in) {
  const size_t nl = std::min(in.find('\n'), in.size());
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(std::min(nl + 1, in.size()));
  return line;
}

void replaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

server::AdminResponse dispatch(World& w, server::AdminRequest& req) {
  if (req.path == "/api/v1/audit/statements") {
    return server::handleAuditStatements(req, w.store.get(), auditSettings());
  }
  if (req.path.starts_with("/api/v1/audit/sessions/")) {
    return server::handleAuditSession(req, w.store.get(), auditSettings());
  }
  access::ApiRequest ar{std::string(boost::beast::http::to_string(req.method)), req.path, req.query,
                        req.body};
  if (auto reply = w.api->handle(ar, *req.caller)) {
    return server::fromReply(*reply);
  }
  return server::jsonError(404, "not_found", "no such resource: " + req.path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view line = nextLine(in);
  std::string_view authorization = nextLine(in);
  const size_t sp = std::min(line.find(' '), line.size());
  server::AdminRequest req;
  req.method = boost::beast::http::string_to_verb(line.substr(0, sp));
  req.body = std::string(in);
  req.caller = caller(authorization);
  // The state is made again after any request that may have changed it (not a GET).
  static std::unique_ptr<World> w;
  static bool changed = true;
  if (changed) {
    w.reset();
    w = makeWorld();
  }
  changed = req.method != boost::beast::http::verb::get;
  std::string target(line.substr(std::min(sp + 1, line.size())));
  replaceAll(target, "{review}", w->review);
  replaceAll(target, "{grant}", w->grant);
  replaceAll(target, "{pending}", w->pending);
  if (!server::parseAdminTarget(target, req) || !req.caller) {
    return 0;  // 400 and 401 before any handler runs
  }
  server::AdminResponse res = dispatch(*w, req);
  boost::system::error_code ec;
  (void)json::parse(res.body, ec);
  if (ec) {
    std::abort();  // every answer of the API is JSON
  }
  return 0;
}
