// Results of a Session: what the upstream answers, recorded in the audit log, limited in rows,
// and masked before the client sees it. Called by the server pump (relay.cc).
#include <fmt/format.h>
#include <algorithm>

#include "core/log.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/param_text.h"
#include "server/catalog.h"
#include "server/config.h"
#include "server/gateway.h"
#include "server/lineage_rules.h"
#include "server/session.h"

namespace jg::server {

void Session::recordBind(std::string_view payload) {
  pg::Bind b;
  if (!pg::decodeBind(payload, b)) {
    return;  // the tracker refused it already
  }
  // Binary values are recorded decoded by their type (hex, with a note, when not decodable).
  std::vector<uint32_t> types = tracker_.statementParamTypes(b.statement);
  std::vector<std::optional<std::string>> params;
  std::vector<std::string> notes;
  params.reserve(b.params.size());
  for (size_t i = 0; i < b.params.size(); ++i) {
    const auto& v = b.params[i];
    if (v.null) {
      params.emplace_back();
      notes.emplace_back();
      continue;
    }
    pg::ParamText t = pg::paramText(v.bytes, pg::paramFormat(b.param_formats, i),
                                    i < types.size() ? types[i] : 0);
    params.emplace_back(std::move(t.text));
    notes.push_back(std::move(t.note));
  }
  pg::SqlText sql = tracker_.statementSql(b.statement);
  std::vector<std::string> documents =
      sql ? whereDocuments(*sql, params, resource_cfg_->documents_schema,
                           resource_cfg_->documents_table, resource_cfg_->documents_id_column,
                           sql_ctx_)
          : std::vector<std::string>{};
  audit_->bind(sql ? std::string_view(*sql) : std::string_view(), b.statement, params,
               std::move(notes), std::move(documents));
}

// Tags the request just given to the tracker with the audit record its answer belongs to: a
// Query with its statement record, an Execute with the Bind record of its portal (so results
// and errors of pipelined requests are credited to the right statement).
void Session::tagRequest(const pg::Frame& frame) {
  if (frame.type == pg::fe::kQuery || frame.type == pg::fe::kParse || frame.type == pg::fe::kBind) {
    tracker_.tagLast(audit_->lastRecord());
  } else if (frame.type == pg::fe::kExecute) {
    pg::Execute e;
    if (pg::decodeExecute(frame.payload, e)) {
      uint64_t bind = tracker_.portalTag(e.portal);
      tracker_.tagLast(bind != 0 ? bind : audit_->lastRecord());
    }
  }
}

// A result went over its row limit: the client gets an error after the rows within the limit,
// and the rest of the answer is withheld (read and dropped) up to ReadyForQuery.
void Session::withholdOverLimit(std::string& out) {
  std::string message =
      fmt::format("the result has more than {} rows, the limit set by {}; the rest was withheld",
                  tracker_.currentRowLimit(), tracker_.currentRowLimitBy());
  log::info(id_, "{}", message);
  if (audit_) {
    audit_->error("gateway", "ERROR", "54000", message);
  }
  pg::encodeError(out, "ERROR", "54000", message,
                  "ask for fewer rows (LIMIT, a narrower WHERE), or for a rule with a higher "
                  "row_limit");
  discard_until_ready_ = true;
}

bool Session::recordBackend(const pg::Frame& frame, uint64_t owner) {
  switch (frame.type) {
    case pg::be::kCommandComplete:
    case pg::be::kEmptyQueryResponse:
    case pg::be::kPortalSuspended: {
      pg::CommandComplete cc;
      if (frame.type == pg::be::kCommandComplete) {
        (void)pg::decodeCommandComplete(frame.payload, cc);
      }
      audit_->resultEnd(cc.tag, maskedSinceResultStart());
      countMasked();
      result_started_ = false;
      return true;
    }
    case pg::be::kErrorResponse: {
      pg::ErrorFields f;
      if (pg::decodeErrorFields(frame.payload, f)) {
        audit_->error("upstream", f.get('S'), f.get('C'), f.get('M'), owner);
      }
      return true;
    }
    default:
      return false;
  }
}

asio::awaitable<Status> Session::loadCatalog(const std::vector<uint32_t>& oids) {
  // Blocking libpq work on the pool. Named task and result: see verifyToken().
  auto task = [catalog = catalog_, oids]() -> asio::awaitable<Status> {
    co_return catalog->load(oids);
  };
  Status st = co_await asio::co_spawn(services_.blockingPool(), task, asio::use_awaitable);
  co_return st;
}

asio::awaitable<int> Session::documentColumn(const pg::Columns& cols) {
  if (resource_cfg_->documents_table.empty() || !catalog_) {
    co_return -1;
  }
  std::vector<uint32_t> oids;
  for (const auto& c : cols) {
    if (c.table_oid != 0 && std::find(oids.begin(), oids.end(), c.table_oid) == oids.end()) {
      oids.push_back(c.table_oid);
    }
  }
  if (auto missing = catalog_->missing(oids); !missing.empty()) {
    if (Status st = co_await loadCatalog(missing); !st) {
      log::warn(id_, "document lineage unavailable for this result: {}", st.message());
      co_return -1;
    }
  }
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].table_oid == 0) {
      continue;
    }
    auto name = catalog_->lookup(cols[i].table_oid, cols[i].column);
    if (name && name->schema == resource_cfg_->documents_schema &&
        name->table == resource_cfg_->documents_table &&
        name->column == resource_cfg_->documents_id_column) {
      co_return static_cast<int>(i);
    }
  }
  co_return -1;
}

void Session::withholdMaskingFailure(const Status& failure, std::string& out) {
  log::warn(id_, "{}", failure.message());
  pg::encodeError(out, "ERROR", sqlstateFor(failure), failure.message());
  discard_until_ready_ = true;
}

std::map<std::string, uint64_t> Session::maskedSinceResultStart() {
  std::map<std::string, uint64_t> masked;
  if (!masker_) {
    return masked;
  }
  for (const auto& [label, n] : masker_->counters().by_label) {
    auto before = masked_before_.find(label);
    uint64_t was = before == masked_before_.end() ? 0 : before->second;
    if (n > was) {
      masked[label] = n - was;
    }
  }
  masked_before_ = masker_->counters().by_label;
  return masked;
}

asio::awaitable<void> Session::recordResultStart(uint64_t owner) {
  result_started_ = true;
  if (const auto& cols = tracker_.currentColumns()) {
    int doc = co_await documentColumn(*cols);
    audit_->resultStart(*cols, doc, owner);
  }
  if (masker_) {
    masked_before_ = masker_->counters().by_label;
  }
}

bool Session::needsCatalog(char type) {
  return type == pg::be::kRowDescription || type == pg::be::kCopyOutResponse;
}

Result<bool> Session::maskBackendNow(const pg::Frame& frame, std::string& out) {
  switch (frame.type) {
    case pg::be::kDataRow:
      return masker_->onDataRow(frame.payload, tracker_.currentColumns(), out);
    case pg::be::kErrorResponse:
    case pg::be::kNoticeResponse:
      return masker_->onErrorOrNotice(frame.type, frame.payload, out);
    case pg::be::kNotificationResponse:
      return masker_->onNotification(frame.payload, out);
    case pg::be::kParameterStatus:
      return masker_->onParameterStatus(frame.payload, out);
    case pg::be::kCopyData:
      return masker_->onCopyData(frame.payload, out);
    default:
      return false;
  }
}

asio::awaitable<Result<bool>> Session::maskBackend(const pg::Frame& frame, std::string& out) {
  if (frame.type == pg::be::kRowDescription) {
    Result<bool> r = co_await maskRowDescription(frame, out);
    co_return r;
  }
  // CopyOutResponse: the column order of `COPY t` (and of a `*` over t) comes from the catalog.
  std::vector<std::vector<TableColumns>> found;
  if (Status st = co_await loadCopyTables(found); !st) {
    co_return st;
  }
  if (Status st = masker_->onCopyOutResponse(frame.payload, found); !st) {
    co_return st;
  }
  co_return false;
}

asio::awaitable<Result<bool>> Session::maskRowDescription(const pg::Frame& frame,
                                                          std::string& out) {
  pg::RowDescription rd;
  if (!pg::decodeRowDescription(frame.payload, rd)) {
    co_return protocolError("upstream sent a malformed RowDescription");
  }
  // The tracker has just seen this RowDescription: its columns are the statement's or portal's
  // own, kept while they do not change, so the masking plans cached for them are reused.
  pg::ColumnsPtr cols = tracker_.describedColumns();
  if (!cols || cols->size() != rd.fields.size()) {
    cols = pg::toColumns(rd);
  }
  std::vector<uint32_t> missing = masker_->tablesToLoad(*cols);
  if (!missing.empty()) {
    if (Status st = co_await loadCatalog(missing); !st) {
      co_return Status::error(Code::kInternal, st.message(), "22000");
    }
  }
  co_return masker_->onRowDescription(rd, cols, out);
}

// Off the I/O thread. Named task and result: GCC 12 destroys temporaries of a co_await
// expression twice.
asio::awaitable<Status> Session::loadCopyTables(std::vector<std::vector<TableColumns>>& found) {
  if (!catalog_) {
    co_return Status::ok();
  }
  for (const CopyTableLoad& load : masker_->copyTablesToLoad()) {
    auto tables = std::make_shared<std::vector<TableColumns>>();
    auto task = [catalog = catalog_, load, tables]() -> asio::awaitable<Status> {
      Result<std::vector<TableColumns>> r = catalog->tableColumns(load.table, load.schemas);
      if (r) {
        *tables = std::move(*r);
      }
      co_return r.status();
    };
    Status st = co_await asio::co_spawn(services_.blockingPool(), task, asio::use_awaitable);
    if (!st) {
      co_return Status::error(Code::kInternal, st.message(), "22000");
    }
    found.push_back(std::move(*tables));
  }
  co_return Status::ok();
}

asio::awaitable<Status> Session::watchdog() {
  auto idle = rt_->config->timeouts.idle;
  asio::steady_timer timer(ex_);
  for (;;) {
    auto tick = idle.count() > 0
                    ? std::min<std::chrono::milliseconds>(idle, std::chrono::seconds(1))
                    : std::chrono::milliseconds(std::chrono::hours(24));
    if (deadline_ != std::chrono::system_clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::system_clock::now());
      tick = std::clamp(left, std::chrono::milliseconds(0),
                        std::min<std::chrono::milliseconds>(tick, std::chrono::seconds(1)));
    }
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) {
      co_return Status::ok();  // cancelled: the session is ending
    }
    if (fatal_) {
      co_return Status::ok();
    }
    if (std::chrono::system_clock::now() >= deadline_) {
      co_return Status::error(Code::kPermissionDenied, deadline_reason_, "28000");
    }
    if (idle.count() > 0 && !tracker_.busy() &&
        std::chrono::steady_clock::now() - last_activity_ > idle) {
      co_return Status::error(
          Code::kUnavailable,
          fmt::format("terminating connection due to idle timeout ({} ms)", idle.count()), "57P05");
    }
  }
}

}  // namespace jg::server
