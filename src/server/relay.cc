// The relay half of Session: the two pumps and the idle watchdog.
//
// Each pump reads into its buffer, frames every complete message, checks it with the Tracker,
// and writes the batch on in one gather write. Messages pass through unchanged as slices of the
// read buffer (no copy); messages the gateway rewrites go into `extra`. The buffer grows only to
// hold one message larger than itself (bounded by limits.max_message_bytes) and shrinks back.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <cstring>

#include "core/log.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"
#include "server/gateway.h"
#include "server/session.h"

namespace jg::server {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

// Read sizes adapt: a session starts small (idle sessions cost little memory) and doubles its
// read size while reads fill the buffer (large results stream in big reads).
constexpr size_t kMinChunk = 8 * 1024;
constexpr size_t kMaxChunk = 256 * 1024;
constexpr size_t kShrinkAbove = 1 << 20;

// A batch of output pieces, each a slice of the read buffer or of `extra`.
class Batch {
 public:
  void forward(size_t off, size_t len) {
    if (!pieces_.empty() && !pieces_.back().extra &&
        pieces_.back().off + pieces_.back().len == off) {
      pieces_.back().len += len;
      return;
    }
    pieces_.push_back({false, off, len});
  }
  std::string& beginExtra(size_t& mark) {
    mark = extra_.size();
    return extra_;
  }
  void endExtra(size_t mark) {
    if (extra_.size() > mark) {
      pieces_.push_back({true, mark, extra_.size() - mark});
    }
  }
  bool empty() const { return pieces_.empty(); }
  void buffers(const std::string& in, std::vector<asio::const_buffer>& out) const {
    out.clear();
    for (const auto& p : pieces_) {
      const std::string& src = p.extra ? extra_ : in;
      out.emplace_back(src.data() + p.off, p.len);
    }
  }
  void clear() {
    pieces_.clear();
    extra_.clear();
  }

 private:
  struct Piece {
    bool extra;
    size_t off, len;
  };
  std::vector<Piece> pieces_;
  std::string extra_;
};

// Ensures room to read: `chunk` bytes free, and for a message announced larger than that, room
// that doubles with what has arrived. Memory follows the bytes received, never an announced
// length: a client that announces a 250 MB message and sends nothing more pins kilobytes.
void makeRoom(std::string& buf, size_t used, size_t chunk) {
  size_t need = used + chunk;
  size_t pending = pg::pendingFrameSize(std::string_view(buf.data(), used));
  if (pending > need) {
    need = std::min(pending, std::max(need, 2 * used));
  }
  if (buf.size() < need) {
    buf.resize(need);
  }
}

void compact(std::string& buf, size_t& used, size_t consumed) {
  if (consumed > 0) {
    std::memmove(buf.data(), buf.data() + consumed, used - consumed);
    used -= consumed;
  }
  if (buf.size() > kShrinkAbove && used < kMinChunk) {
    buf.resize(kMinChunk);
    buf.shrink_to_fit();
  }
}

// Sends what the client pump collected to the upstream. In strict durability the statements in
// it are in the audit log first. All arguments live in the caller's frame.
asio::awaitable<Status> sendUpstream(Batch& batch, const std::string& in,
                                     std::vector<asio::const_buffer>& bufs, Stream& upstream,
                                     SessionAudit* audit, bool recorded) {
  if (recorded && audit != nullptr && audit->strict()) {
    if (Status st = co_await audit->durable(SessionAudit::Need::kBeforeSend); !st) {
      co_return st;
    }
  }
  if (!batch.empty()) {
    batch.buffers(in, bufs);
    auto [ec, n] = co_await upstream.write(bufs);
    batch.clear();
    if (ec) {
      co_return Status::error(Code::kUnavailable,
                              "lost connection to the upstream server: " + ec.message(), "08006");
    }
  }
  co_return Status::ok();
}

// The server reports client_encoding and standard_conforming_strings whenever they change
// (GUC_REPORT settings). The gateway pins both at startup and refuses statements that change
// them; a change made where it cannot see one (inside a function body) would make the server read
// the next statements differently from the gateway's parser, so the session ends instead.
Status checkParameterStatus(std::string_view payload) {
  pg::ParameterStatus ps;
  if (!pg::decodeParameterStatus(payload, ps)) {
    return Status::error(Code::kProtocol, "upstream server: malformed ParameterStatus", "08P01");
  }
  if ((ps.name == "client_encoding" && ps.value != "UTF8") ||
      (ps.name == "standard_conforming_strings" && ps.value != "on")) {
    return Status::error(Code::kPermissionDenied,
                         fmt::format("the server's {} changed to \"{}\" where the gateway could "
                                     "not see it; the session ends, since its statements would "
                                     "no longer be read as the gateway reads them",
                                     ps.name, ps.value),
                         "0A000");
  }
  return Status::ok();
}

}  // namespace

asio::awaitable<Status> Session::relay() {
  auto result = co_await (clientPump() || serverPump() || watchdog());
  switch (result.index()) {
    case 0:
      co_return std::get<0>(result);
    case 1:
      co_return std::get<1>(result);
    default:
      co_return std::get<2>(result);
  }
}

asio::awaitable<Status> Session::clientPump() {
  const size_t max_message = rt_->config->limits.max_message_bytes;
  size_t used = pending_client_bytes_.size();
  std::string in(std::max(kMinChunk, used), '\0');
  size_t chunk = kMinChunk;
  std::memcpy(in.data(), pending_client_bytes_.data(), used);
  pending_client_bytes_.clear();
  Batch batch;
  std::vector<asio::const_buffer> bufs;
  for (;;) {
    size_t pos = 0;
    bool recorded = false;  // this batch carries statements the audit log must hold first
    for (;;) {
      pg::Frame frame;
      std::string error;
      auto st =
          pg::nextFrame(std::string_view(in.data() + pos, used - pos), max_message, frame, error);
      if (st == pg::FrameStatus::kNeedMore) {
        break;
      }
      if (st == pg::FrameStatus::kError) {
        co_return protocolError(error);
      }
      if (gated(frame.type)) {
        std::string substitute, error;
        bool refused = refuseMessage(frame, substitute, error);
        if (!refused && !hold_review_.empty()) {
          // Statements before this one go on; this one waits for its review.
          Status sent = co_await sendUpstream(batch, in, bufs, *upstream_, audit_.get(), recorded);
          if (!sent) {
            co_return sent;
          }
          recorded = false;
          Status held = co_await holdForApproval();
          hold_review_.clear();
          if (!held) {
            if (held.sqlstate().empty() && held.code() == Code::kUnavailable) {
              co_return held;  // the client went away
            }
            pg::encodeError(error, "ERROR", sqlstateFor(held), held.message());
            pg::Parse p;
            substituteRefused(frame,
                              frame.type == pg::fe::kParse && pg::decodeParse(frame.payload, p)
                                  ? p.name
                                  : std::string_view(),
                              substitute);
            refused = true;
          }
        }
        if (refused) {
          size_t mark;
          batch.beginExtra(mark) += substitute;
          batch.endExtra(mark);
          pg::Frame sub;
          std::string ignored;
          (void)pg::nextFrame(substitute, max_message, sub, ignored);
          if (auto s = tracker_.onFrontend(sub.type, sub.payload); !s) {
            co_return s;
          }
          tracker_.annotateLast(std::move(error));
          if (audit_) {
            tracker_.tagLast(audit_->lastRecord());
          }
          recorded = true;
          pos += frame.size;
          continue;
        }
      }
      if (auto s = tracker_.onFrontend(frame.type, frame.payload); !s) {
        co_return s;
      }
      if (next_row_limit_ > 0 && (frame.type == pg::fe::kQuery || frame.type == pg::fe::kParse)) {
        tracker_.limitLastRows(next_row_limit_, next_row_limit_by_);
        next_row_limit_ = 0;
      }
      if (audit_ && frame.type == pg::fe::kBind) {
        recordBind(frame.payload);
        recorded = true;
      }
      if (audit_) {
        tagRequest(frame);
      }
      recorded = recorded || frame.type == pg::fe::kQuery || frame.type == pg::fe::kParse;
      batch.forward(pos, frame.size);
      pos += frame.size;
      if (frame.type == pg::fe::kTerminate) {
        client_terminated_ = true;
        break;
      }
    }
    // Strict durability: a statement is in the log before it reaches the upstream.
    Status sent = co_await sendUpstream(batch, in, bufs, *upstream_, audit_.get(), recorded);
    if (!sent) {
      co_return sent;
    }
    if (client_terminated_) {
      co_return Status::ok();
    }
    compact(in, used, pos);
    makeRoom(in, used, chunk);
    auto [ec, n] = co_await client_->readSome(asio::buffer(in.data() + used, in.size() - used));
    if (ec == asio::error::operation_aborted) {
      co_return Status::ok();  // cancelled: another part of the session is ending it
    }
    if (ec) {
      client_terminated_ = true;  // the client went away; nobody to tell
      co_return fatal_ ? Status::ok() : Status::error(Code::kUnavailable, "client disconnected");
    }
    chunk = n == in.size() - used ? std::min(chunk * 2, kMaxChunk) : chunk;
    used += n;
    bytes_from_client_ += n;
    touch();
  }
}

asio::awaitable<Status> Session::serverPump() {
  const size_t max_message = rt_->config->limits.max_message_bytes;
  size_t used = pending_server_bytes_.size();
  std::string in(std::max(kMinChunk, used), '\0');
  size_t chunk = kMinChunk;
  std::memcpy(in.data(), pending_server_bytes_.data(), used);
  pending_server_bytes_.clear();
  Batch batch;
  std::vector<asio::const_buffer> bufs;
  bool completes = false;  // the batch ends a result: strict mode waits for its records
  for (;;) {
    size_t pos = 0;
    for (;;) {
      pg::Frame frame;
      std::string error;
      auto st =
          pg::nextFrame(std::string_view(in.data() + pos, used - pos), max_message, frame, error);
      if (st == pg::FrameStatus::kNeedMore) {
        break;
      }
      if (st == pg::FrameStatus::kError) {
        co_return Status::error(Code::kProtocol, "upstream server: " + error, "08P01");
      }
      if (frame.type == pg::be::kErrorResponse) {
        if (const std::string* replacement = tracker_.frontReplacement()) {
          // The server rejected our substitute for a refused statement: the client gets the
          // gateway's error in its place.
          size_t mark;
          batch.beginExtra(mark) += *replacement;
          batch.endExtra(mark);
          if (auto s = tracker_.onBackend(frame.type, frame.payload); !s) {
            co_return Status::error(Code::kProtocol, "upstream server: " + s.message(), "08P01");
          }
          ++messages_from_server_;
          pos += frame.size;
          continue;
        }
        pg::ErrorFields f;
        if (pg::decodeErrorFields(frame.payload, f) &&
            (f.get('S') == "FATAL" || f.get('S') == "PANIC")) {
          upstream_sent_fatal_ = true;
        }
      }
      if (frame.type == pg::be::kParameterStatus) {
        if (Status ps = checkParameterStatus(frame.payload); !ps) {
          co_return ps;
        }
      }
      if (masker_) {
        masker_->beforeBackend(frame.type, tracker_.activeSql());  // before a request is popped
      }
      uint64_t owner = audit_ ? tracker_.frontTag() : 0;  // before the tracker pops the request
      if (auto s = tracker_.onBackend(frame.type, frame.payload); !s) {
        co_return Status::error(Code::kProtocol, "upstream server: " + s.message(), "08P01");
      }
      ++messages_from_server_;
      if (discard_until_ready_) {
        // Withholding the rest of an answer whose masking failed; the client already has the
        // error. A transaction block is reported failed, as after any error.
        if (frame.type == pg::be::kReadyForQuery) {
          size_t mark;
          pg::encodeReadyForQuery(batch.beginExtra(mark),
                                  tracker_.transactionStatus() == 'I' ? 'I' : 'E');
          batch.endExtra(mark);
          discard_until_ready_ = false;
          result_started_ = false;  // the withheld result's records end with its error
          client_txn_failed_ = tracker_.transactionStatus() == 'T';
        }
        pos += frame.size;
        continue;
      }
      if (frame.type == pg::be::kDataRow && tracker_.rowLimitExceeded()) {
        size_t mark;
        withholdOverLimit(batch.beginExtra(mark));
        batch.endExtra(mark);
        pos += frame.size;
        continue;
      }
      if (frame.type == pg::be::kReadyForQuery && client_txn_failed_ &&
          tracker_.transactionStatus() != 'T') {
        client_txn_failed_ = false;  // the upstream's transaction has ended or failed too
      }
      if (audit_) {
        if (frame.type == pg::be::kDataRow && !result_started_) {
          result_started_ = true;
          if (const auto& cols = tracker_.currentColumns()) {
            int doc = co_await documentColumn(*cols);
            audit_->resultStart(*cols, doc, owner);
          }
          if (masker_) {
            masked_before_ = masker_->counters().by_label;
          }
        }
        completes = recordBackend(frame, owner) || completes;
      }
      if (masker_) {
        size_t mark;
        std::string& extra = batch.beginExtra(mark);
        Result<bool> masked = co_await maskBackend(frame, extra);
        if (!masked) {
          extra.resize(mark);
          if (masked.status().code() == Code::kProtocol) {
            co_return masked.status();
          }
          log::warn(id_, "{}", masked.status().message());
          pg::encodeError(extra, "ERROR", sqlstateFor(masked.status()), masked.status().message());
          batch.endExtra(mark);
          discard_until_ready_ = true;
          pos += frame.size;
          continue;
        }
        if (*masked) {
          if (audit_ && frame.type == pg::be::kDataRow) {
            audit_->row(std::string_view(extra).substr(mark + 5), frame.payload);
          }
          batch.endExtra(mark);
          pos += frame.size;
          continue;
        }
        extra.resize(mark);
      }
      if (audit_ && frame.type == pg::be::kDataRow) {
        audit_->row(frame.payload, {});
      }
      batch.forward(pos, frame.size);
      pos += frame.size;
    }
    if (completes && audit_ && audit_->strict()) {
      // Strict durability: a result completes for the client only once it is in the log.
      if (Status st = co_await audit_->durable(); !st) {
        co_return st;
      }
    }
    completes = false;
    if (!batch.empty()) {
      batch.buffers(in, bufs);
      if (client_write_busy_) {
        co_await waitClientWriteFree();
      }
      client_write_busy_ = true;
      auto [ec, n] = co_await client_->write(bufs);
      client_write_busy_ = false;
      batch.clear();
      if (ec == asio::error::operation_aborted) {
        co_return Status::ok();
      }
      if (ec) {
        client_terminated_ = true;
        co_return Status::error(Code::kUnavailable, "client disconnected");
      }
    }
    compact(in, used, pos);
    makeRoom(in, used, chunk);
    auto [ec, n] = co_await upstream_->readSome(asio::buffer(in.data() + used, in.size() - used));
    if (ec) {
      if (fatal_) {
        co_return Status::ok();
      }
      if (upstream_sent_fatal_) {
        client_terminated_ = true;  // the client already has the server's FATAL
        co_return Status::error(Code::kUnavailable, "upstream server ended the session");
      }
      co_return Status::error(
          Code::kUnavailable,
          fmt::format("lost connection to the upstream server for resource \"{}\": {}", resource_,
                      ec == asio::error::eof ? "server closed the connection" : ec.message()),
          "08006");
    }
    chunk = n == in.size() - used ? std::min(chunk * 2, kMaxChunk) : chunk;
    used += n;
    bytes_from_server_ += n;
  }
}

void Session::recordBind(std::string_view payload) {
  pg::Bind b;
  if (!pg::decodeBind(payload, b)) {
    return;  // the tracker refused it already
  }
  std::vector<std::optional<std::string>> params;
  params.reserve(b.params.size());
  for (const auto& v : b.params) {
    params.push_back(v.null ? std::nullopt : std::optional<std::string>(std::string(v.bytes)));
  }
  pg::SqlText sql = tracker_.statementSql(b.statement);
  audit_->bind(sql ? std::string_view(*sql) : std::string_view(), b.statement, params);
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
      std::map<std::string, uint64_t> masked;
      if (masker_) {
        for (const auto& [label, n] : masker_->counters().by_label) {
          uint64_t before = masked_before_.count(label) ? masked_before_.at(label) : 0;
          if (n > before) {
            masked[label] = n - before;
          }
        }
        masked_before_ = masker_->counters().by_label;
      }
      audit_->resultEnd(cc.tag, masked);
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
  Status st = co_await asio::co_spawn(gateway_.blockingPool(), task, asio::use_awaitable);
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

asio::awaitable<Result<bool>> Session::maskBackend(const pg::Frame& frame, std::string& out) {
  switch (frame.type) {
    case pg::be::kDataRow:
      co_return masker_->onDataRow(frame.payload, tracker_.currentColumns(), out);
    case pg::be::kRowDescription: {
      pg::RowDescription rd;
      if (!pg::decodeRowDescription(frame.payload, rd)) {
        co_return protocolError("upstream sent a malformed RowDescription");
      }
      pg::ColumnsPtr cols = pg::toColumns(rd);
      std::vector<uint32_t> missing = masker_->tablesToLoad(*cols);
      if (!missing.empty()) {
        Status st = co_await loadCatalog(missing);
        if (!st) {
          co_return Status::error(Code::kInternal, st.message(), "22000");
        }
      }
      co_return masker_->onRowDescription(rd, cols, out);
    }
    case pg::be::kErrorResponse:
    case pg::be::kNoticeResponse:
      co_return masker_->onErrorOrNotice(frame.type, frame.payload, out);
    case pg::be::kNotificationResponse:
      co_return masker_->onNotification(frame.payload, out);
    case pg::be::kParameterStatus:
      co_return masker_->onParameterStatus(frame.payload, out);
    case pg::be::kCopyOutResponse: {
      // The column order of `COPY t` (and of a `*` over t) comes from the catalog, off the I/O
      // thread. Named task and result: see verifyToken().
      std::vector<std::vector<TableColumns>> found;
      for (const CopyTableLoad& load :
           catalog_ ? masker_->copyTablesToLoad() : std::vector<CopyTableLoad>{}) {
        auto tables = std::make_shared<std::vector<TableColumns>>();
        auto task = [catalog = catalog_, load, tables]() -> asio::awaitable<Status> {
          Result<std::vector<TableColumns>> r = catalog->tableColumns(load.table, load.schemas);
          if (r) {
            *tables = std::move(*r);
          }
          co_return r.status();
        };
        Status st = co_await asio::co_spawn(gateway_.blockingPool(), task, asio::use_awaitable);
        if (!st) {
          co_return Status::error(Code::kInternal, st.message(), "22000");
        }
        found.push_back(std::move(*tables));
      }
      Status st = masker_->onCopyOutResponse(frame.payload, found);
      if (!st) {
        co_return st;
      }
      co_return false;
    }
    case pg::be::kCopyData:
      co_return masker_->onCopyData(frame.payload, out);
    default:
      co_return false;
  }
}

asio::awaitable<Status> Session::watchdog() {
  auto idle = rt_->config->timeouts.idle;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
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
