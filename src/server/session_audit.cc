#include "server/session_audit.h"

#include <fmt/format.h>

#include <algorithm>

#include "audit/codec.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/gateway.h"
#include "server/session.h"
#include "sql/kind.h"

namespace jg::server {
namespace {

constexpr size_t kRowsPerChunk = 256;

audit::Row toRow(std::string_view payload) {
  audit::Row row;
  pg::DataRowReader r(payload);
  pg::DataRowReader::Cell c;
  while (r.next(c)) {
    row.push_back(c.null ? std::nullopt : std::optional<std::string>(std::string(c.bytes)));
  }
  return row;
}

}  // namespace

SessionAudit::SessionAudit(std::shared_ptr<audit::Recorder> recorder, std::string session_id,
                           asio::any_io_executor executor)
    : recorder_(std::move(recorder)),
      session_id_(std::move(session_id)),
      executor_(executor),
      shared_(std::make_shared<Shared>()),
      wait_timer_(std::move(executor)) {}

SessionAudit::~SessionAudit() {
  shared_->timer = nullptr;  // a completion still in flight must not touch the timer
}

void SessionAudit::append(audit::EventBody body) {
  // A statement that may run (allowed, or held for review and sent once approved) or a bind;
  // results are what a completion carries to the client.
  const auto* st = std::get_if<audit::StatementEvent>(&body);
  bool runs = st != nullptr && st->decision != "deny";
  bool result = std::holds_alternative<audit::ResultStartEvent>(body) ||
                std::holds_alternative<audit::ResultRowsEvent>(body) ||
                std::holds_alternative<audit::ResultEndEvent>(body) ||
                std::holds_alternative<audit::ResultEvent>(body);
  auto ticket = recorder_->submit(audit::Event{session_id_, {}, std::move(body)});
  if (!ticket) {
    // Outside strict mode nothing waits: a failing log is reported by the recorder's health
    // and ends strict sessions; here it is kept for durable().
    if (failure_.isOk()) {
      failure_ = ticket.status();
    }
    return;
  }
  last_ticket_ = *ticket;
  send_ticket_ = runs ? *ticket : send_ticket_;
  vital_ticket_ = runs || result ? *ticket : vital_ticket_;
}

asio::awaitable<Status> SessionAudit::durable(Need need) {
  if (!failure_.isOk()) {
    co_return failure_;
  }
  audit::Recorder::Ticket target = last_ticket_;
  if (!recorder_->writable()) {
    // Refusals and errors recorded since stay queued: their answers carry no data.
    target = need == Need::kBeforeSend ? send_ticket_ : vital_ticket_;
  }
  if (target == 0 || recorder_->durableUpto() >= target) {
    co_return shared_->failure;
  }
  shared_->done = false;
  recorder_->whenDurable(target, [shared = shared_, ex = executor_](const Status& st) {
    asio::post(ex, [shared, st] {
      if (!st && shared->failure.isOk()) {
        shared->failure = st;
      }
      shared->done = true;
      if (shared->timer != nullptr) {
        shared->timer->cancel();
      }
    });
  });
  while (!shared_->done) {
    shared_->timer = &wait_timer_;
    wait_timer_.expires_after(std::chrono::seconds(30));
    auto [ec] = co_await wait_timer_.async_wait(kNoThrow);
    shared_->timer = nullptr;
    if (!ec && !shared_->done) {
      co_return Status::error(Code::kUnavailable,
                              "audit log unavailable: a record was not durable within 30 s",
                              "58030");
    }
  }
  co_return shared_->failure;
}

void SessionAudit::connect(audit::ConnectEvent e) {
  e.application_name = audit::toValidUtf8(e.application_name);
  e.db_user = audit::toValidUtf8(e.db_user);
  e.resource = audit::toValidUtf8(e.resource);
  append(std::move(e));
}

void SessionAudit::auth(bool ok, std::string_view method, const identity::Identity* who,
                        std::string reason) {
  audit::AuthEvent e;
  e.ok = ok;
  e.method = std::string(method);
  if (who != nullptr) {
    e.principal = audit::Principal::from(*who);
  }
  e.reason = audit::toValidUtf8(reason);
  append(std::move(e));
}

uint64_t SessionAudit::statement(std::string_view sql, const sql::Classification* c,
                                 std::vector<std::string> tables, const policy::Decision& d,
                                 std::string_view protocol, std::string_view prepared_name,
                                 std::string review_id, std::vector<std::string> documents) {
  audit::StatementEvent e;
  e.statement_id = ++statement_id_;
  e.text = audit::toValidUtf8(sql);
  if (c != nullptr && c->status.isOk()) {
    for (const auto& st : c->statements) {
      e.kind += (e.kind.empty() ? "" : ",") + std::string(sql::kindName(st.kind));
      e.fingerprint += fmt::format("{}{:016x}", e.fingerprint.empty() ? "" : ",", st.fingerprint);
    }
  }
  e.tables = std::move(tables);
  e.decision = std::string(policy::effectName(d.effect));
  e.rule_id = std::string(d.rule_id);
  e.reason = std::string(d.reason);
  e.review_id = std::move(review_id);
  e.document_ids = std::move(documents);
  e.protocol = std::string(protocol);
  e.prepared_name = audit::toValidUtf8(prepared_name);
  e.reason = audit::toValidUtf8(e.reason);
  current_ = e.statement_id;
  if (e.protocol == "extended" && (parsed_.size() < kMaxParsed || prepared_name.empty() ||
                                   parsed_.contains(std::string(prepared_name)))) {
    parsed_[std::string(prepared_name)] = e;
  }
  append(std::move(e));
  return statement_id_;
}

void SessionAudit::bind(std::string_view sql, std::string_view statement_name,
                        const std::vector<std::optional<std::string>>& params,
                        std::vector<std::string> notes, std::vector<std::string> documents) {
  audit::StatementEvent e;
  if (auto it = parsed_.find(std::string(statement_name)); it != parsed_.end()) {
    e = it->second;  // text, kind, tables, fingerprint, decision, rule, reason, review, grant
    e.parse_id = it->second.statement_id;
  } else {
    e.text = audit::toValidUtf8(sql);
    e.decision = "allow";
  }
  e.statement_id = ++statement_id_;
  e.protocol = "bind";
  e.prepared_name = audit::toValidUtf8(statement_name);
  e.setParams(params);
  bool any_note = std::any_of(notes.begin(), notes.end(), [](const auto& n) { return !n.empty(); });
  e.param_notes = any_note ? std::move(notes) : std::vector<std::string>{};
  e.document_ids = std::move(documents);
  current_ = e.statement_id;
  append(std::move(e));
}

void SessionAudit::forgetStatement(std::string_view name) {
  parsed_.erase(std::string(name));
}

void SessionAudit::resultStart(const pg::Columns& cols, int document_column, uint64_t statement) {
  if (start_pending_ || !rows_.empty()) {
    flushRows();  // an earlier result that did not complete
  }
  document_column_ = document_column;
  result_stmt_ = owner(statement);
  columns_.clear();
  columns_.reserve(cols.size());
  for (const auto& c : cols) {
    columns_.push_back(audit::Column{audit::toValidUtf8(c.name), c.type_oid, {}, c.format});
  }
  start_pending_ = true;
}

void SessionAudit::row(std::string_view sent_payload, std::string_view raw_payload) {
  rows_.push_back(toRow(sent_payload));
  // The raw row is kept only when masking changed the row; else the sent row is the raw row.
  bool changed = !raw_payload.empty() && raw_payload != sent_payload;
  if (changed) {
    raw_rows_.resize(rows_.size() - 1);
    raw_rows_.push_back(toRow(raw_payload));
  } else if (!raw_rows_.empty()) {
    raw_rows_.emplace_back();
  }
  if (document_column_ >= 0) {
    // The id as stored (before masking), so lineage holds even when the column is masked.
    const audit::Row& raw = changed ? *raw_rows_.back() : rows_.back();
    if (static_cast<size_t>(document_column_) < raw.size() && raw[document_column_] &&
        std::find(document_ids_.begin(), document_ids_.end(), *raw[document_column_]) ==
            document_ids_.end()) {
      document_ids_.push_back(*raw[document_column_]);
    }
  }
  ++result_rows_;
  ++total_rows_;
  result_bytes_ += sent_payload.size();
  if (rows_.size() >= kRowsPerChunk) {
    flushRows();
  }
}

void SessionAudit::flushRows() {
  if (start_pending_) {
    start_pending_ = false;
    append(audit::ResultStartEvent{resultStatement(), std::move(columns_)});
    columns_.clear();
  }
  if (rows_.empty()) {
    return;
  }
  audit::ResultRowsEvent e;
  e.statement_id = resultStatement();
  e.rows = std::move(rows_);
  e.document_ids = std::move(document_ids_);
  if (!raw_rows_.empty()) {
    e.setChangedRawRows(raw_rows_);
  }
  rows_.clear();
  raw_rows_.clear();
  document_ids_.clear();
  append(std::move(e));
}

void SessionAudit::clearResult() {
  start_pending_ = false;
  result_stmt_ = 0;
  columns_.clear();
  rows_.clear();
  raw_rows_.clear();
  document_ids_.clear();
  result_rows_ = 0;
  result_bytes_ = 0;
}

void SessionAudit::resultEnd(std::string_view tag, const std::map<std::string, uint64_t>& masked) {
  if (start_pending_) {
    // The whole result is here: one record for its columns, rows and completion.
    audit::ResultEvent e;
    e.statement_id = resultStatement();
    e.columns = std::move(columns_);
    e.rows = std::move(rows_);
    e.document_ids = std::move(document_ids_);
    if (!raw_rows_.empty()) {
      e.setChangedRawRows(raw_rows_);
    }
    e.command_tag = audit::toValidUtf8(tag);
    e.bytes = result_bytes_;
    e.masked_cells = masked;
    clearResult();
    append(std::move(e));
    return;
  }
  flushRows();
  audit::ResultEndEvent e;
  e.statement_id = resultStatement();
  e.command_tag = audit::toValidUtf8(tag);
  e.rows = result_rows_;
  e.bytes = result_bytes_;
  e.masked_cells = masked;
  clearResult();
  append(std::move(e));
}

void SessionAudit::error(std::string_view source, std::string_view severity,
                         std::string_view sqlstate, std::string_view message, uint64_t statement) {
  flushRows();
  result_stmt_ = 0;  // rows after an error belong to whatever statement comes next
  audit::ErrorEvent e;
  e.statement_id = owner(statement);
  e.source = std::string(source);
  e.severity = audit::toValidUtf8(severity);
  e.sqlstate = audit::toValidUtf8(sqlstate);
  e.message = audit::toValidUtf8(message);
  append(std::move(e));
}

void SessionAudit::sessionEnd(std::string reason) {
  flushRows();
  audit::SessionEndEvent e;
  e.reason = audit::toValidUtf8(reason);
  e.statements = statement_id_;
  e.rows = total_rows_;
  append(std::move(e));
}

// The session's gate while the audit log cannot be written; it lives here with the rest of the
// recording code. The statement is recorded as refused (queued: written once the log recovers)
// and answered with ERROR 58030; the session stays open. A substitute the server rejects at the
// same position keeps PostgreSQL's transaction semantics, as for any refusal.
}  // namespace jg::server
