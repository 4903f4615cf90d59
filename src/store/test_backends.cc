#include "store/test_backends.h"

#include <filesystem>
#include <fstream>
#include <mutex>

#include "core/random.h"
#include "creds/test_postgres.h"

namespace jg::store::testing {
namespace {

constexpr const char* kPassword = "store-test-Pw-1";

struct Server {
  creds::testing::TestPostgres pg;
  bool ok = false;
  std::string why;
  std::string password_file;
  ~Server() {
    std::error_code ec;
    std::filesystem::remove(password_file, ec);
  }
};

Server& server() {
  static Server s;
  static const bool started = [] {
    if (!creds::testing::TestPostgres::available(&s.why)) {
      return false;
    }
    s.ok = s.pg.start(&s.why);
    s.password_file =
        (std::filesystem::temp_directory_path() / ("jg-store-pw-" + randomId(8))).string();
    std::ofstream(s.password_file) << kPassword << "\n";
    std::filesystem::permissions(
        s.password_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return s.ok;
  }();
  (void)started;
  return s;
}

std::string lowerId() {
  std::string id = randomId(10);
  for (char& c : id) {
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    c = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : 'x';
  }
  return id;
}

}  // namespace

std::string backendName(Backend b) {
  return b == Backend::kSqlite ? "Sqlite" : "Postgres";
}

std::optional<std::string> freshPostgresUrl(std::string* why) {
  static std::mutex mu;
  std::lock_guard lk(mu);
  Server& s = server();
  if (!s.ok) {
    *why = "PostgreSQL unavailable: " + s.why;
    return std::nullopt;
  }
  const std::string name = "jgt_" + lowerId();
  std::string err;
  s.pg.sql("CREATE ROLE " + name + " LOGIN PASSWORD '" + kPassword + "'", "postgres", &err);
  if (err.empty()) {
    s.pg.sql("CREATE DATABASE " + name + " OWNER " + name, "postgres", &err);
  }
  if (!err.empty()) {
    *why = "creating a test database failed: " + err;
    return std::nullopt;
  }
  return "postgresql://" + name + "@127.0.0.1:" + std::to_string(s.pg.port()) + "/" + name +
         "?sslmode=disable&password_file=" + s.password_file;
}

std::unique_ptr<Store> openFresh(Backend b, std::string* skip, std::string* error) {
  std::string url = "sqlite::memory:";
  if (b == Backend::kPostgres) {
    auto pg = freshPostgresUrl(skip);
    if (!pg) {
      return nullptr;
    }
    url = *pg;
  }
  auto store = open(url);
  if (!store) {
    *error = store.status().message();
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace jg::store::testing
