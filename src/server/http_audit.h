// HttpAudit: what one HTTP connection writes to the audit log, and the durability waits strict
// mode imposes.
//
// An HTTP connection is one audit session (protocol "http", or "mcp" for a connection that
// carries MCP's JSON-RPC over Streamable HTTP): a connect record, an auth record
// whenever the caller's token changes, and per request an http_request record (with the gate's
// decision) followed by the response: one http_response record when the whole response fits in
// one chunk, else http_response (status, headers, first bytes), http_body chunks and
// http_response_end, so memory stays bounded. Bodies are recorded as sent (masked); the
// pre-masking bytes travel as RawBytes, sealed or dropped by the recorder. In strict mode the
// exchange waits for durable() before a request reaches the upstream and before the end of a
// response reaches the client. One per connection; used from its executor only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "audit/event.h"
#include "audit/recorder.h"
#include "core/status.h"

namespace jg::server {

class HttpAudit {
 public:
  // `protocol` is what the session's connect record names ("http" | "mcp").
  HttpAudit(std::shared_ptr<audit::Recorder> recorder, std::string session_id,
            boost::asio::any_io_executor executor, std::string protocol = "http");

  bool enabled() const { return recorder_ != nullptr; }
  bool writable() const { return !recorder_ || recorder_->writable(); }
  bool strict() const { return recorder_ && (recorder_->strict() || !recorder_->writable()); }
  const std::string& sessionId() const { return session_id_; }
  const std::string& protocol() const { return protocol_; }

  void record(audit::EventBody body);
  // Waits until everything recorded so far is durable; an error when the log failed.
  boost::asio::awaitable<Status> durable();

 private:
  std::shared_ptr<audit::Recorder> recorder_;
  std::string session_id_;
  boost::asio::any_io_executor executor_;
  std::string protocol_;
  audit::Recorder::Ticket last_ = 0;
  Status failure_;
};

// Collects the bytes of one response for the log in bounded chunks: the first chunk goes into
// the http_response record, later ones into http_body records, then http_response_end.
class ResponseRecord {
 public:
  static constexpr size_t kChunkBytes = 64 * 1024;

  ResponseRecord(HttpAudit& audit, uint64_t request_id) : audit_(audit), request_id_(request_id) {}

  // The status and headers, before any body byte.
  void start(int status, std::vector<std::pair<std::string, std::string>> headers,
             std::string content_type);
  // Bytes as sent and, when masking changed them, as received (decoded).
  void body(std::string_view sent, std::string_view raw, std::vector<std::string> document_ids);
  // The end: writes what is pending as one complete record or as the last chunk and an end.
  void finish(std::string outcome, const std::map<std::string, uint64_t>& masked,
              bool unmasked_binary);

 private:
  void flush(bool final);

  HttpAudit& audit_;
  uint64_t request_id_;
  audit::HttpResponseEvent head_;
  bool head_written_ = false;
  bool finished_ = false;
  std::string sent_, raw_;
  bool raw_differs_ = false;
  std::vector<std::string> ids_;
  uint64_t bytes_ = 0;
};

}  // namespace jg::server
