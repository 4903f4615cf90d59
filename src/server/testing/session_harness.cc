#include "server/testing/session_harness.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "audit/crypto.h"
#include "core/random.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "proto/pg/framer.h"
#include "server/session.h"
#include "store/sqlite_store.h"

namespace jg::server::testing {
namespace {

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// `access` unless the test's configuration has its own.
std::string baseConfig(const std::string& dir, const std::vector<std::string>& groups,
                       bool access) {
  return fmt::format(
      "listen: {{ postgres: 127.0.0.1:0 }}\n"
      "tls: {{ require_client_tls: false, allow_plaintext_loopback: true }}\n"
      "auth: {{ static: {{ enable_insecure_static: true, password_file: {0}/client_password, "
      "groups: [{1}] }} }}\n"
      "timeouts: {{ idle: 0s }}\n"
      "{2}"
      "resources:\n"
      "  - name: kb\n"
      "    upstream: {{ host: 127.0.0.1, port: 5432, database: kb, user: app, sslmode: disable, "
      "password_file: {0}/upstream_password }}\n",
      dir, fmt::join(groups, ", "), access ? "access: { wait_timeout: 2s }\n" : "");
}

std::string replaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

TestClock::TestClock() {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
}

std::chrono::system_clock::time_point TestClock::now() const {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ns_.load())));
}

void TestClock::set(std::chrono::system_clock::time_point t) {
  ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void TestClock::advance(std::chrono::system_clock::duration d) {
  ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

void AuditSink::onDurable(const std::string&, std::vector<audit::DurableEvent>&& batch) {
  std::lock_guard lock(mu_);
  for (auto& e : batch) {
    events_.push_back(std::move(e.event));
  }
}

std::vector<audit::Event> AuditSink::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

namespace {}  // namespace

std::string Message::field(char code) const {
  pg::ErrorFields f;
  if (!pg::decodeErrorFields(payload, f)) {
    return {};
  }
  return std::string(f.get(code));
}

Row Message::row() const {
  Row out;
  pg::DataRowReader r(payload);
  pg::DataRowReader::Cell cell;
  while (r.next(cell)) {
    out.push_back(cell.null ? std::nullopt : std::optional<std::string>(std::string(cell.bytes)));
  }
  return out;
}

std::string kinds(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) {
    out += m.type;
  }
  return out;
}

std::vector<std::string> errorCodes(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    if (m.type == pg::be::kErrorResponse) {
      out.push_back(m.code());
    }
  }
  return out;
}

std::string Q(std::string_view sql) {
  std::string out;
  pg::encodeQuery(out, sql);
  return out;
}
std::string P(std::string_view name, std::string_view sql) {
  std::string out;
  pg::encodeParse(out, pg::Parse{name, sql, {}});
  return out;
}
std::string B(std::string_view portal, std::string_view statement,
              const std::vector<std::optional<std::string>>& params) {
  pg::Bind b;
  b.portal = portal;
  b.statement = statement;
  for (const auto& p : params) {
    b.params.push_back({p ? std::string_view(*p) : std::string_view(), !p});
  }
  std::string out;
  pg::encodeBind(out, b);
  return out;
}
std::string D(char target, std::string_view name) {
  std::string out;
  pg::encodeDescribe(out, pg::Describe{target, name});
  return out;
}
std::string E(std::string_view portal, int32_t max_rows) {
  std::string out;
  pg::encodeExecute(out, pg::Execute{portal, max_rows});
  return out;
}
std::string C(char target, std::string_view name) {
  std::string out;
  pg::encodeClose(out, pg::Close{target, name});
  return out;
}
std::string S() {
  std::string out;
  pg::encodeEmpty(out, pg::fe::kSync);
  return out;
}
std::string H() {
  std::string out;
  pg::encodeEmpty(out, pg::fe::kFlush);
  return out;
}
std::string X() {
  std::string out;
  pg::encodeEmpty(out, pg::fe::kTerminate);
  return out;
}
std::string F() {
  std::string out;
  pg::FunctionCall f;
  f.function_oid = 1;
  pg::encodeFunctionCall(out, f);
  return out;
}

// -- Client ------------------------------------------------------------------------------------

asio::awaitable<std::vector<Message>> Client::connect(std::string db, std::string password) {
  std::string out;
  pg::StartupMessage sm;
  sm.protocol = pg::kProtocol30;
  sm.params = {{"user", "alice"}, {"database", db}};
  pg::encodeStartupMessage(out, sm);
  co_await send(out);
  std::optional<Message> auth = co_await next();
  if (!auth || auth->type != pg::be::kAuthentication) {
    co_return auth ? std::vector<Message>{*auth} : std::vector<Message>{};
  }
  out.clear();
  pg::encodePasswordMessage(out, password);
  co_await send(out);
  co_return co_await untilReady();
}

asio::awaitable<std::vector<Message>> Client::startup(const Params& params) {
  std::string out;
  pg::StartupMessage sm;
  sm.protocol = pg::kProtocol30;
  sm.params = {{"user", "alice"}, {"database", "kb"}};
  for (const auto& [k, v] : params) {
    sm.params.emplace_back(k, v);
  }
  pg::encodeStartupMessage(out, sm);
  co_await send(out);
  std::optional<Message> first = co_await next();
  co_return first ? std::vector<Message>{*first} : std::vector<Message>{};
}

asio::awaitable<void> Client::send(std::string bytes) {
  co_await stream_.writeAll(bytes);
}

asio::awaitable<std::vector<Message>> Client::query(std::string sql) {
  co_await send(Q(sql));
  co_return co_await untilReady();
}

asio::awaitable<std::vector<Message>> Client::batch(std::string bytes) {
  co_await send(std::move(bytes));
  co_return co_await untilReady();
}

asio::awaitable<std::vector<Message>> Client::untilReady() {
  co_return co_await until(pg::be::kReadyForQuery);
}

asio::awaitable<std::vector<Message>> Client::until(char type) {
  std::vector<Message> out;
  for (;;) {
    std::optional<Message> m = co_await next();
    if (!m) {
      co_return out;
    }
    out.push_back(std::move(*m));
    if (out.back().type == type) {
      co_return out;
    }
  }
}

asio::awaitable<std::vector<Message>> Client::untilClosed() {
  std::vector<Message> out;
  for (;;) {
    std::optional<Message> m = co_await next();
    if (!m) {
      co_return out;
    }
    out.push_back(std::move(*m));
  }
}

asio::awaitable<std::optional<Message>> Client::next() {
  for (;;) {
    pg::Frame frame;
    std::string err;
    if (pg::nextFrame(buf_, 1 << 26, frame, err) == pg::FrameStatus::kReady) {
      Message m{frame.type, std::string(frame.payload)};
      buf_.erase(0, frame.size);
      co_return m;
    }
    if (eof_) {
      co_return std::nullopt;
    }
    char chunk[8192];
    auto [ec, n] = co_await stream_.readSome(asio::buffer(chunk));
    if (ec) {
      eof_ = true;
      continue;
    }
    buf_.append(chunk, n);
  }
}

// -- SessionHarness ----------------------------------------------------------------------------

SessionHarness::SessionHarness(std::string policies, std::string extra,
                               std::vector<std::string> groups) {
  char tmpl[] = "/tmp/jg-session-XXXXXX";
  dir_ = mkdtemp(tmpl);
  writeFile(dir_ + "/client_password", "secret\n");
  writeFile(dir_ + "/upstream_password", "upstream\n");
  writeFile(dir_ + "/mask.key", randomId(32));
  bool own_access = extra.starts_with("access:") || extra.find("\naccess:") != std::string::npos;
  extra = replaceAll(std::move(extra), "$DIR", dir_);
  auto cfg =
      parseConfig(baseConfig(dir_, groups, !own_access) + extra + policies, dir_ + "/jitgate.yaml");
  if (!cfg) {
    config_error_ = cfg.status().message();
    return;
  }
  auto rt = makeRuntime(*cfg);
  if (!rt) {
    config_error_ = rt.status().message();
    return;
  }
  runtime_ = *rt;
  auto store = store::openSqlite(dir_ + "/state.db");
  if (!store) {
    config_error_ = store.status().message();
    return;
  }
  store_ = std::move(*store);
  access::BrokerOptions options;
  options.settings = runtime_->config->access;
  options.start_sweeper = false;
  options.clock = &clock_;
  options.notify = [this](const access::AccessEvent& e) {
    if (on_event_) {
      on_event_(e);
    }
  };
  auto broker = access::Broker::create(*store_, std::move(options));
  if (broker) {
    broker_ = *broker;
  }
}

SessionHarness::~SessionHarness() {
  pool_.join();
  if (recorder_) {
    (void)recorder_->close();
  }
  if (broker_) {
    broker_->stop();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

asio::awaitable<Result<UpstreamConnection>> SessionHarness::connectUpstream(
    const ResourceConfig&, const UpstreamCredentials&, const StartupParams&, ssl::context*,
    std::chrono::milliseconds, size_t) {
  ++upstream_connects_;
  auto [session_end, server_end] = memoryStreamPair(io_.get_executor());
  upstream_end_ = std::move(server_end);
  asio::co_spawn(io_, upstream.serve(*upstream_end_), asio::detached);
  UpstreamConnection conn;
  conn.stream = std::move(session_end);
  conn.parameters = {{"server_version", "15.0"},
                     {"client_encoding", "UTF8"},
                     {"standard_conforming_strings", "on"}};
  conn.key = pg::BackendKeyData{4242, 77};
  co_return conn;
}

void SessionHarness::run(const std::function<asio::awaitable<void>(Client&)>& script) {
  auto [client_end, session_end] = memoryStreamPair(io_.get_executor());
  session_ = std::make_shared<Session>(*this, std::move(session_end), io_.get_executor());
  asio::co_spawn(io_, Session::run(session_), asio::detached);
  Client client(*client_end);
  bool done = false;
  auto body = [&]() -> asio::awaitable<void> {
    co_await script(client);
    client.close();
    done = true;
  };
  asio::co_spawn(io_, body(), asio::detached);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!(done && ended_) && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
    if (io_.stopped()) {
      io_.restart();
    }
  }
  script_finished_ = done;
  // What the session's end has made ready (the upstream sees its connection closed).
  io_.restart();
  io_.poll();
  session_.reset();
}

void SessionHarness::decide(const std::string& review_id, bool approve) {
  identity::Identity owner;
  owner.issuer = "static";
  owner.subject = "olga";
  owner.email = "olga@corp.example";
  owner.groups = {"owners"};
  auto r =
      approve ? broker_->approve(review_id, owner, "ok") : broker_->reject(review_id, owner, "no");
  (void)r;
}

std::vector<std::string> SessionHarness::pendingReviews() {
  std::vector<std::string> ids;
  access::ReviewFilter f;
  f.state = access::ReviewState::kPending;
  if (auto reviews = broker_->listReviews(f)) {
    for (const auto& r : *reviews) {
      ids.push_back(r.id);
    }
  }
  return ids;
}

void SessionHarness::cancelHeld() {
  if (session_) {
    session_->cancelHold();
  }
}

bool SessionHarness::cancelRequest(const pg::BackendKeyData& key) {
  auto target = cancels_.lookup(key.process_id, key.secret_key);
  if (!target) {
    return false;
  }
  if (auto session = target->session.lock()) {
    session->cancelHold();
  }
  return true;
}

void SessionHarness::recordAudit(audit::Env* env) {
  audit::Settings settings;
  settings.dir = dir_ + "/audit";
  settings.instance = "gw1";
  settings.durability = audit::Durability::kOff;
  settings.raw_payloads = false;
  settings.signing_key_file = dir_ + "/sign.pem";
  settings.retention = std::chrono::milliseconds(0);
  (void)audit::SigningKey::generate(settings.signing_key_file, dir_ + "/sign.pub.pem");
  audit::RecorderOptions options;
  options.index = &audit_sink_;
  if (env != nullptr) {
    options.env = env;
  }
  auto recorder = audit::Recorder::open(settings, options);
  if (!recorder) {
    config_error_ = recorder.status().message();
    return;
  }
  recorder_ = std::move(*recorder);
}

std::vector<audit::Event> SessionHarness::auditEvents() {
  if (recorder_) {
    (void)recorder_->close();  // every queued event is durable and handed to the sink
  }
  return audit_sink_.events();
}

std::vector<std::string> SessionHarness::auditTypes() {
  std::vector<std::string> types;
  for (const auto& e : auditEvents()) {
    types.emplace_back(audit::typeName(e.body));
  }
  return types;
}

void SessionHarness::terminate(std::string sqlstate, std::string message) {
  if (session_) {
    session_->terminate(std::move(sqlstate), std::move(message));
  }
}

uint64_t SessionHarness::statementsDecided() const {
  return session_ ? session_->summary().statements : 0;
}

void SessionHarness::drain() {
  if (session_) {
    session_->drain();
  }
}

}  // namespace jg::server::testing
