#include "audit/sandbox_http.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "audit/replay.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

constexpr std::string_view kRedactedMark = "[redacted]";

// One request of the recording and what its response was.
struct Recorded {
  HttpRequestEvent request{};
  bool responded = false;
  int status = 0;
  std::string body{};  // as sent (masked)
  std::string raw{};   // before masking, while raw_known
  bool raw_known = true;
  bool ended = false;
  uint64_t bytes = 0;
  std::string outcome{};
  uint64_t masked = 0;
};

class HttpCollector {
 public:
  explicit HttpCollector(const RawOpener* opener) : opener_(opener) {}

  void add(const ReplayedRecord& r) {
    rec_ = &r;
    std::visit([this](const auto& e) { on(e); }, r.event.body);
  }
  bool http() const { return http_; }
  const std::string& protocol() const { return protocol_; }
  std::vector<Recorded>& recorded() { return recorded_; }

 private:
  Recorded* find(uint64_t id) {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &recorded_[it->second];
  }
  // Appends a body part; `raw` is its sealed pre-masking bytes (empty: masking left it as sent).
  void part(Recorded& r, const std::string& body, const RawBytes& raw, std::string_view type) {
    r.body += body;
    if (raw.empty()) {
      r.raw += body;
      return;
    }
    auto plain =
        opener_ != nullptr
            ? opener_->open(raw, rec_->raw_key_id, rawAad(rec_->event.session_id, type, "raw_body"))
            : Result<std::string>(Status::error(Code::kNotFound, "no key"));
    if (plain) {
      r.raw += *plain;
    } else {
      r.raw_known = false;
    }
  }
  void end(Recorded& r, uint64_t bytes, const std::map<std::string, uint64_t>& masked,
           const std::string& outcome) {
    r.ended = true;
    r.bytes = bytes;
    r.outcome = outcome;
    for (const auto& [label, n] : masked) {
      r.masked += n;
    }
    // Raw payloads off: the bytes as sent are the raw bytes only if nothing was masked.
    if (rec_->raw_key_id.empty() && r.masked > 0) {
      r.raw_known = false;
    }
  }

  void on(const ConnectEvent& e) {
    http_ = e.protocol == "http";
    protocol_ = e.protocol;
  }
  void on(const HttpRequestEvent& e) {
    by_id_[e.request_id] = recorded_.size();
    recorded_.push_back(Recorded{.request = e});
  }
  void on(const HttpResponseEvent& e) {
    if (Recorded* r = find(e.request_id)) {
      r->responded = true;
      r->status = e.status;
      part(*r, e.body, e.raw_body, "http_response");
      if (e.complete) {
        end(*r, e.bytes, e.masked_values, e.outcome);
      }
    }
  }
  void on(const HttpBodyEvent& e) {
    if (Recorded* r = find(e.request_id)) {
      part(*r, e.body, e.raw_body, "http_body");
    }
  }
  void on(const HttpResponseEndEvent& e) {
    if (Recorded* r = find(e.request_id)) {
      end(*r, e.bytes, e.masked_values, e.outcome);
    }
  }
  void on(const ErrorEvent& e) {
    Recorded* r = find(e.statement_id);
    if (r != nullptr && e.http_status != 0 && !r->responded) {
      r->status = e.http_status;
    }
  }
  template <typename T>
  void on(const T&) {}

  const RawOpener* opener_;
  const ReplayedRecord* rec_ = nullptr;
  bool http_ = false;
  std::string protocol_;
  std::vector<Recorded> recorded_;
  std::map<uint64_t, size_t> by_id_;
};

bool forwardable(std::string_view name, std::string_view value) {
  static constexpr std::array<std::string_view, 10> kDropped = {
      "host", "content-length", "connection", "keep-alive",       "transfer-encoding",
      "te",   "trailer",        "upgrade",    "proxy-connection", "expect"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kDropped.begin(), kDropped.end(), lower) == kDropped.end() &&
         value.find(kRedactedMark) == std::string_view::npos;
}

// Why a recorded request cannot be re-sent as the client sent it; empty when it can.
std::string whyNotSent(const HttpRequestEvent& r) {
  if (r.decision != "allow") {
    return "refused by the gate (" +
           (r.decision.empty() ? std::string("no decision") : r.decision) + ")";
  }
  if (r.body.size() < r.body_bytes) {
    return fmt::format("request body cut in the recording ({} of {} bytes)", r.body.size(),
                       r.body_bytes);
  }
  if (!r.body_digest.empty() && sha256Hex(r.body) != r.body_digest) {
    return "request body was scrubbed in the recording";
  }
  if (r.query.find(kRedactedMark) != std::string::npos) {
    return "query was scrubbed in the recording";
  }
  return {};
}

net::HttpRequest requestFor(const HttpRequestEvent& r, const std::string& base_url) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  std::string route = r.route.empty() ? r.path : r.route;
  if (route.empty() || route.front() != '/') {
    route.insert(route.begin(), '/');
  }
  net::HttpRequest req;
  req.method = r.method;
  req.url = base + route + (r.query.empty() ? "" : "?" + r.query);
  for (const auto& [name, value] : r.headers) {
    if (forwardable(name, value)) {
      req.headers.emplace_back(name, value);
    }
  }
  req.body = r.body;
  return req;
}

size_t firstDifference(std::string_view a, std::string_view b) {
  auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<size_t>(ia - a.begin());
}

// Compares the sandbox's answer with the recording.
void compare(const Recorded& rec, const net::HttpResponse& got, HttpSandboxExchange& x) {
  x.sandbox_status = got.status;
  x.sandbox_bytes = got.body.size();
  std::vector<std::string> diffs;
  if (rec.status != got.status) {
    diffs.push_back(fmt::format("status {} recorded, {} in the sandbox", rec.status, got.status));
  }
  bool whole = rec.ended && rec.outcome == "complete" && rec.body.size() == rec.bytes;
  if (!whole) {
    x.reason = rec.ended ? "body not compared: the response ended " + rec.outcome
                         : "body not compared: the response did not end in the recording";
  } else {
    const std::string& basis = rec.raw_known ? rec.raw : rec.body;
    x.basis = rec.raw_known ? "raw" : "masked";
    x.recorded_bytes = basis.size();
    x.recorded_digest = sha256Hex(basis);
    x.sandbox_digest = sha256Hex(got.body);
    if (basis != got.body) {
      diffs.push_back(
          fmt::format("body differs ({} bytes recorded, {} in the sandbox; first "
                      "difference at byte {})",
                      basis.size(), got.body.size(), firstDifference(basis, got.body)));
    }
  }
  x.outcome = diffs.empty() ? SandboxOutcome::kMatch : SandboxOutcome::kDiffers;
  for (const auto& d : diffs) {
    x.reason = d + (x.reason.empty() ? "" : "; " + x.reason);
  }
}

}  // namespace

int HttpSandboxReport::exitCode() const {
  return errors > 0 ? 2 : differed > 0 ? 1 : 0;
}

Result<HttpSandboxReport> httpSandboxReplay(const std::string& dir, const std::string& session_id,
                                            const std::optional<SessionLocation>& hint,
                                            const std::string& base_url, const HttpSend& send,
                                            const RawOpener* opener) {
  HttpCollector collector(opener);
  Status st =
      forEachSessionRecord(dir, session_id, hint, [&](ReplayedRecord&& r) { collector.add(r); });
  if (!st) {
    return st;
  }
  if (collector.protocol() == "mcp") {
    // Re-sent MCP requests would run under a new MCP session id and re-initialize nothing:
    // not a faithful replay.
    return invalidArgument("session " + session_id +
                           " is an MCP session: --sandbox-url re-sends plain HTTP sessions only");
  }
  if (!collector.http()) {
    return invalidArgument("session " + session_id +
                           " is not an HTTP session (use --sandbox DSN for PostgreSQL)");
  }
  HttpSandboxReport report{.session_id = session_id};
  for (const Recorded& rec : collector.recorded()) {
    const HttpRequestEvent& r = rec.request;
    HttpSandboxExchange x{
        .request_id = r.request_id,
        .method = r.method,
        .target = (r.route.empty() ? r.path : r.route) + (r.query.empty() ? "" : "?" + r.query),
        .recorded_status = rec.status};
    if (std::string why = whyNotSent(r); !why.empty()) {
      x.reason = std::move(why);
      ++report.skipped;
    } else if (auto got = send(requestFor(r, base_url)); !got) {
      x.outcome = SandboxOutcome::kError;
      x.reason = got.status().message();
      ++report.errors;
    } else {
      compare(rec, *got, x);
      ++(x.outcome == SandboxOutcome::kMatch ? report.matched : report.differed);
    }
    report.exchanges.push_back(std::move(x));
  }
  return report;
}

void renderHttpSandboxText(const HttpSandboxReport& report, std::ostream& out) {
  out << "sandbox replay of HTTP session " << report.session_id << "\n";
  for (const auto& x : report.exchanges) {
    out << fmt::format("[{}] {:<8} {} {}\n", x.request_id, outcomeName(x.outcome), x.method,
                       x.target);
    std::string detail;
    if (x.outcome == SandboxOutcome::kMatch || x.outcome == SandboxOutcome::kDiffers) {
      detail =
          fmt::format("status {} recorded, {} in the sandbox", x.recorded_status, x.sandbox_status);
      if (!x.basis.empty()) {
        detail += fmt::format("; body compared with the {} bytes ({} recorded, {} in the sandbox)",
                              x.basis, x.recorded_bytes, x.sandbox_bytes);
      }
    }
    if (!x.reason.empty()) {
      detail += (detail.empty() ? "" : "; ") + x.reason;
    }
    out << "          " << detail << "\n";
  }
  out << fmt::format("{} match, {} differ, {} error(s), {} skipped\n", report.matched,
                     report.differed, report.errors, report.skipped);
}

json::object httpSandboxJson(const HttpSandboxReport& report) {
  json::array exchanges;
  for (const auto& x : report.exchanges) {
    json::object o{{"request", x.request_id},
                   {"method", x.method},
                   {"target", x.target},
                   {"outcome", outcomeName(x.outcome)},
                   {"recorded_status", x.recorded_status}};
    if (!x.reason.empty()) {
      o["reason"] = x.reason;
    }
    if (x.outcome == SandboxOutcome::kMatch || x.outcome == SandboxOutcome::kDiffers) {
      o["sandbox_status"] = x.sandbox_status;
    }
    if (!x.basis.empty()) {
      o["compared_with"] = x.basis;
      o["recorded_bytes"] = x.recorded_bytes;
      o["sandbox_bytes"] = x.sandbox_bytes;
      o["recorded_digest"] = x.recorded_digest;
      o["sandbox_digest"] = x.sandbox_digest;
    }
    exchanges.push_back(std::move(o));
  }
  return json::object{{"session", report.session_id},    {"ok", report.exitCode() == 0},
                      {"matched", report.matched},       {"differed", report.differed},
                      {"errors", report.errors},         {"skipped", report.skipped},
                      {"requests", std::move(exchanges)}};
}

}  // namespace jg::audit
