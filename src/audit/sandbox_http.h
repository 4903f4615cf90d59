// HTTP sandbox replay: re-sends the recorded requests of an HTTP session to a sandbox service
// (`jitgate replay SESSION --sandbox-url http://127.0.0.1:8081`) and reports, request by
// request, whether the status and body it answers match the recording.
//
// A request is re-sent when the gate allowed it and the recording holds it whole: its body is
// not cut short (body_bytes) and still hashes to body_digest (a body the recorder scrubbed of a
// secret cannot be sent as the client sent it), and its query has no scrubbed value. It goes to
// the base URL plus its route (the path below the resource's mount prefix) and query, with its
// recorded headers except hop-by-hop ones, Host, Content-Length and scrubbed ones. Refused and
// incomplete requests are reported as skipped.
//
// The status is always compared. The body is compared when the recorded response completed
// and every body byte was recorded: with the bytes before masking when they are known (nothing
// was masked, or the sealed raw bodies could be opened with the key), else with the masked
// bytes; each request says which ("raw" or "masked"). Requests are sent one at a time, in
// recorded order. The HttpSend function is the seam to the network (net::HttpClient::send in
// the CLI, a fake in tests). Functions are stateless; thread-compatible.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/codec.h"
#include "audit/index.h"
#include "audit/sandbox.h"
#include "net/http.h"

namespace jg::audit {

// Sends one request; transport failures are errors (kUnavailable), any HTTP status a result.
using HttpSend = std::function<Result<net::HttpResponse>(const net::HttpRequest&)>;

struct HttpSandboxExchange {
  uint64_t request_id = 0;
  std::string method{};
  std::string target{};  // route?query as sent to the sandbox (or as recorded, when skipped)
  SandboxOutcome outcome = SandboxOutcome::kSkipped;
  std::string reason{};  // why skipped, what differs, or the transport error
  std::string basis{};   // "raw" | "masked" | "" (body not compared)
  int recorded_status = 0;
  int sandbox_status = 0;
  uint64_t recorded_bytes = 0;
  uint64_t sandbox_bytes = 0;
  std::string recorded_digest{};  // hex SHA-256 of the compared body
  std::string sandbox_digest{};
};

struct HttpSandboxReport {
  std::string session_id{};
  std::vector<HttpSandboxExchange> exchanges{};
  uint64_t matched = 0;
  uint64_t differed = 0;
  uint64_t errors = 0;
  uint64_t skipped = 0;

  // 0 when every compared request matches, 1 when any differs, 2 when any could not be sent.
  int exitCode() const;
};

// Reads the session's records from `dir` and re-sends its requests to `base_url` through
// `send`. `opener` (may be null) opens sealed raw bodies. Fails when the session has no records
// or is not an HTTP session.
Result<HttpSandboxReport> httpSandboxReplay(const std::string& dir, const std::string& session_id,
                                            const std::optional<SessionLocation>& hint,
                                            const std::string& base_url, const HttpSend& send,
                                            const RawOpener* opener);

void renderHttpSandboxText(const HttpSandboxReport& report, std::ostream& out);
boost::json::object httpSandboxJson(const HttpSandboxReport& report);

}  // namespace jg::audit
