// SessionAudit: what one session writes to the audit log, and the durability waits that strict
// mode imposes on the data path.
//
// Events go to the shared Recorder asynchronously; each completion is posted back to the
// session's executor. In strict mode the pumps call durable() before a statement reaches the
// upstream and before a result's completion reaches the client, so nothing runs or completes
// unrecorded; if the log fails, durable() fails and the session ends. Result rows are recorded
// in chunks (masked, and raw when the recorder keeps raw payloads), so memory stays bounded.
// One per session; used from the session's executor only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/recorder.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "proto/pg/tracker.h"
#include "server/stream.h"
#include "sql/statement.h"

namespace jg::server {

class SessionAudit {
 public:
  SessionAudit(std::shared_ptr<audit::Recorder> recorder, std::string session_id,
               asio::any_io_executor executor);

  bool strict() const { return recorder_->strict(); }
  void connect(audit::ConnectEvent e);
  void auth(bool ok, std::string_view method, const identity::Identity* who, std::string reason);
  // Records a statement and its decision; returns its id for the result events that follow.
  // `tables` are schema-qualified as the session resolved them.
  uint64_t statement(std::string_view sql, const sql::Classification* c,
                     std::vector<std::string> tables, const policy::Decision& d,
                     std::string_view protocol, std::string_view prepared_name,
                     std::string review_id = {});
  // A Bind: the bound statement's text with its parameters (sealed by the recorder).
  void bind(std::string_view sql, std::string_view statement_name,
            const std::vector<std::optional<std::string>>& params);
  // `document_column` is the index of the resource's document id column, or -1.
  void resultStart(const pg::Columns& cols, int document_column);
  // One DataRow: as sent to the client, and before masking when it was rewritten.
  void row(std::string_view sent_payload, std::string_view raw_payload);
  void resultEnd(std::string_view tag, const std::map<std::string, uint64_t>& masked);
  void error(std::string_view source, std::string_view severity, std::string_view sqlstate,
             std::string_view message);
  void sessionEnd(std::string reason);

  // Waits until everything recorded so far is durable (strict mode).
  asio::awaitable<Status> durable();
  const Status& failure() const { return failure_; }

 private:
  void append(audit::EventBody body);
  void flushRows();

  std::shared_ptr<audit::Recorder> recorder_;
  std::string session_id_;
  asio::any_io_executor executor_;
  struct Shared {
    uint64_t durable = 0;
    Status failure;
    std::shared_ptr<asio::steady_timer> waiter;
  };
  std::shared_ptr<Shared> shared_;
  uint64_t appended_ = 0;
  Status failure_;
  uint64_t statement_id_ = 0;
  uint64_t current_ = 0;  // statement whose result is streaming
  std::vector<audit::Row> rows_, raw_rows_;
  bool any_raw_ = false;
  int document_column_ = -1;
  std::vector<std::string> document_ids_;
  uint64_t result_rows_ = 0, result_bytes_ = 0, total_rows_ = 0;
};

}  // namespace jg::server
