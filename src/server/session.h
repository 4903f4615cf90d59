// Session: one client connection, from the first byte to the last.
//
// run() is the session coroutine: startup (SSLRequest/TLS, GSSENCRequest, CancelRequest,
// StartupMessage and protocol version checks), front-end authentication, upstream connect,
// then the relay — two pumps (client→upstream, upstream→client) that frame every message,
// feed it to the protocol Tracker and forward it with backpressure (a pump does not read again
// until its last write completed, so memory per session is bounded by one read buffer plus the
// largest message allowed). Any error ends the session with a FATAL that names the cause.
//
// Who does what on the data path (docs/architecture.md, "A PostgreSQL session"):
//   relay.cc           the pumps: framing, batching, writes, backpressure
//   session_gate.cc    client messages the gate looks at: decode, classify, gate::Gate decides,
//                      the Verdict becomes an ErrorResponse and a substitute (one place)
//   session_access.cc  just-in-time access: session admission, statements held for approval,
//                      review settlement off the I/O thread, the session's upstream credential
//   session_results.cc server messages: row limits, masking, audit records of results
//   session_startup.cc startup packet, authentication, upstream connection
// The session reaches the process only through SessionServices (services.h), and its peers only
// through ByteStreams, so tests drive it over memory without sockets (session_test.cc).
//
// A Session lives on one I/O thread (its executor). terminate() may be called from any thread:
// it posts to that executor.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "access/broker.h"
#include "creds/issuer.h"
#include "gate/gate.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "proto/pg/framer.h"
#include "proto/pg/tracker.h"
#include "server/result_masker.h"
#include "server/services.h"
#include "server/session_audit.h"
#include "server/stream.h"
#include "server/upstream.h"
#include "server/write_lock.h"
#include "sql/session_context.h"

namespace jg::server {

struct Runtime;
struct ResourceConfig;
class CatalogCache;
class Batch;
class ReadBuffer;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(SessionServices& services, std::unique_ptr<ByteStream> client,
          asio::any_io_executor executor);
  // A client inside this process that has already verified its caller's token (the MCP
  // endpoint, mcp_pg_client.h): the session takes this identity instead of asking the client
  // for a token, and records `client_addr` as the client's address. Only code in this process
  // can make such a session (its stream is a MemoryStream end); a socket never can.
  struct InProcessCaller {
    identity::Identity who{};
    std::string client_addr{};
  };
  Session(SessionServices& services, std::unique_ptr<ByteStream> client,
          asio::any_io_executor executor, InProcessCaller caller);
  ~Session();

  // The session coroutine; the parameter keeps the session alive for the coroutine's lifetime.
  static asio::awaitable<void> run(std::shared_ptr<Session> self);
  // Ends the session with a FATAL carrying `sqlstate` and `message`. Thread-safe.
  void terminate(std::string sqlstate, std::string message);
  // Ends a statement's wait for approval (CancelRequest from the client). Thread-safe.
  void cancelHold();
  // Shutdown: ends the session with FATAL 57P01 at its next idle point, at once when no request
  // is in flight, otherwise as soon as the server has answered everything it owes. Thread-safe.
  void drain();

  const std::string& id() const { return id_; }

  // What the admin API shows of a live session (GET /api/v1/sessions): nothing secret, and
  // never the SQL. Updated by the session at startup milestones; summary() is thread-safe.
  struct Summary {
    std::string id{};
    std::string resource{};  // empty until the startup packet is read
    std::string user{};      // the caller's identity (email or subject) once authenticated
    std::string db_user{};   // the startup packet's user name (informative)
    std::string client_addr{};
    std::string auth_method{};  // oidc, static, oidc-mcp; empty before authentication
    std::string state{};        // startup, authenticated, active
    std::chrono::system_clock::time_point started{};
    uint64_t statements = 0;  // Query and Parse messages the gate has decided so far
  };
  Summary summary() const;

 private:
  struct Fatal {
    std::string sqlstate;
    std::string message;
  };
  // What the gate made of one client message (session_gate.cc).
  struct Gated {
    enum class Step { kForward, kRefuse, kSettle, kHold };
    Step step = Step::kForward;
    std::string substitute;  // kRefuse: sent upstream in its place (fails at the same point)
    std::string error;       // kRefuse: the client's ErrorResponse
    // The statement being decided (Query or Parse).
    std::string_view sql, name;
    bool simple = true;
    std::shared_ptr<const sql::Classification> classification;
    gate::Verdict verdict;
  };

  // -- lifecycle (session.cc) ----------------------------------------------------------------
  asio::awaitable<void> runImpl();
  asio::awaitable<Status> serve();
  void logEnd(const Status& end);
  // The session is being ended (fatal_) while the upstream still runs a statement: cancel it.
  asio::awaitable<void> cancelInFlight();
  // Draining and nothing in flight: fatal_ says why the session ends; true when it is time.
  bool endIfDrained();
  asio::awaitable<void> sendError(std::string_view severity, const Status& status);
  void touch() { last_activity_ = std::chrono::steady_clock::now(); }
  // Copies what summary() shows; called on the session's thread at each startup milestone.
  void publishSummary(std::string_view state);
  // Adds the cells masked since the last call to jitgate_masked_values_total.
  void countMasked();

  // -- startup (session_startup.cc) -----------------------------------------------------------
  asio::awaitable<Status> startup();
  asio::awaitable<void> startupDeadline();
  void moveStartupDeadline(std::chrono::steady_clock::time_point at);
  Status checkStartup(const pg::StartupMessage& startup);
  asio::awaitable<Status> readStartupPacket(MessageReader& reader, pg::StartupMessage& out,
                                            std::string& storage, bool& cancel_only);
  asio::awaitable<Status> answerSslRequest(MessageReader& reader);
  asio::awaitable<Status> negotiateVersion(pg::StartupMessage& out);
  asio::awaitable<Status> authenticateClient(MessageReader& reader);
  Status checkStaticPassword(std::string_view password);
  // Parameters of coroutines are references to the caller's frame: GCC 12 mishandles temporaries
  // passed by value into a co_await expression (destroyed twice).
  asio::awaitable<Status> verifyToken(const std::string& token);
  // The caller's identity is this session's; its token's expiry bounds the session.
  void adoptIdentity(identity::Identity who, std::string method);
  asio::awaitable<Status> acceptInProcessCaller();
  asio::awaitable<Status> connectToUpstream(const pg::StartupMessage& startup);
  asio::awaitable<void> handleCancel(const pg::CancelRequest& req);
  asio::awaitable<void> relayCancel(const pg::CancelRequest& req);

  // -- access (session_access.cc) -------------------------------------------------------------
  asio::awaitable<Status> authorizeSession();
  // Session-scope review: an active grant lets the session in; otherwise a review is created
  // and, in wait mode, the connection is held (with a notice) until it is decided.
  asio::awaitable<Status> awaitSessionApproval(const policy::Decision& d);
  asio::awaitable<Status> waitSessionDecision(const std::string& review_id,
                                              const policy::Decision& d);
  void attachGrant(const gate::GrantInfo& grant);
  // Settles a kReview verdict through the broker, on the blocking pool.
  asio::awaitable<void> settle(Gated& g);
  // Statement-scope review in wait mode: tells the client, holds the statement until the review
  // is decided (or the wait times out, or the client sends a CancelRequest) and consumes the
  // approval. OK means the statement may run now.
  asio::awaitable<Status> holdForApproval(const gate::Verdict& held);
  asio::awaitable<Status> writeNotice(const std::string& message);
  asio::awaitable<Status> issueCredential(UpstreamCredentials& creds);
  // Runs `fn` on the blocking pool and returns its result on the session's executor.
  template <typename T, typename F>
  asio::awaitable<T> offThread(const F& fn);

  // -- the gate (session_gate.cc) -------------------------------------------------------------
  static bool gated(char type);
  // Decides on one client message. kSettle: call settle() then finishStatement().
  Gated gateMessage(const pg::Frame& frame);
  Gated decideStatement(const pg::Frame& frame);
  Gated decideExecute(const pg::Frame& frame);
  Gated decideBind(const pg::Frame& frame);
  Gated decideDescribe(const pg::Frame& frame);
  Gated refuseUnrecorded(const pg::Frame& frame);
  // Masking checks, the audit record, the row limit and the batch's effects: after the verdict.
  void finishStatement(const pg::Frame& frame, Gated& g);
  void checkMasking(Gated& g);
  void recordStatement(const Gated& g);
  // The one place a refusal is made: counted, logged, recorded, encoded for the client, and a
  // substitute the server rejects at the same position (so transaction semantics stay
  // PostgreSQL's). `sqlstate` overrides the Verdict's mapping (server/refusal.h).
  void refuse(const pg::Frame& frame, std::string_view name, const gate::Verdict& v, Gated& g,
              std::string_view sqlstate = {});
  gate::Caller caller() const { return gate::Caller{binding_, granted_}; }

  // -- the pumps (relay.cc) -------------------------------------------------------------------
  asio::awaitable<Status> relay();
  asio::awaitable<Status> clientPump();
  asio::awaitable<Status> awaitGate(const pg::Frame& frame, Gated& g, Batch& batch, ReadBuffer& in,
                                    bool& recorded);
  void takeHeldInput(ReadBuffer& in);
  Status passRefused(Gated& g, Batch& batch, bool& recorded);
  Status passClient(const pg::Frame& frame, size_t pos, const Gated& g, Batch& batch,
                    bool& recorded);
  // Before an Execute whose portal's columns the gateway will not know (the client never
  // described it or its statement), masking needs them: a Describe of the portal goes upstream
  // first, and its answer is the gateway's (onServerFrame keeps it from the client).
  Status describeForMasking(const pg::Frame& frame, Batch& batch);
  asio::awaitable<Status> sendUpstream(Batch& batch, const ReadBuffer& in, bool recorded);
  asio::awaitable<Status> serverPump();
  Result<bool> onServerFrame(const pg::Frame& frame, Batch& batch, uint64_t& owner);
  bool withheld(const pg::Frame& frame, Batch& batch);
  asio::awaitable<Status> relayResult(const pg::Frame& frame, size_t pos, Batch& batch,
                                      uint64_t owner, bool& completes);
  asio::awaitable<Status> flushToClient(Batch& batch, const ReadBuffer& in, bool completes,
                                        bool& stop);
  Status upstreamEnded(const error_code& ec);
  asio::awaitable<Status> watchdog();

  // -- results (session_results.cc) -----------------------------------------------------------
  void recordBind(std::string_view payload);
  // Records a result or error event for an upstream message; true when it completes a result.
  // `owner`: the audit record of the request the frame answers (Tracker::frontTag).
  bool recordBackend(const pg::Frame& frame, uint64_t owner);
  std::map<std::string, uint64_t> maskedSinceResultStart();
  asio::awaitable<void> recordResultStart(uint64_t owner);
  // Appends the error for a result over its row limit and withholds the rest of the answer.
  void withholdOverLimit(std::string& out);
  // After a masking failure: the error for the client; the rest of the answer is withheld.
  void withholdMaskingFailure(const Status& failure, std::string& out);
  void tagRequest(const pg::Frame& frame);
  asio::awaitable<Status> loadCatalog(const std::vector<uint32_t>& oids);
  // The index of the resource's document id column in `cols`, or -1.
  asio::awaitable<int> documentColumn(const pg::Columns& cols);
  // Masks one upstream message in place of forwarding it. Returns true when `out` received a
  // replacement; an error means the result must be withheld (fail closed).
  // maskBackend for the messages that may need the catalog (RowDescription, CopyOutResponse);
  // maskBackendNow for the others.
  static bool needsCatalog(char type);
  asio::awaitable<Result<bool>> maskBackend(const pg::Frame& frame, std::string& out);
  Result<bool> maskBackendNow(const pg::Frame& frame, std::string& out);
  asio::awaitable<Result<bool>> maskRowDescription(const pg::Frame& frame, std::string& out);
  asio::awaitable<Status> loadCopyTables(std::vector<std::vector<TableColumns>>& found);

  SessionServices& services_;
  asio::any_io_executor ex_;
  std::shared_ptr<const Runtime> rt_;  // the config snapshot this session started with
  std::string id_;
  std::unique_ptr<ByteStream> client_;
  std::unique_ptr<ByteStream> upstream_;
  std::string client_addr_;
  std::string application_name_;  // the startup parameter (reviews show it to approvers)
  std::string user_;              // from the startup packet, informative only
  std::string resource_;          // the resource name (startup `database`)
  const ResourceConfig* resource_cfg_ = nullptr;

  // Protocol state: the tracker is the only record of statements, portals and results.
  pg::Tracker tracker_;
  sql::SessionContext sql_ctx_;

  // Who, and what they may do.
  identity::Identity identity_;
  std::optional<InProcessCaller> in_process_;  // set only by the in-process constructor
  std::string auth_method_;
  policy::Binding binding_;
  std::vector<std::string> granted_;  // review rules with an active grant for this session
  access::Subscription grant_watch_;
  // The session ends at this time (token expiry plus grace; grant or credential expiry).
  std::chrono::system_clock::time_point deadline_ = std::chrono::system_clock::time_point::max();
  // When startup must be complete (timeouts.startup; moved while a session review is held).
  std::chrono::steady_clock::time_point startup_deadline_{};
  asio::steady_timer* startup_timer_ = nullptr;  // startupDeadline's timer, while it runs
  std::string deadline_reason_;
  std::optional<creds::Lease> lease_;  // the session role minted for this session
  std::function<void()> hold_cancel_;  // ends a statement's wait for approval
  // A cancel request that came while a statement was being gated, before its hold began: the
  // hold ends as soon as it starts, so a client that cancels early is not left waiting.
  bool gating_ = false;
  bool gate_cancelled_ = false;
  // What the client sent while its connection or a statement was held, not yet framed.
  std::string held_input_;

  // Results: masking and recording.
  std::unique_ptr<ResultMasker> masker_;   // null when masking is not configured
  std::unique_ptr<SessionAudit> audit_;    // null when recording is not configured
  std::shared_ptr<CatalogCache> catalog_;  // names for column rules and document lineage
  bool result_started_ = false;            // the current result's start is recorded
  std::map<std::string, uint64_t, std::less<>> masked_before_;  // counters at result start
  // After a masking failure or a row limit the rest of the upstream's answer is withheld up to
  // ReadyForQuery.
  bool discard_until_ready_ = false;
  // The client was told its transaction failed (after a masking failure) while the upstream's
  // is still open: statements other than transaction control are refused (25P02) until the
  // upstream's transaction has ended or failed too, as PostgreSQL would.
  bool client_txn_failed_ = false;

  // Connection state.
  WriteLock client_write_;  // the pumps' writes to the client never interleave
  pg::BackendKeyData client_key_{};
  std::string pending_client_bytes_;  // pipelined by the client right after startup
  std::string pending_server_bytes_;
  std::optional<Fatal> fatal_;
  bool client_terminated_ = false;
  bool cancel_only_ = false;
  bool upstream_sent_fatal_ = false;
  bool relaying_ = false;  // startup is over: the pumps run
  bool draining_ = false;  // the gateway is shutting down (drain())
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  uint64_t statements_refused_ = 0;
  std::atomic<uint64_t> statements_decided_{0};  // read by summary() on other threads
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_from_server_ = 0;
  uint64_t messages_from_server_ = 0;

  std::map<std::string, uint64_t, std::less<>> masked_counted_;  // by countMasked()
  mutable std::mutex summary_mu_;
  Summary summary_;  // guarded by summary_mu_
};

// The SQLSTATE to report for a Status (its own, or derived from its code).
std::string sqlstateFor(const Status& s);
// The bounded reason label of jitgate_auth_failures_total for a failed authentication.
std::string_view authFailureReason(const Status& failure);

}  // namespace jg::server
