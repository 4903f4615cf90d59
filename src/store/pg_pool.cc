#include "store/pg_pool.h"

#include <algorithm>
#include <cstring>
#include <thread>

namespace jg::store {
namespace {

std::string trimmedMessage(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

PgPool::PgPool(PgUrl url, std::string password)
    : url_(std::move(url)), password_(std::move(password)) {}

PgPool::~PgPool() {
  std::fill(password_.begin(), password_.end(), '\0');
}

int PgPool::openConnections() {
  std::lock_guard lk(mu_);
  return open_;
}

Result<std::unique_ptr<PgConn>> PgPool::acquire() {
  std::unique_lock lk(mu_);
  bool free =
      cv_.wait_for(lk, url_.pool_timeout, [&] { return !idle_.empty() || open_ < url_.pool_size; });
  if (!free) {
    return Status::error(Code::kResourceExhausted,
                         "state store: no free connection to " + describe(url_) + " within " +
                             std::to_string(url_.pool_timeout.count()) + " ms (pool_size " +
                             std::to_string(url_.pool_size) + ")");
  }
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }
  ++open_;
  lk.unlock();
  auto conn = connect();
  if (!conn) {
    lk.lock();
    --open_;
    cv_.notify_one();
  }
  return conn;
}

void PgPool::release(std::unique_ptr<PgConn> conn) {
  bool reusable = conn && !conn->broken() && PQtransactionStatus(conn->pg.get()) == PQTRANS_IDLE;
  if (!reusable) {
    conn.reset();  // closes it outside the lock
  }
  std::lock_guard lk(mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

void PgPool::discardIdle() {
  std::vector<std::unique_ptr<PgConn>> dropped;
  {
    std::lock_guard lk(mu_);
    dropped.swap(idle_);
    open_ -= static_cast<int>(dropped.size());
    cv_.notify_all();
  }
}

Result<std::unique_ptr<PgConn>> PgPool::connectDedicated(const std::string& application_name) {
  return connectOnce(application_name);
}

Result<std::unique_ptr<PgConn>> PgPool::connect() {
  auto conn = connectOnce(url_.application_name);
  if (conn || conn.status().code() != Code::kUnavailable) {
    return conn;
  }
  // One retry: a server that just restarted, or a connection slot freed a moment later.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return connectOnce(url_.application_name);
}

Result<std::unique_ptr<PgConn>> PgPool::connectOnce(const std::string& application_name) {
  const std::string port = std::to_string(url_.port);
  const std::string timeout = std::to_string(url_.connect_timeout_s);
  std::vector<const char*> keys = {
      "host",           "port", "dbname", "user", "sslmode", "connect_timeout", "application_name",
      "client_encoding"};
  std::vector<const char*> values = {
      url_.host.c_str(),    port.c_str(),    url_.dbname.c_str(),      url_.user.c_str(),
      url_.sslmode.c_str(), timeout.c_str(), application_name.c_str(), "UTF8"};
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) {
      keys.push_back(key);
      values.push_back(value.c_str());
    }
  };
  add("password", password_);
  add("sslrootcert", url_.sslrootcert);
  add("sslcert", url_.sslcert);
  add("sslkey", url_.sslkey);
  keys.push_back(nullptr);
  values.push_back(nullptr);
  auto conn = std::make_unique<PgConn>();
  conn->pg.reset(PQconnectdbParams(keys.data(), values.data(), 0));
  if (!conn->pg) {
    return Status::error(Code::kResourceExhausted, "state store: out of memory connecting");
  }
  PQsetNoticeProcessor(
      conn->pg.get(), [](void*, const char*) {}, nullptr);
  if (conn->broken()) {
    // libpq's message names host and user, never the password.
    return Status::error(Code::kUnavailable, "state store: cannot connect to " + describe(url_) +
                                                 ": " +
                                                 trimmedMessage(PQerrorMessage(conn->pg.get())));
  }
  return conn;
}

}  // namespace jg::store
