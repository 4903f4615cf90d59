// SQLite implementation of store::Store: one connection in WAL mode (readers in other
// processes, e.g. `jitgate audit search`, do not block the gateway's writer), a cache of
// prepared statements keyed by SQL text, and a mutex that serializes use of the connection.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace jg::store {

// `path` is a file path or ":memory:". The file is created if missing; its directory must exist.
Result<std::unique_ptr<Store>> openSqlite(const std::string& path);

}  // namespace jg::store
