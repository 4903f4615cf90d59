// PostgreSQL implementation of store::Store, for several gateway replicas sharing one database.
//
// A bounded pool of libpq connections (PgPool); each transaction() runs BEGIN ... COMMIT on one
// pooled connection, so transactions of different threads run concurrently (the database, not
// a process mutex, orders them). Statements are translated from `?` to `$N` once and prepared
// once per connection. Parameters travel as text; result columns of integer types come back as
// int64, float8/float4/numeric as double, everything else as text.
//
// migrate() runs all pending steps of a component in one transaction that first takes
// pg_advisory_xact_lock(hash of the component), so replicas starting together apply each step
// exactly once; the migration statements go through translateMigration() (pg_sql.h).
//
// Blocking (libpq): call it from a blocking pool or a worker thread, never an I/O thread.
// Thread-safe. Not re-entrant inside a transaction() callback (use the Tx).
#pragma once

#include <memory>
#include <string_view>

#include "store/store.h"

namespace jg::store {

// `url` is postgresql://user@host[:port]/dbname[?...] (see pg_url.h). The password comes from
// `password_file=`, else JITGATE_STORE_PASSWORD, else PGPASSWORD. Connects once to check the
// URL and creates the schema_version table when missing.
Result<std::unique_ptr<Store>> openPostgres(std::string_view url);

}  // namespace jg::store
