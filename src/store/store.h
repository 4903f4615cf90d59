// The state store: a small SQL interface over the gateway's durable state (the audit index
// now; reviews and grants next). SQLite is the embedded default; a PostgreSQL implementation
// for multi-replica deployments plugs in behind the same interface.
//
// Usage: open(url) returns a Store. Each component owns its tables and migrates them with
// migrate("<component>", migrations): an ordered list, only ever appended to, applied in one
// transaction each and recorded in the `schema_version` table (one row per component). All
// reads and writes go through transaction() / query() with `?` placeholders; statements are
// prepared once and cached. SQL should stay in the common subset of SQLite and PostgreSQL
// (dialect() says which one runs, for the rare difference).
//
// Thread-safe: SQLite serializes transactions in the process, PostgreSQL runs them on pooled
// connections. Not re-entrant: do not call the Store from inside a transaction() callback (use
// the Tx). query() is for reads (a backend may repeat it after a lost connection). Every call
// blocks: use a blocking pool or a worker thread, never an I/O thread.
//
// Events between processes: a transaction that changes shared state calls Tx::publish(kind,
// ref); follow() delivers what other processes (and this one) published, after their commit,
// in commit order. Only the PostgreSQL store has other processes to hear from: on SQLite
// publish() does nothing and follow() returns no feed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/node.h"
#include "core/status.h"

namespace jg::store {

// NULL, integer, real or text. Blobs are stored as text (hex/base64) by their owners.
using Value = std::variant<std::monostate, int64_t, double, std::string>;
using Row = std::vector<Value>;
// Return false to stop reading rows.
using RowCallback = std::function<bool(const Row&)>;

std::string asString(const Value& v);  // "" for NULL
int64_t asInt(const Value& v);         // 0 for NULL
bool isNull(const Value& v);

struct Migration {
  int version = 0;  // 1, 2, 3 ... in order
  std::string description;
  std::vector<std::string> statements;
};

// One published change: `kind` names what changed ("review", "grant"), `ref` its id. Never a
// secret: the payload travels through the database's notification channel.
struct StoreEvent {
  int64_t seq = 0;  // the event's position in the store; increasing in commit order
  std::string kind;
  std::string ref;
};

// The kind of a synthetic event a feed delivers when events may have been lost (it was away
// longer than the store keeps them): re-read everything you follow.
inline constexpr std::string_view kResyncEvent = "resync";

// Called on the feed's own thread, one event at a time; may block on the store.
using EventHandler = std::function<void(const StoreEvent&)>;

// A running subscription to the store's events. Destroying it stops delivery: no handler call
// starts afterwards (when destroyed from inside the handler, that call finishes first).
class EventFeed {
 public:
  virtual ~EventFeed() = default;
  // True while the feed is connected and caught up (events arrive within milliseconds).
  virtual bool live() const = 0;
};

class Tx {
 public:
  virtual ~Tx() = default;
  // Records that `ref` of `kind` changed, delivered to followers when the transaction commits
  // (never before; nothing when it rolls back). Call it last in a transaction, after every other
  // write: on PostgreSQL it takes the lock that orders events, held until commit.
  [[nodiscard]] virtual Status publish(std::string_view kind, std::string_view ref) {
    (void)kind;
    (void)ref;
    return Status::ok();
  }
  virtual Status exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  virtual Status query(std::string_view sql, const std::vector<Value>& params,
                       const RowCallback& on_row) = 0;
  // Rows changed by the last exec.
  virtual int64_t changes() const = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the migrations of `component` above its recorded version. Fails (and changes
  // nothing for the failing step) if the database is at a version newer than the list knows.
  virtual Status migrate(std::string_view component, const std::vector<Migration>& migrations) = 0;
  // The recorded schema version of a component (0 when never migrated).
  virtual Result<int> schemaVersion(std::string_view component) = 0;
  // Runs `fn` in a write transaction: committed when it returns ok, rolled back otherwise.
  virtual Status transaction(const std::function<Status(Tx&)>& fn) = 0;
  // A read outside an explicit transaction.
  virtual Status query(std::string_view sql, const std::vector<Value>& params,
                       const RowCallback& on_row) = 0;
  virtual std::string_view dialect() const = 0;
  // Delivers every event committed after this call returns (by any process on this store) to
  // `handler`, on a thread of the feed's own, until the feed is destroyed. nullptr when the store
  // has no other process to hear from (SQLite).
  [[nodiscard]] virtual Result<std::unique_ptr<EventFeed>> follow(EventHandler handler) {
    (void)handler;
    return std::unique_ptr<EventFeed>();
  }
};

// "sqlite:///abs/path.db", "sqlite://relative/path.db", "sqlite::memory:" or
// "postgresql://user@host[:port]/dbname[?sslmode=...&password_file=...&pool_size=...]"
// (pg_url.h, docs/store.md). Error messages never carry a password.
Result<std::unique_ptr<Store>> open(std::string_view url);

// Parses the top-level `store:` scalar (a URL). Default: sqlite:///var/lib/jitgate/state.db.
std::string parseSettings(const config::Node& node, config::Errors& errors);

}  // namespace jg::store
