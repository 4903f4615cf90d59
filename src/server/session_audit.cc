#include "server/session_audit.h"

#include <fmt/format.h>

#include <algorithm>

#include "audit/codec.h"
#include "proto/pg/decode.h"
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
      executor_(std::move(executor)),
      shared_(std::make_shared<Shared>()) {}

void SessionAudit::append(audit::EventBody body) {
  uint64_t seq = ++appended_;
  if (!recorder_->strict()) {
    // Nothing waits for durability outside strict mode: no completion to hand back (a failing
    // log is still reported by the recorder's health and the next strict session).
    recorder_->appendAsync(audit::Event{session_id_, {}, std::move(body)}, {});
    shared_->durable = seq;
    return;
  }
  recorder_->appendAsync(audit::Event{session_id_, {}, std::move(body)},
                         [shared = shared_, ex = executor_, seq](const Status& st) {
                           asio::post(ex, [shared, seq, st] {
                             if (!st && shared->failure.isOk()) {
                               shared->failure = st;
                             }
                             shared->durable = std::max(shared->durable, seq);
                             if (shared->waiter) {
                               shared->waiter->cancel();
                             }
                           });
                         });
}

asio::awaitable<Status> SessionAudit::durable() {
  flushRows();
  while (shared_->failure.isOk() && shared_->durable < appended_) {
    shared_->waiter = std::make_shared<asio::steady_timer>(executor_, std::chrono::seconds(30));
    auto timer = shared_->waiter;
    auto [ec] = co_await timer->async_wait(kNoThrow);
    shared_->waiter.reset();
    if (!ec) {
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
                                 std::string review_id) {
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
  e.protocol = std::string(protocol);
  e.prepared_name = audit::toValidUtf8(prepared_name);
  e.reason = audit::toValidUtf8(e.reason);
  current_ = e.statement_id;
  append(std::move(e));
  return statement_id_;
}

void SessionAudit::bind(std::string_view sql, std::string_view statement_name,
                        const std::vector<std::optional<std::string>>& params) {
  audit::StatementEvent e;
  e.statement_id = ++statement_id_;
  e.text = audit::toValidUtf8(sql);
  e.decision = "allow";
  e.protocol = "bind";
  e.prepared_name = audit::toValidUtf8(statement_name);
  e.setParams(params);
  current_ = e.statement_id;
  append(std::move(e));
}

void SessionAudit::resultStart(const pg::Columns& cols, int document_column) {
  document_column_ = document_column;
  audit::ResultStartEvent e;
  e.statement_id = current_;
  for (const auto& c : cols) {
    e.columns.push_back(audit::Column{audit::toValidUtf8(c.name), c.type_oid, {}, c.format});
  }
  append(std::move(e));
}

void SessionAudit::row(std::string_view sent_payload, std::string_view raw_payload) {
  rows_.push_back(toRow(sent_payload));
  if (document_column_ >= 0) {
    // The id as stored (before masking), so lineage holds even when the column is masked.
    audit::Row raw = raw_payload.empty() ? rows_.back() : toRow(raw_payload);
    if (static_cast<size_t>(document_column_) < raw.size() && raw[document_column_] &&
        std::find(document_ids_.begin(), document_ids_.end(), *raw[document_column_]) ==
            document_ids_.end()) {
      document_ids_.push_back(*raw[document_column_]);
    }
  }
  if (!raw_payload.empty()) {
    any_raw_ = true;
  }
  raw_rows_.push_back(toRow(raw_payload.empty() ? sent_payload : raw_payload));
  ++result_rows_;
  ++total_rows_;
  result_bytes_ += sent_payload.size();
  if (rows_.size() >= kRowsPerChunk) {
    flushRows();
  }
}

void SessionAudit::flushRows() {
  if (rows_.empty()) {
    return;
  }
  audit::ResultRowsEvent e;
  e.statement_id = current_;
  e.rows = std::move(rows_);
  e.document_ids = std::move(document_ids_);
  document_ids_.clear();
  if (any_raw_) {
    e.setRawRows(raw_rows_);
  }
  rows_.clear();
  raw_rows_.clear();
  any_raw_ = false;
  append(std::move(e));
}

void SessionAudit::resultEnd(std::string_view tag, const std::map<std::string, uint64_t>& masked) {
  flushRows();
  audit::ResultEndEvent e;
  e.statement_id = current_;
  e.command_tag = audit::toValidUtf8(tag);
  e.rows = result_rows_;
  e.bytes = result_bytes_;
  e.masked_cells = masked;
  result_rows_ = 0;
  result_bytes_ = 0;
  append(std::move(e));
}

void SessionAudit::error(std::string_view source, std::string_view severity,
                         std::string_view sqlstate, std::string_view message) {
  flushRows();
  audit::ErrorEvent e;
  e.statement_id = current_;
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

}  // namespace jg::server
