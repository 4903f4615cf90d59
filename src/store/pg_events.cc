#include "store/pg_events.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <thread>

#include "core/log.h"
#include "core/metrics.h"
#include "store/pg_sql.h"

namespace jg::store {
namespace {

constexpr int kCatchUpPage = 500;
constexpr auto kPruneEvery = std::chrono::minutes(10);

int64_t unixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string oneLine(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  for (char& c : s) {
    c = c == '\n' ? ' ' : c;
  }
  return s;
}

// The state a feed shares with its thread; lives until both are done with it.
struct FeedCore {
  PgPool& pool;
  EventHandler handler;
  PgFeedOptions options;
  std::atomic<bool> stopping{false};
  std::atomic<bool> live{false};
  int wake[2] = {-1, -1};  // a pipe: a byte on it ends every wait
  int64_t last = -1;       // the last event id handled; -1 before the first connection
  std::chrono::steady_clock::time_point last_prune{};

  FeedCore(PgPool& p, EventHandler h, PgFeedOptions o)
      : pool(p), handler(std::move(h)), options(o) {}
  ~FeedCore() {
    for (int fd : wake) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }

  void run();
  void session(PgConn& conn);
  bool waitForWake(std::chrono::milliseconds timeout);
  PgResultPtr exec(PgConn& conn, const std::string& sql, const std::vector<std::string>& params);
  bool catchUp(PgConn& conn);
  bool drainNotifications(PgConn& conn);
  bool keepAlive(PgConn& conn);
  void deliver(const StoreEvent& e);
};

void FeedCore::run() {
  auto backoff = options.min_backoff;
  while (!stopping.load()) {
    auto conn = pool.connectDedicated(pool.url().application_name + std::string(kListenSuffix));
    if (conn) {
      session(**conn);
      backoff = options.min_backoff;
    } else {
      log::warn("", "state store: event listener: {}", conn.status().message());
      backoff = std::min(backoff * 2, options.max_backoff);
    }
    if (stopping.load()) {
      break;
    }
    metrics::storeListenReconnects().add({});
    if (waitForWake(backoff)) {
      break;
    }
  }
}

// One connection's life: LISTEN, catch up, then deliver notifications until it drops.
void FeedCore::session(PgConn& conn) {
  const std::string listen = "LISTEN " + std::string(kEventChannel);
  if (auto r = exec(conn, listen, {}); !r) {
    return;
  }
  if (!catchUp(conn)) {
    return;
  }
  live.store(true);
  log::info("", "state store: listening for events of other replicas (after event {})", last);
  const int sock = PQsocket(conn.pg.get());
  auto quiet_since = std::chrono::steady_clock::now();
  while (!stopping.load() && drainNotifications(conn)) {
    pollfd fds[2] = {{.fd = sock, .events = POLLIN, .revents = 0},
                     {.fd = wake[0], .events = POLLIN, .revents = 0}};
    int n = ::poll(fds, 2, static_cast<int>(options.keepalive.count()));
    if (n < 0 && errno != EINTR) {
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      break;
    }
    if (n == 0 || std::chrono::steady_clock::now() - quiet_since > options.keepalive) {
      if (!keepAlive(conn)) {
        break;
      }
      quiet_since = std::chrono::steady_clock::now();
      continue;
    }
    if (PQconsumeInput(conn.pg.get()) == 0) {
      break;
    }
  }
  live.store(false);
  if (!stopping.load()) {
    log::warn("", "state store: event listener connection lost ({}); reconnecting",
              oneLine(PQerrorMessage(conn.pg.get())));
  }
}

bool FeedCore::waitForWake(std::chrono::milliseconds timeout) {
  pollfd fd{.fd = wake[0], .events = POLLIN, .revents = 0};
  (void)::poll(&fd, 1, static_cast<int>(timeout.count()));
  return stopping.load();
}

PgResultPtr FeedCore::exec(PgConn& conn, const std::string& sql,
                           const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p.c_str());
  }
  PgResultPtr r(PQexecParams(conn.pg.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
  auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    log::warn("", "state store: event listener: {}",
              oneLine(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn.pg.get())));
    return nullptr;
  }
  return r;
}

// The first time: start after the newest event. After a reconnect: every event after `last`.
bool FeedCore::catchUp(PgConn& conn) {
  auto bounds =
      exec(conn, "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM store_events", {});
  if (!bounds) {
    return false;
  }
  const int64_t oldest = std::strtoll(PQgetvalue(bounds.get(), 0, 0), nullptr, 10);
  if (last < 0) {
    last = std::strtoll(PQgetvalue(bounds.get(), 0, 1), nullptr, 10);
    return true;
  }
  if (oldest > last + 1) {
    deliver(StoreEvent{.seq = 0, .kind = std::string(kResyncEvent), .ref = {}});
  }
  for (;;) {
    auto page = exec(conn,
                     "SELECT id, kind, ref FROM store_events WHERE id > CAST($1 AS BIGINT) "
                     "ORDER BY id LIMIT " +
                         std::to_string(kCatchUpPage),
                     {std::to_string(last)});
    if (!page) {
      return false;
    }
    const int rows = PQntuples(page.get());
    for (int i = 0; i < rows && !stopping.load(); ++i) {
      deliver(StoreEvent{.seq = std::strtoll(PQgetvalue(page.get(), i, 0), nullptr, 10),
                         .kind = PQgetvalue(page.get(), i, 1),
                         .ref = PQgetvalue(page.get(), i, 2)});
    }
    if (rows < kCatchUpPage || stopping.load()) {
      return true;
    }
  }
}

// Delivers queued notifications; false when the connection is gone.
bool FeedCore::drainNotifications(PgConn& conn) {
  while (PGnotify* n = PQnotifies(conn.pg.get())) {
    std::optional<StoreEvent> e = parseEventPayload(n->extra != nullptr ? n->extra : "");
    PQfreemem(n);
    if (!e) {
      log::warn("", "state store: ignored a malformed event notification");
      continue;
    }
    deliver(*e);
  }
  return !conn.broken();
}

// Checks a quiet connection (a dead peer shows up here) and prunes old events now and then. The
// newest row always stays, so a feed that was away finds a gap (oldest > its last + 1).
bool FeedCore::keepAlive(PgConn& conn) {
  if (!exec(conn, "SELECT 1", {})) {
    return false;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - last_prune >= kPruneEvery) {
    last_prune = now;
    auto cutoff = unixMs(std::chrono::system_clock::now() - options.retention);
    (void)exec(conn,
               "DELETE FROM store_events WHERE created_at < CAST($1 AS BIGINT) "
               "AND id < (SELECT MAX(id) FROM store_events)",
               {std::to_string(cutoff)});
  }
  return drainNotifications(conn);
}

void FeedCore::deliver(const StoreEvent& e) {
  if (e.seq != 0 && e.seq <= last) {
    return;  // already handled (a notification for an event the catch-up read)
  }
  if (stopping.load()) {
    return;
  }
  if (e.seq != 0) {
    last = e.seq;
  }
  metrics::storeEventsReceived().add(
      {e.kind == "review" || e.kind == "grant" || e.kind == kResyncEvent
           ? std::string_view(e.kind)
           : std::string_view("other")});
  handler(e);
}

class PgFeed final : public EventFeed {
 public:
  explicit PgFeed(std::shared_ptr<FeedCore> core) : core_(std::move(core)) {
    thread_ = std::thread([core = core_] { core->run(); });
  }
  ~PgFeed() override {
    core_->stopping.store(true);
    char b = 1;
    (void)!::write(core_->wake[1], &b, 1);
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // destroyed from the handler: the thread ends when the handler returns
    } else {
      thread_.join();
    }
  }
  PgFeed(const PgFeed&) = delete;
  PgFeed& operator=(const PgFeed&) = delete;
  bool live() const override { return core_->live.load(); }

 private:
  std::shared_ptr<FeedCore> core_;
  std::thread thread_;
};

}  // namespace

const std::vector<Migration>& eventMigrations() {
  static const std::vector<Migration> kMigrations = {
      {.version = 1,
       .description = "events shared between replicas",
       .statements = {"CREATE TABLE store_events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
                      "ref TEXT NOT NULL, created_at INTEGER NOT NULL)",
                      "CREATE INDEX store_events_created ON store_events (created_at)"}},
  };
  return kMigrations;
}

Status publishEvent(Tx& tx, std::string_view kind, std::string_view ref) {
  if (kind.empty() || kind.find(' ') != std::string_view::npos) {
    return invalidArgument("state store: an event kind is one word");
  }
  // Held until commit: events commit in id order, so a follower's "after id N" misses none.
  Status st = tx.exec("SELECT pg_advisory_xact_lock(CAST(? AS BIGINT))",
                      {advisoryLockKey("jitgate.store_events")});
  if (!st) {
    return st;
  }
  return tx.exec(
      "WITH e AS (INSERT INTO store_events (kind, ref, created_at) "
      "VALUES (CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT)) RETURNING id) "
      "SELECT pg_notify('" +
          std::string(kEventChannel) +
          "', CAST(e.id AS TEXT) || ' ' || CAST(?1 AS TEXT) || ' ' || CAST(?2 AS TEXT)) FROM e",
      {std::string(kind), std::string(ref), unixMs(std::chrono::system_clock::now())});
}

std::optional<StoreEvent> parseEventPayload(std::string_view payload) {
  size_t a = payload.find(' ');
  if (a == std::string_view::npos) {
    return std::nullopt;
  }
  size_t b = payload.find(' ', a + 1);
  if (b == std::string_view::npos || b == a + 1) {
    return std::nullopt;
  }
  StoreEvent e;
  auto [end, ec] = std::from_chars(payload.data(), payload.data() + a, e.seq);
  if (ec != std::errc() || end != payload.data() + a || e.seq <= 0) {
    return std::nullopt;
  }
  e.kind = std::string(payload.substr(a + 1, b - a - 1));
  e.ref = std::string(payload.substr(b + 1));
  return e;
}

Result<int64_t> newestEvent(Store& store) {
  int64_t newest = 0;
  Status st = store.query("SELECT COALESCE(MAX(id), 0) FROM store_events", {}, [&](const Row& r) {
    newest = asInt(r[0]);
    return false;
  });
  if (!st) {
    return st;
  }
  return newest;
}

std::unique_ptr<EventFeed> startPgFeed(PgPool& pool, EventHandler handler, int64_t after,
                                       PgFeedOptions options) {
  auto core = std::make_shared<FeedCore>(pool, std::move(handler), options);
  core->last = after;
  if (::pipe(core->wake) != 0) {
    log::error("", "state store: event listener: cannot create a pipe");
    return nullptr;
  }
  return std::make_unique<PgFeed>(std::move(core));
}

}  // namespace jg::store
