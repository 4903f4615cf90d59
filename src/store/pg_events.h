// Events between gateway replicas on one PostgreSQL store: the `store_events` table, publishing
// into it, and the feed that hears about new rows through LISTEN/NOTIFY.
//
// publishEvent() runs inside the writer's transaction: it takes a transaction-scoped advisory
// lock (so event ids commit in id order across every replica), inserts a row and queues
// pg_notify('jitgate_events', "<id> <kind> <ref>"), which PostgreSQL delivers only at commit.
//
// A feed owns one dedicated connection (application_name: the store URL's application_name with
// kListenSuffix, `jitgate-listen` by default) and a thread of its own, so libpq's blocking calls
// never run on an I/O thread. It LISTENs, then delivers every
// notification whose id is above the last one it handled. When the connection drops it
// reconnects with exponential backoff, LISTENs again and reads every row after its last id
// (catch-up), so nothing committed while it was away is missed and nothing is delivered twice.
// Rows older than `retention` are pruned; a feed that was away longer delivers kResyncEvent.
// The feed's state is shared with its thread, so the feed may be destroyed from its own handler.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "store/pg_pool.h"
#include "store/store.h"

namespace jg::store {

inline constexpr std::string_view kEventChannel = "jitgate_events";
inline constexpr std::string_view kListenSuffix = "-listen";

// The migrations of the store component "store_events".
const std::vector<Migration>& eventMigrations();

// Inside a PostgreSQL transaction: records the event and queues its notification.
[[nodiscard]] Status publishEvent(Tx& tx, std::string_view kind, std::string_view ref);

// "<id> <kind> <ref>" as sent by publishEvent; nullopt when malformed.
std::optional<StoreEvent> parseEventPayload(std::string_view payload);

struct PgFeedOptions {
  std::chrono::milliseconds min_backoff{100};  // first reconnect delay, doubled per failure
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds keepalive{15000};  // a quiet connection is checked this often
  std::chrono::hours retention{24};            // events kept for feeds that were away
};

// Starts a feed on a dedicated connection of `pool` (which must outlive it) that delivers every
// event with an id above `after`; with `after` < 0, those committed after its first connection.
std::unique_ptr<EventFeed> startPgFeed(PgPool& pool, EventHandler handler, int64_t after = -1,
                                       PgFeedOptions options = {});

// The id of the newest event (0 when none); a feed started after it misses nothing later.
[[nodiscard]] Result<int64_t> newestEvent(Store& store);

}  // namespace jg::store
