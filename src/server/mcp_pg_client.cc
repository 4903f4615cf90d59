#include "server/mcp_pg_client.h"

#include <fmt/format.h>

#include "core/log.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"
#include "server/gateway.h"
#include "server/memory_stream.h"
#include "server/session.h"

namespace jg::server {
namespace {

constexpr size_t kMaxFrameBytes = 64u << 20;

// Reads typed messages from the session's end of the pipe.
class FrameReader {
 public:
  explicit FrameReader(ByteStream& s) : s_(s) {}

  // The next message; nullopt when the stream ended or broke (error() says why).
  asio::awaitable<std::optional<pg::Frame>> next() {
    buf_.erase(0, consumed_);
    consumed_ = 0;
    for (;;) {
      pg::Frame f;
      std::string why;
      auto st = pg::nextFrame(buf_, kMaxFrameBytes, f, why);
      if (st == pg::FrameStatus::kReady) {
        consumed_ = f.size;
        co_return f;
      }
      if (st == pg::FrameStatus::kError) {
        error_ = why;
        co_return std::nullopt;
      }
      char chunk[16 * 1024];
      auto [ec, n] = co_await s_.readSome(asio::buffer(chunk));
      if (ec) {
        error_ = "the session ended: " + ec.message();
        co_return std::nullopt;
      }
      buf_.append(chunk, n);
    }
  }
  const std::string& error() const { return error_; }

 private:
  ByteStream& s_;
  std::string buf_;
  size_t consumed_ = 0;
  std::string error_;
};

void takeError(std::string_view payload, PgResult& r) {
  pg::ErrorFields f;
  if (!pg::decodeErrorFields(payload, f)) {
    r.sqlstate = "08P01";
    r.message = "malformed ErrorResponse from the session";
    return;
  }
  r.sqlstate = std::string(f.get('C'));
  r.message = std::string(f.get('M'));
  r.detail = std::string(f.get('D'));
  r.hint = std::string(f.get('H'));
  if (r.sqlstate.empty()) {
    r.sqlstate = "XX000";
  }
}

void protocolFailure(PgResult& r, std::string message) {
  r.sqlstate = "08006";
  r.message = std::move(message);
}

// Startup until ReadyForQuery; false (with r's error set) when the session refused the caller.
asio::awaitable<bool> startSession(ByteStream& me, FrameReader& in, const PgStatement& st,
                                   const identity::Identity& who, PgResult& r) {
  std::string out;
  pg::StartupMessage m;
  m.protocol = pg::kProtocol30;
  m.params = {{"user", who.subject},
              {"database", st.resource},
              {"application_name", "jitgate-mcp"},
              {"client_encoding", "UTF8"}};
  pg::encodeStartupMessage(out, m);
  if (auto ec = co_await me.writeAll(out)) {
    protocolFailure(r, "the session could not be started: " + ec.message());
    co_return false;
  }
  for (;;) {
    std::optional<pg::Frame> f = co_await in.next();
    if (!f) {
      protocolFailure(r, in.error());
      co_return false;
    }
    if (f->type == pg::be::kErrorResponse) {
      takeError(f->payload, r);
      co_return false;
    }
    if (f->type == pg::be::kReadyForQuery) {
      co_return true;
    }
  }
}

std::string extendedQuery(const PgStatement& st) {
  std::string out;
  pg::encodeParse(out, pg::Parse{.name = "", .sql = st.sql, .param_types = {}});
  pg::Bind b;
  for (const auto& p : st.params) {
    b.params.push_back(p ? pg::Bind::Value{.bytes = *p, .null = false}
                         : pg::Bind::Value{.bytes = {}, .null = true});
  }
  pg::encodeBind(out, b);
  pg::encodeDescribe(out, pg::Describe{.target = 'P', .name = ""});
  pg::encodeExecute(out,
                    pg::Execute{.portal = "", .max_rows = static_cast<int32_t>(st.max_rows + 1)});
  pg::encodeEmpty(out, pg::fe::kSync);
  return out;
}

// One server message of the statement's answer into `r`; false on a malformed one.
bool takeFrame(const pg::Frame& f, const PgStatement& st, PgResult& r, size_t& bytes) {
  switch (f.type) {
    case pg::be::kRowDescription: {
      pg::RowDescription d;
      if (!pg::decodeRowDescription(f.payload, d)) {
        return false;
      }
      for (const auto& fd : d.fields) {
        r.columns.push_back({.name = std::string(fd.name), .type = pgTypeName(fd.type_oid)});
      }
      return true;
    }
    case pg::be::kDataRow: {
      if (r.truncated) {
        return true;
      }
      if (r.rows.size() >= st.max_rows || bytes + f.payload.size() > st.max_bytes) {
        r.truncated = true;
        return true;
      }
      bytes += f.payload.size();
      pg::DataRowReader rd(f.payload);
      std::vector<std::optional<std::string>> row;
      pg::DataRowReader::Cell c;
      while (rd.next(c)) {
        row.push_back(c.null ? std::nullopt : std::optional<std::string>(std::string(c.bytes)));
      }
      r.rows.push_back(std::move(row));
      return rd.ok();
    }
    case pg::be::kCommandComplete: {
      pg::CommandComplete cc;
      if (pg::decodeCommandComplete(f.payload, cc)) {
        r.command_tag = std::string(cc.tag);
      }
      return true;
    }
    case pg::be::kPortalSuspended:
      r.truncated = true;
      return true;
    case pg::be::kErrorResponse:
      if (!r.failed()) {
        takeError(f.payload, r);
      }
      return true;
    default:
      return true;  // ParseComplete, BindComplete, NoData, notices
  }
}

asio::awaitable<void> runSession(std::shared_ptr<Session> s) {
  co_await Session::run(std::move(s));
}

}  // namespace

asio::awaitable<PgResult> runPgStatement(SessionServices& services, const identity::Identity& who,
                                         const std::string& peer, const PgStatement& st) {
  auto ex = co_await asio::this_coro::executor;
  auto [mine, theirs] = memoryStreamPair(ex);
  auto session =
      std::make_shared<Session>(services, std::move(theirs), ex,
                                Session::InProcessCaller{.who = who, .client_addr = "mcp:" + peer});
  asio::co_spawn(ex, runSession(session), asio::detached);
  PgResult r;
  FrameReader in(*mine);
  bool started = co_await startSession(*mine, in, st, who, r);
  if (started) {
    std::string q = extendedQuery(st);
    if (auto ec = co_await mine->writeAll(q)) {
      protocolFailure(r, "the session ended: " + ec.message());
    } else {
      size_t bytes = 0;
      for (;;) {
        std::optional<pg::Frame> f = co_await in.next();
        if (!f) {
          protocolFailure(r, in.error());
          break;
        }
        if (f->type == pg::be::kReadyForQuery) {
          break;
        }
        if (!takeFrame(*f, st, r, bytes)) {
          protocolFailure(r, "malformed message from the session");
          break;
        }
      }
      std::string bye;
      pg::encodeEmpty(bye, pg::fe::kTerminate);
      co_await mine->writeAll(bye);
    }
  }
  mine->close();
  co_return r;
}

}  // namespace jg::server
