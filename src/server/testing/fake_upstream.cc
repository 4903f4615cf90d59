#include "server/testing/fake_upstream.h"

#include <algorithm>

#include <fmt/format.h>

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"

namespace jg::server::testing {
namespace {

constexpr std::string_view kRefused = "JITGATE REFUSED";

}  // namespace

bool FakeUpstream::ran(std::string_view sql) const {
  for (const auto& s : sql_) {
    if (s == sql) {
      return true;
    }
  }
  return false;
}

asio::awaitable<void> FakeUpstream::serve(MemoryStream& stream) {
  std::string in;
  char buf[8192];
  while (!terminated_ && !close_) {
    auto [ec, n] = co_await stream.readSome(asio::buffer(buf));
    if (ec) {
      closed_ = true;
      co_return;
    }
    in.append(buf, n);
    std::string out;
    size_t pos = 0;
    pg::Frame frame;
    std::string err;
    while (!close_ && pg::nextFrame(std::string_view(in).substr(pos), 1 << 24, frame, err) ==
                          pg::FrameStatus::kReady) {
      handle(frame, out);
      pos += frame.size;
    }
    in.erase(0, pos);
    if (!out.empty()) {
      co_await stream.writeAll(out);
    }
  }
  stream.close();
}

void FakeUpstream::handle(const pg::Frame& frame, std::string& out) {
  types_ += frame.type;
  if (frame.type == pg::fe::kTerminate) {
    terminated_ = true;
    return;
  }
  if (stalled_) {
    return;
  }
  if (frame.type == pg::fe::kSync) {
    skipping_ = false;
    if (txn_ == 'I') {
      portals_.clear();  // portals end with their transaction
    }
    pg::encodeReadyForQuery(out, txn_);
    return;
  }
  if (frame.type == pg::fe::kQuery) {
    pg::Query q;
    (void)pg::decodeQuery(frame.payload, q);
    sql_.emplace_back(q.sql);
    query(q.sql, out);
    return;
  }
  if (skipping_) {
    return;
  }
  switch (frame.type) {
    case pg::fe::kParse:
      return parse(frame.payload, out);
    case pg::fe::kBind:
      return bind(frame.payload, out);
    case pg::fe::kDescribe:
      return describe(frame.payload, out);
    case pg::fe::kExecute:
      return execute(frame.payload, out);
    case pg::fe::kClose:
      return close(frame.payload, out);
    default:
      return;  // Flush
  }
}

const Canned* FakeUpstream::find(std::string_view sql) const {
  auto it = canned_.find(sql);
  return it == canned_.end() ? nullptr : &it->second;
}

void FakeUpstream::error(std::string_view sqlstate, std::string_view message, std::string& out,
                         bool fatal) {
  pg::encodeError(out, fatal ? "FATAL" : "ERROR", sqlstate, message);
  close_ = close_ || fatal;
  skipping_ = true;
  if (txn_ == 'T') {
    txn_ = 'E';
  }
}

bool FakeUpstream::inFailedBlock(const Canned* c, std::string& out) {
  if (txn_ != 'E' || (c != nullptr && c->txn_after == 'I')) {
    return false;
  }
  error("25P02", "current transaction is aborted, commands ignored until end of transaction block",
        out);
  return true;
}

void FakeUpstream::query(std::string_view sql, std::string& out) {
  const Canned* c = find(sql);
  if (!inFailedBlock(c, out)) {
    answer(sql, c, out);
  }
  skipping_ = false;
  if (!close_ && !stalled_) {
    pg::encodeReadyForQuery(out, txn_);
  }
}

void FakeUpstream::answer(std::string_view sql, const Canned* c, std::string& out) {
  if (sql == kRefused || c == nullptr) {
    error("42601", fmt::format("syntax error at or near \"{}\"", sql.substr(0, 8)), out);
  } else if (!c->error_sqlstate.empty() && c->error_after < 0) {
    out += c->before;
    error(c->error_sqlstate, c->error_message, out, c->fatal);
  } else if (!c->copy_lines.empty()) {
    copyOut(*c, out);
  } else {
    out += c->before;
    rowDescription(*c, out);
    rows(*c, 0, c->rows.size(), out);
  }
}

void FakeUpstream::parse(std::string_view payload, std::string& out) {
  pg::Parse p;
  (void)pg::decodeParse(payload, p);
  sql_.emplace_back(p.sql);
  if (inFailedBlock(find(p.sql), out)) {
    return;
  }
  if (p.sql == kRefused || find(p.sql) == nullptr) {
    return error("42601", "syntax error", out);
  }
  statements_[std::string(p.name)] = std::string(p.sql);
  out += pg::be::kParseComplete;
  out += std::string("\0\0\0\4", 4);
}

void FakeUpstream::bind(std::string_view payload, std::string& out) {
  pg::Bind b;
  (void)pg::decodeBind(payload, b);
  auto it = statements_.find(b.statement);
  if (it == statements_.end()) {
    return error("26000", fmt::format("prepared statement \"{}\" does not exist", b.statement),
                 out);
  }
  if (inFailedBlock(find(it->second), out)) {
    return;
  }
  portals_[std::string(b.portal)] = Portal{it->second, 0};
  out += pg::be::kBindComplete;
  out += std::string("\0\0\0\4", 4);
}

void FakeUpstream::describe(std::string_view payload, std::string& out) {
  pg::Describe d;
  (void)pg::decodeDescribe(payload, d);
  std::string sql;
  if (d.target == 'S') {
    auto it = statements_.find(d.name);
    if (it == statements_.end()) {
      return error("26000", "prepared statement does not exist", out);
    }
    sql = it->second;
    pg::encodeParameterDescription(out, pg::ParameterDescription{});
  } else {
    auto it = portals_.find(d.name);
    if (it == portals_.end()) {
      return error("34000", "portal does not exist", out);
    }
    sql = it->second.sql;
  }
  const Canned* c = find(sql);
  if (c == nullptr || c->columns.empty()) {
    out += pg::be::kNoData;
    out += std::string("\0\0\0\4", 4);
    return;
  }
  rowDescription(*c, out);
}

void FakeUpstream::execute(std::string_view payload, std::string& out) {
  pg::Execute e;
  (void)pg::decodeExecute(payload, e);
  auto it = portals_.find(e.portal);
  if (it == portals_.end()) {
    return error("34000", fmt::format("portal \"{}\" does not exist", e.portal), out);
  }
  const Canned& c = *find(it->second.sql);
  if (inFailedBlock(&c, out)) {
    return;
  }
  size_t from = it->second.next_row;
  size_t to = c.rows.size();
  if (e.max_rows > 0 && from + e.max_rows < to) {
    to = from + e.max_rows;
    for (size_t i = from; i < to; ++i) {
      std::vector<pg::DataRowReader::Cell> cells;
      for (const auto& v : c.rows[i]) {
        cells.push_back({v ? std::string_view(*v) : std::string_view(), !v});
      }
      pg::encodeDataRow(out, cells);
    }
    it->second.next_row = to;
    out += pg::be::kPortalSuspended;
    out += std::string("\0\0\0\4", 4);
    return;
  }
  out += c.before;
  rows(c, from, to, out);
}

void FakeUpstream::close(std::string_view payload, std::string& out) {
  pg::Close c;
  (void)pg::decodeClose(payload, c);
  if (c.target == 'S') {
    statements_.erase(std::string(c.name));
  } else {
    portals_.erase(std::string(c.name));
  }
  out += pg::be::kCloseComplete;
  out += std::string("\0\0\0\4", 4);
}

void FakeUpstream::rowDescription(const Canned& c, std::string& out) const {
  if (c.columns.empty()) {
    return;
  }
  pg::RowDescription rd;
  int16_t n = 0;
  for (const auto& name : c.columns) {
    rd.fields.push_back(pg::FieldDescription{name, c.table_oid, ++n, 25, -1, -1, 0});
  }
  pg::encodeRowDescription(out, rd);
}

void FakeUpstream::copyOut(const Canned& c, std::string& out) {
  // One text format per column, as many columns as the first line has fields.
  size_t columns = 1 + std::count(c.copy_lines[0].begin(), c.copy_lines[0].end(), '\t');
  pg::CopyResponse response;
  response.column_formats.assign(columns, 0);
  pg::encodeCopyResponse(out, pg::be::kCopyOutResponse, response);
  for (const auto& line : c.copy_lines) {
    pg::encodeCopyData(out, line);
  }
  pg::encodeEmpty(out, pg::be::kCopyDone);
  pg::encodeCommandComplete(out, fmt::format("COPY {}", c.copy_lines.size()));
}

void FakeUpstream::rows(const Canned& c, size_t from, size_t to, std::string& out) {
  for (size_t i = from; i < to; ++i) {
    if (c.error_after >= 0 && i == static_cast<size_t>(c.error_after)) {
      break;
    }
    if (c.stall_after >= 0 && i == static_cast<size_t>(c.stall_after)) {
      stalled_ = true;
      return;
    }
    std::vector<pg::DataRowReader::Cell> cells;
    for (const auto& v : c.rows[i]) {
      cells.push_back({v ? std::string_view(*v) : std::string_view(), !v});
    }
    pg::encodeDataRow(out, cells);
  }
  if (c.close_after_rows) {
    close_ = true;
    return;
  }
  if (c.stall_after >= 0) {
    stalled_ = true;
    return;
  }
  if (!c.error_sqlstate.empty()) {
    return error(c.error_sqlstate, c.error_message, out, c.fatal);
  }
  if (c.txn_after != 0) {
    txn_ = c.txn_after;
  }
  pg::encodeCommandComplete(out, c.tag.empty() ? fmt::format("SELECT {}", to - from) : c.tag);
}

}  // namespace jg::server::testing
