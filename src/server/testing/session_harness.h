// SessionHarness: a real Session driven without sockets. The test plays the client over a
// MemoryStream; a FakeUpstream plays the PostgreSQL server over another. Policy, classifier,
// broker (in-memory SQLite state store) and masking are the gateway's own; only the process
// around the session (listeners, threads) is replaced.
//
//   SessionHarness h(kPolicies);
//   h.upstream.on("SELECT 1", {.columns = {"x"}, .rows = {{"1"}}});
//   h.run([&](Client& c) -> asio::awaitable<void> {
//     co_await c.connect();
//     auto answer = co_await c.query("SELECT 1");
//     EXPECT_EQ(kinds(answer), "TDCZ");
//   });
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "access/broker.h"
#include "audit/recorder.h"
#include "server/gateway.h"
#include "server/memory_stream.h"
#include "server/services.h"
#include "server/testing/fake_upstream.h"
#include "sql/classifier.h"
#include "store/store.h"

namespace jg::server::testing {

// One message from the gateway to the client.
struct Message {
  char type = 0;
  std::string payload;
  std::string field(char code) const;  // ErrorResponse/NoticeResponse field ('C', 'M', 'D')
  std::string code() const { return field('C'); }
  std::string message() const { return field('M'); }
  Row row() const;  // DataRow values
};
// The message types in order, e.g. "TDDCZ".
std::string kinds(const std::vector<Message>& messages);
// The SQLSTATEs of the ErrorResponses, in order.
std::vector<std::string> errorCodes(const std::vector<Message>& messages);

// Encoders of client messages.
std::string Q(std::string_view sql);
std::string P(std::string_view name, std::string_view sql);
std::string B(std::string_view portal, std::string_view statement,
              const std::vector<std::optional<std::string>>& params = {});
std::string D(char target, std::string_view name);
std::string E(std::string_view portal, int32_t max_rows = 0);
std::string C(char target, std::string_view name);
std::string S();  // Sync
std::string H();  // Flush
std::string X();  // Terminate
std::string F();  // FunctionCall (fast path), oid 1

// The time of the session's decisions and of the broker (time windows, review timeouts); it
// starts at the real time and moves only when a test sets it. Thread-safe.
class TestClock final : public Clock {
 public:
  TestClock();
  std::chrono::system_clock::time_point now() const override;
  void set(std::chrono::system_clock::time_point t);
  void advance(std::chrono::system_clock::duration d);

 private:
  std::atomic<int64_t> ns_;
};

// Collects the audit events that became durable (an audit::IndexSink). Thread-safe.
class AuditSink final : public audit::IndexSink {
 public:
  void onDurable(const std::string&, std::vector<audit::DurableEvent>&& batch) override;
  void onSegmentsRemoved(const std::string&, const std::vector<uint64_t>&) override {}
  std::vector<audit::Event> events() const;

 private:
  mutable std::mutex mu_;
  std::vector<audit::Event> events_;
};

class Client {
 public:
  explicit Client(MemoryStream& stream) : stream_(stream) {}
  // Startup and password; the messages up to the first ReadyForQuery (or the FATAL).
  asio::awaitable<std::vector<Message>> connect(std::string db = "kb",
                                                std::string password = "secret");
  // Sends a StartupMessage for resource kb with `params` added (e.g. replication), and reads the
  // gateway's first answer (the password request, or a FATAL).
  using Params = std::vector<std::pair<std::string, std::string>>;
  asio::awaitable<std::vector<Message>> startup(const Params& params);
  asio::awaitable<void> send(std::string bytes);
  // Sends a simple query and reads its answer up to ReadyForQuery.
  asio::awaitable<std::vector<Message>> query(std::string sql);
  // Sends the bytes (an extended-protocol batch ending in Sync) and reads up to ReadyForQuery.
  asio::awaitable<std::vector<Message>> batch(std::string bytes);
  // Reads messages up to and including ReadyForQuery (or the end of the stream).
  asio::awaitable<std::vector<Message>> untilReady();
  // Reads up to and including a message of type `type`.
  asio::awaitable<std::vector<Message>> until(char type);
  // The next message; nullopt when the gateway closed the connection.
  asio::awaitable<std::optional<Message>> next();
  // Reads everything until the gateway closes the connection.
  asio::awaitable<std::vector<Message>> untilClosed();
  void close() { stream_.close(); }
  bool closed() const { return eof_; }

 private:
  MemoryStream& stream_;
  std::string buf_;
  bool eof_ = false;
};

class SessionHarness : public SessionServices {
 public:
  static constexpr const char* kAllowAll =
      "policies:\n  - { id: allow-all, match: {}, allow: [all] }\n";
  // `policies`: the `policies:` section; `extra`: more configuration (masking:, limits:,
  // access:, ...), where $DIR stands for the harness's directory (it holds mask.key, 32 bytes).
  explicit SessionHarness(std::string policies = kAllowAll, std::string extra = {},
                          std::vector<std::string> groups = {"eng"});
  ~SessionHarness() override;

  FakeUpstream upstream;

  // Runs a session with `script` as its client, until the script returns and the session has
  // ended (the harness closes the client's end if the script left it open).
  void run(const std::function<asio::awaitable<void>(Client&)>& script);
  // Whether the last run's script got to its end (false: it waited past the 30 s deadline).
  bool scriptFinished() const { return script_finished_; }
  // Runs `fn` on the harness's executor while a script is running (e.g. an approver's action
  // after a delay).
  asio::io_context& io() { return io_; }

  // The approval side: approve or reject the pending review `id` as an approver of `groups`.
  void decide(const std::string& review_id, bool approve);
  // Pending review ids.
  std::vector<std::string> pendingReviews();
  // The session asks for a cancel of its held statement (a client CancelRequest).
  void cancelHeld();
  // A CancelRequest with `key` (the client's BackendKeyData), routed as the gateway routes it:
  // through the cancel registry to the session. False when the registry knows no such key.
  bool cancelRequest(const pg::BackendKeyData& key);
  // Called with each access event the broker emits (a review asked for, decided...), on the
  // thread that emits it.
  void onAccessEvent(access::EventSink sink) { on_event_ = std::move(sink); }
  // One pass of the broker's sweeper (expiries and wait timeouts at clock()'s time).
  void sweep() { broker_->sweep(); }
  // Records the session in an audit log under the harness's directory (call before run()),
  // written through `env` (the real file system when null).
  void recordAudit(audit::Env* env = nullptr);
  // The audit events of the session once the log is closed, in log order.
  std::vector<audit::Event> auditEvents();
  // The record type names of auditEvents() ("connect", "statement", ..., "session_end").
  std::vector<std::string> auditTypes();
  int upstreamConnects() const { return upstream_connects_; }
  TestClock& testClock() { return clock_; }
  // Ends the session from outside (as a revocation or shutdown does).
  void terminate(std::string sqlstate, std::string message);
  // Ends the session at its next idle point (as SIGTERM does).
  void drain();
  bool sessionEnded() const { return ended_; }
  // The running session's summary().statements (as the admin API lists it); 0 outside run().
  uint64_t statementsDecided() const;
  const std::string& configError() const { return config_error_; }

  // SessionServices
  std::shared_ptr<const Runtime> runtime() const override { return runtime_; }
  sql::Classifier& classifier() override { return classifier_; }
  const Clock& clock() const override { return clock_; }
  const std::shared_ptr<access::Broker>& broker() const override { return broker_; }
  const std::shared_ptr<creds::Issuer>& issuer() const override { return issuer_; }
  const std::shared_ptr<audit::Recorder>& recorder() const override { return recorder_; }
  asio::thread_pool& blockingPool() override { return pool_; }
  CancelRegistry& cancels() override { return cancels_; }
  bool listenerIsLoopback() const override { return true; }
  asio::awaitable<Result<UpstreamConnection>> connectUpstream(
      const ResourceConfig& resource, const UpstreamCredentials& creds, const StartupParams& params,
      ssl::context* tls, std::chrono::milliseconds timeout, size_t max_message) override;
  void countUnrecordedRefusal() override { ++unrecorded_refusals; }
  void sessionEnded(Session*) override { ended_ = true; }

  int unrecorded_refusals = 0;

 private:
  TestClock clock_;
  AuditSink audit_sink_;
  int upstream_connects_ = 0;
  asio::io_context io_;
  asio::thread_pool pool_{2};
  std::string dir_;
  std::string config_error_;
  std::shared_ptr<const Runtime> runtime_;
  sql::Classifier classifier_{1000};
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<access::Broker> broker_;
  access::EventSink on_event_;
  bool script_finished_ = false;
  std::shared_ptr<creds::Issuer> issuer_;
  std::shared_ptr<audit::Recorder> recorder_;
  CancelRegistry cancels_;
  std::unique_ptr<MemoryStream> upstream_end_;  // the FakeUpstream's end
  std::shared_ptr<Session> session_;
  bool ended_ = false;
};

}  // namespace jg::server::testing
