#include "server/audit_api.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <ctime>

#include "audit/codec.h"
#include "audit/crypto.h"
#include "audit/index.h"
#include "audit/replay.h"
#include "audit/verify.h"
#include "config/node.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/log_fields.h"

namespace jg::server {
namespace {

namespace json = boost::json;

constexpr int kMaxStatements = 1000;
constexpr int kDefaultSessionRecords = 10000;
constexpr int kMaxSessionRecords = 100000;

AdminResponse jsonOk(const json::value& body) {
  return AdminResponse{200, "application/json", json::serialize(body), {}};
}

std::optional<AdminResponse> requireAuditor(const AdminRequest& req,
                                            const audit::Settings& settings) {
  if (!req.caller) {
    return jsonError(401, "unauthorized", "an OIDC access token is required");
  }
  if (settings.auditor_groups.empty()) {
    return jsonError(403, "forbidden",
                     "the audit API is closed: no auditor groups are configured "
                     "(audit.auditor_groups)");
  }
  for (const auto& g : req.caller->groups) {
    for (const auto& allowed : settings.auditor_groups) {
      if (g == allowed) {
        return std::nullopt;
      }
    }
  }
  std::string groups;
  for (const auto& g : settings.auditor_groups) {
    groups += (groups.empty() ? "" : ", ") + g;
  }
  return jsonError(403, "forbidden",
                   fmt::format("{} is not an auditor: the audit API is for members of {}",
                               req.caller->display(), groups));
}

// "2026-11-29", "2026-11-29T08:00:00Z", or a duration ago ("2h", "7d").
std::optional<int64_t> parseTime(const std::string& text) {
  if (auto d = config::parseDuration(text)) {
    return audit::toMicros(std::chrono::system_clock::now() - *d);
  }
  std::tm tm{};
  char rest[8] = {};
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%7s", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, rest);
  bool utc = n == 6 || (n == 7 && std::string_view(rest) == "Z");
  bool date_only = n == 3 && text.size() == 10;
  if ((!utc && !date_only) || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000;
}

std::optional<int> parseLimit(const std::string& text, int max) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 1 || v > max) {
    return std::nullopt;
  }
  return v;
}

bool validSessionId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// The search filters of GET /api/v1/audit/statements; a 400 answer when one is bad.
std::optional<AdminResponse> parseStatementsQuery(const AdminRequest& req, audit::SearchQuery& q) {
  std::map<std::string_view, std::string*> text_filters = {{"user", &q.user},
                                                           {"group", &q.group},
                                                           {"resource", &q.resource},
                                                           {"table", &q.table},
                                                           {"kind", &q.kind},
                                                           {"decision", &q.decision},
                                                           {"rule", &q.rule},
                                                           {"review", &q.review},
                                                           {"fingerprint", &q.fingerprint},
                                                           {"document", &q.document},
                                                           {"contains", &q.contains},
                                                           {"session", &q.session},
                                                           {"protocol", &q.protocol},
                                                           {"method", &q.method},
                                                           {"path", &q.path},
                                                           {"tool", &q.tool},
                                                           {"rpc_method", &q.rpc_method}};
  for (const auto& [key, value] : req.query) {
    if (auto it = text_filters.find(key); it != text_filters.end()) {
      *it->second = value;
    } else if (key == "since" || key == "until") {
      auto t = parseTime(value);
      if (!t) {
        return jsonError(
            400, "bad_request",
            fmt::format("bad {} '{}' (use 2026-11-29, 2026-11-29T08:00:00Z or 2h)", key, value));
      }
      (key == "since" ? q.since_us : q.until_us) = *t;
    } else if (key == "status") {
      auto status = parseLimit(value, 599);
      if (!status || *status < 100) {
        return jsonError(400, "bad_request", "status must be an HTTP status from 100 to 599");
      }
      q.status = *status;
    } else if (key == "limit") {
      auto limit = parseLimit(value, kMaxStatements);
      if (!limit) {
        return jsonError(400, "bad_request",
                         fmt::format("limit must be an integer from 1 to {}", kMaxStatements));
      }
      q.limit = *limit;
    } else {
      return jsonError(400, "bad_request", fmt::format("unknown parameter '{}'", key));
    }
  }
  if (!q.decision.empty() && q.decision != "allow" && q.decision != "deny" &&
      q.decision != "review") {
    return jsonError(400, "bad_request", "decision must be allow, deny or review");
  }
  if (!q.protocol.empty() && q.protocol != "postgres" && q.protocol != "http" &&
      q.protocol != "mcp") {
    return jsonError(400, "bad_request", "protocol must be postgres, http or mcp");
  }
  return std::nullopt;
}

}  // namespace

AdminResponse handleAuditStatements(const AdminRequest& req, store::Store* store,
                                    const audit::Settings& settings) {
  if (auto refused = requireAuditor(req, settings)) {
    return *refused;
  }
  audit::SearchQuery q;
  if (auto bad = parseStatementsQuery(req, q)) {
    return *bad;
  }
  if (store == nullptr) {
    return jsonError(503, "unavailable", "no state store is configured: the audit index is off");
  }
  auto hits = audit::search(*store, q);
  if (!hits) {
    log::warn("", "audit API: search failed: {}", hits.status().message());
    return jsonError(503, "unavailable", "audit search failed: " + hits.status().message());
  }
  json::array out;
  for (const auto& h : *hits) {
    out.push_back(audit::toJson(h));
  }
  return jsonOk(out);
}

namespace {

// The session id of /api/v1/audit/sessions/{id}[/reveal], or nullopt when it is not valid.
std::optional<std::string> sessionIdOf(const std::string& path, std::string_view suffix) {
  std::string id = path.substr(std::min(path.size(), kSessionsPrefix.size()));
  if (!id.ends_with(suffix)) {
    return std::nullopt;
  }
  id.resize(id.size() - suffix.size());
  return validSessionId(id) ? std::optional<std::string>(id) : std::nullopt;
}

// The session's records, raw values opened when `opener` is given; 404 for an unknown session.
AdminResponse sessionRecords(const std::string& id, int limit, store::Store* store,
                             const audit::Settings& settings, const audit::RawOpener* opener) {
  if (settings.dir.empty()) {
    return jsonError(503, "unavailable", "session recording is not configured");
  }
  std::optional<audit::SessionLocation> hint;
  if (store != nullptr) {
    if (auto loc = audit::findSession(*store, id); loc && loc->has_value()) {
      hint = **loc;
    }
  }
  auto got = audit::sessionRecordsJson(settings.dir, id, hint, opener, static_cast<size_t>(limit));
  if (!got) {
    if (got.status().code() == Code::kNotFound) {
      return jsonError(404, "not_found", "no recorded session " + id);
    }
    return jsonError(503, "unavailable", "cannot read the audit log: " + got.status().message());
  }
  return jsonOk(json::object{{"session", id},
                             {"records", std::move(got->records)},
                             {"truncated", got->truncated},
                             {"raw", opener != nullptr}});
}

bool memberOfAny(const identity::Identity& who, const std::vector<std::string>& groups) {
  for (const auto& g : who.groups) {
    if (std::find(groups.begin(), groups.end(), g) != groups.end()) {
      return true;
    }
  }
  return false;
}

// 403 unless the caller may reveal raw values; 503 when none are recorded.
std::optional<AdminResponse> requireRevealer(const AdminRequest& req,
                                             const audit::Settings& settings) {
  if (settings.reveal_groups.empty()) {
    return jsonError(403, "forbidden",
                     "revealing raw values is closed: no reveal groups are configured "
                     "(audit.reveal_groups)");
  }
  if (!memberOfAny(*req.caller, settings.reveal_groups)) {
    return jsonError(403, "forbidden",
                     fmt::format("{} may not reveal raw values: that is for members of {}",
                                 req.caller->display(), fmt::join(settings.reveal_groups, ", ")));
  }
  if (!settings.raw_payloads || settings.key_file.empty()) {
    return jsonError(503, "unavailable",
                     "raw values are not recorded here (audit.raw_payloads: off)");
  }
  return std::nullopt;
}

// The reason of a reveal request's JSON body: 1 to 500 characters after trimming.
Result<std::string> revealReason(const std::string& body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* r = o != nullptr ? o->if_contains("reason") : nullptr;
  std::string reason = r != nullptr && r->is_string() ? std::string(r->as_string()) : "";
  while (!reason.empty() && std::isspace(static_cast<unsigned char>(reason.back()))) {
    reason.pop_back();
  }
  reason.erase(0, reason.find_first_not_of(" \t\r\n"));
  if (reason.empty() || reason.size() > 500) {
    return invalidArgument(
        "give the reason for revealing raw values: a JSON body {\"reason\": \"...\"} of 1 to "
        "500 characters (it is recorded with your name)");
  }
  return reason;
}

}  // namespace

AdminResponse handleAuditSession(const AdminRequest& req, store::Store* store,
                                 const audit::Settings& settings) {
  if (auto refused = requireAuditor(req, settings)) {
    return *refused;
  }
  auto id = sessionIdOf(req.path, "");
  if (!id) {
    return jsonError(400, "bad_request", "bad session id");
  }
  int limit = kDefaultSessionRecords;
  for (const auto& [key, value] : req.query) {
    if (key != "limit") {
      return jsonError(400, "bad_request", fmt::format("unknown parameter '{}'", key));
    }
    auto l = parseLimit(value, kMaxSessionRecords);
    if (!l) {
      return jsonError(400, "bad_request",
                       fmt::format("limit must be an integer from 1 to {}", kMaxSessionRecords));
    }
    limit = *l;
  }
  return sessionRecords(*id, limit, store, settings, nullptr);
}

namespace {

// Records a refused reveal (an `access` record, action reveal.refused, with the refusal's
// message) and answers the refusal. A refusal that cannot be recorded is still refused.
AdminResponse refuseReveal(const AdminRequest& req, const std::string& session,
                           AdminResponse refusal, const RevealRecorder& record) {
  json::error_code ec;
  json::value body = json::parse(refusal.body, ec);
  const json::value* msg =
      ec || !body.is_object() ? nullptr : body.as_object().if_contains("message");
  audit::AccessEvent e;
  e.action = "reveal.refused";
  e.requester = req.caller->display();
  e.actor = req.caller->display();
  e.actor_subject = req.caller->subject;
  e.comment = "session " + session + ": " +
              (msg != nullptr && msg->is_string() ? std::string(msg->as_string()) : "refused");
  if (Status st = record(std::move(e)); !st) {
    log::warn("", "audit API: a refused reveal could not be recorded: {}", st.message());
  }
  log::infoWith("", {{"actor", req.caller->display()}, {"session", session}},
                "reveal of session {} refused to {}", session, req.caller->display());
  return refusal;
}

}  // namespace

AdminResponse handleAuditReveal(const AdminRequest& req, store::Store* store,
                                const audit::Settings& settings, const RevealRecorder& record) {
  if (!req.caller) {
    return jsonError(401, "unauthorized", "an OIDC access token is required");
  }
  if (!req.path.ends_with(kRevealSuffix)) {
    return jsonError(404, "not_found", "no such route: POST " + req.path);
  }
  auto id = sessionIdOf(req.path, kRevealSuffix);
  if (!id) {
    return jsonError(400, "bad_request", "bad session id");
  }
  if (auto refused = requireAuditor(req, settings)) {
    return refuseReveal(req, *id, std::move(*refused), record);
  }
  if (auto refused = requireRevealer(req, settings)) {
    return refused->status == 403 ? refuseReveal(req, *id, std::move(*refused), record) : *refused;
  }
  auto reason = revealReason(req.body);
  if (!reason) {
    return refuseReveal(req, *id, jsonError(400, "bad_request", reason.status().message()), record);
  }
  audit::RawOpener opener;
  auto key = audit::AeadKey::loadFile(settings.key_file);
  if (!key) {
    log::warn("", "audit API: cannot load the raw payload key: {}", key.status().message());
    return jsonError(503, "unavailable", "the raw payload key cannot be loaded");
  }
  opener.addKey(std::move(*key));
  // Recorded before anything is shown; nothing is shown when it cannot be recorded.
  audit::ReplayEvent e{*id, true, req.caller->display(), *reason};
  if (Status st = record(std::move(e)); !st) {
    log::warn("", "audit API: a reveal of {} could not be recorded: {}", *id, st.message());
    return jsonError(503, "unavailable", "the reveal cannot be recorded, so nothing is shown");
  }
  log::infoWith("", {{"actor", req.caller->display()}, {"session", *id}},
                "raw values of session {} revealed to {}", *id, req.caller->display());
  return sessionRecords(*id, kMaxSessionRecords, store, settings, &opener);
}

}  // namespace jg::server
