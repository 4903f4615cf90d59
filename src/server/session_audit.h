// SessionAudit: what one session writes to the audit log, and the durability waits that strict
// mode imposes on the data path.
//
// Events go to the shared Recorder asynchronously. In strict mode the pumps call durable() before
// a statement reaches the upstream and before a result's completion reaches the client, so
// nothing runs or completes unrecorded; if the log fails, durable() fails and the session ends.
// durable() waits for the session's last record only (the recorder completes tickets in order):
// it returns at once when that is already durable, else one completion is posted back to the
// session's executor.
//
// When the log cannot be written (any durability mode), every session behaves as in strict mode
// without waiting: new statements are refused (writable(), checked by the session's gate), and
// a batch that carries a statement, or a completion, passes only if the statements and results
// it depends on were durable before the failure; otherwise durable() fails with 58030 and the
// session ends. The records themselves stay queued in the recorder and are written once it
// recovers. A session whose record could not even be queued ends at its next statement or
// completion.
//
// A result that completes within one chunk of rows is recorded as one `result` record (columns,
// rows, completion); a longer one as result_start, result_rows chunks and result_end, so memory
// stays bounded. Rows are recorded as sent to the client (masked); the raw row is recorded too
// (sealed, when the recorder keeps raw payloads) only for rows that masking changed.
// One per session; used from the session's executor only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
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
  ~SessionAudit();
  SessionAudit(const SessionAudit&) = delete;
  SessionAudit& operator=(const SessionAudit&) = delete;

  // True while the log can be written; while false the session refuses new statements.
  bool writable() const { return recorder_->writable(); }
  // True when the pumps must call durable() before sending statements and completions: in
  // strict mode, while the log cannot be written, and once a record of this session was lost.
  bool strict() const { return recorder_->strict() || !recorder_->writable() || !failure_.isOk(); }
  void connect(audit::ConnectEvent e);
  void auth(bool ok, std::string_view method, const identity::Identity* who, std::string reason);
  // Records a statement and its decision; returns its id for the result events that follow.
  // `tables` are schema-qualified as the session resolved them.
  uint64_t statement(std::string_view sql, const sql::Classification* c,
                     std::vector<std::string> tables, const policy::Decision& d,
                     std::string_view protocol, std::string_view prepared_name,
                     std::string review_id = {}, std::vector<std::string> documents = {});
  // A Bind: the bound statement's text with its parameters (sealed by the recorder), `notes`
  // saying how each was shown (audit::StatementEvent::param_notes) and the documents its WHERE
  // clause names with these values. When the Parse of `statement_name` was recorded here, the
  // bind carries that record's text, kind, tables, fingerprint and decision (a refused Parse
  // stays refused: its bind is not the substitute the server was sent) and refers to it.
  void bind(std::string_view sql, std::string_view statement_name,
            const std::vector<std::optional<std::string>>& params,
            std::vector<std::string> notes = {}, std::vector<std::string> documents = {});
  // A Close of prepared statement `name`: its Parse is no longer what a Bind of it executes.
  void forgetStatement(std::string_view name);
  // `document_column` is the index of the resource's document id column, or -1.
  // `statement` is the record the result answers (Tracker::frontTag); 0 = the last recorded.
  void resultStart(const pg::Columns& cols, int document_column, uint64_t statement = 0);
  // One DataRow: as sent to the client, and before masking when it was rewritten.
  void row(std::string_view sent_payload, std::string_view raw_payload);
  void resultEnd(std::string_view tag, const std::map<std::string, uint64_t>& masked);
  // `statement`: the record the error answers; 0 = the last recorded (the gateway's own
  // refusals, recorded as the statement is decided).
  void error(std::string_view source, std::string_view severity, std::string_view sqlstate,
             std::string_view message, uint64_t statement = 0);
  // The id of the last statement or bind record, to tag the request it belongs to.
  uint64_t lastRecord() const { return current_; }
  void sessionEnd(std::string reason);

  // What durable() needs while the log is writable: every record so far. While it is not,
  // refusals and errors (whose answers carry no data) may stay queued: kBeforeSend (a batch
  // with statements) needs the records up to the last statement that may run (not denied) or
  // bind; kAll (a completion) also the result records.
  enum class Need { kAll, kBeforeSend };
  // Waits until everything recorded so far is durable (strict mode). Rows of a result still in
  // progress are not included (they are recorded with the result's completion).
  asio::awaitable<Status> durable(Need need = Need::kAll);
  const Status& failure() const { return failure_; }

 private:
  void append(audit::EventBody body);
  // Records the pending result_start (if any) and the buffered rows as a result_rows chunk.
  void flushRows();
  void clearResult();
  // The statement the streaming result belongs to (as it was when the result started).
  uint64_t resultStatement() const { return result_stmt_ != 0 ? result_stmt_ : current_; }
  uint64_t owner(uint64_t statement) const { return statement != 0 ? statement : current_; }

  std::shared_ptr<audit::Recorder> recorder_;
  std::string session_id_;
  asio::any_io_executor executor_;
  // Shared with the completion posted back by the recorder, which may outlive this object.
  struct Shared {
    bool done = false;
    Status failure;
    asio::steady_timer* timer = nullptr;  // set while durable() waits
  };
  std::shared_ptr<Shared> shared_;
  asio::steady_timer wait_timer_;
  audit::Recorder::Ticket last_ticket_ = 0;
  audit::Recorder::Ticket send_ticket_ = 0;   // the last statement or bind that may run
  audit::Recorder::Ticket vital_ticket_ = 0;  // ... or result record
  Status failure_;
  uint64_t statement_id_ = 0;
  uint64_t current_ = 0;      // the last statement recorded
  uint64_t result_stmt_ = 0;  // statement of the result being recorded (0: current_)
  // The result being recorded.
  bool start_pending_ = false;  // resultStart() seen, result_start not recorded yet
  std::vector<audit::Column> columns_;
  std::vector<audit::Row> rows_;
  audit::RawRows raw_rows_;  // empty, or parallel to rows_ once a row was changed by masking
  int document_column_ = -1;
  std::vector<std::string> document_ids_;
  uint64_t result_rows_ = 0, result_bytes_ = 0, total_rows_ = 0;
  // The recorded Parse of each prepared statement name (without parameters), for its binds.
  // Bounded by kMaxParsed: past it, binds of further named statements are recorded without
  // their Parse's decision (the tracker refuses statements past limits.max_statements anyway).
  static constexpr size_t kMaxParsed = 10000;
  std::unordered_map<std::string, audit::StatementEvent> parsed_;
};

}  // namespace jg::server
