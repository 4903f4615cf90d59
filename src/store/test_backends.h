// Test helpers: the state store backends that store-backed tests run against — SQLite in memory
// and a fresh database on a throwaway PostgreSQL server (creds/test_postgres.h) started once per
// test process and stopped at exit. Tests only; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "store/store.h"

namespace jg::store::testing {

enum class Backend { kSqlite, kPostgres };

// "Sqlite" / "Postgres", for parameterized test names.
std::string backendName(Backend b);

// The URL of a new empty database owned by a new role that logs in with a password over TCP
// (password_file=, sslmode=disable on loopback). nullopt, with the reason in *why, when
// PostgreSQL cannot run here (not root, binaries missing) or failed to start.
std::optional<std::string> freshPostgresUrl(std::string* why);

// A new empty store of the given backend. nullptr with the reason in *skip when the backend is
// unavailable here (the caller skips), or in *error when opening it failed (the caller fails).
std::unique_ptr<Store> openFresh(Backend b, std::string* skip, std::string* error);

}  // namespace jg::store::testing
