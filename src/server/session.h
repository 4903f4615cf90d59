// Session: one client connection, from the first byte to the last.
//
// run() is the session coroutine: startup (SSLRequest/TLS, GSSENCRequest, CancelRequest,
// StartupMessage and protocol version checks), front-end authentication, upstream connect,
// then the relay — two pumps (client→upstream, upstream→client) that frame every message,
// feed it to the protocol Tracker and forward it with backpressure (a pump does not read again
// until its last write completed, so memory per session is bounded by one read buffer plus the
// largest message allowed). Any error ends the session with a FATAL that names the cause.
//
// A Session lives on one I/O thread (its socket's executor). terminate() may be called from any
// thread: it posts to that executor.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "access/broker.h"
#include "creds/issuer.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "proto/pg/framer.h"
#include "proto/pg/tracker.h"
#include "server/result_masker.h"
#include "server/session_audit.h"
#include "server/stream.h"
#include "server/upstream.h"
#include "sql/session_context.h"

namespace jg::server {

class Gateway;
struct Runtime;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Gateway& gateway, tcp::socket socket);
  ~Session();

  // The session coroutine; the parameter keeps the session alive for the coroutine's lifetime.
  static asio::awaitable<void> run(std::shared_ptr<Session> self);
  // Ends the session with a FATAL carrying `sqlstate` and `message`. Thread-safe.
  void terminate(std::string sqlstate, std::string message);

  const std::string& id() const { return id_; }

 private:
  struct Fatal {
    std::string sqlstate;
    std::string message;
  };

  asio::awaitable<void> runImpl();
  asio::awaitable<Status> serve();
  asio::awaitable<Status> startup();
  asio::awaitable<Status> readStartupPacket(MessageReader& reader, pg::StartupMessage& out,
                                            std::string& storage, bool& cancel_only);
  asio::awaitable<Status> authenticateClient(MessageReader& reader);
  // Parameters of coroutines are references to the caller's frame: GCC 12 mishandles temporaries
  // passed by value into a co_await expression (destroyed twice).
  asio::awaitable<Status> verifyToken(const std::string& token);
  asio::awaitable<Status> authorizeSession();
  // Session-scope review: an active grant lets the session in; otherwise a review is created
  // and, in wait mode, the connection is held (with a notice) until it is decided.
  asio::awaitable<Status> awaitSessionApproval(const policy::Decision& d);
  void attachGrant(const access::Grant& grant);
  // Statement-scope review: an approval for exactly this statement is consumed, or a review is
  // created and the statement refused with its id. Returns true when the statement may run.
  bool statementApproved(const policy::Decision& d, const sql::Classification& c,
                         std::string_view sql, std::string& message);
  // The policy gate for one client message. Returns true when the message is refused; then
  // `substitute` holds the message to send upstream instead (one the server rejects at the same
  // position, so transaction semantics stay PostgreSQL's) and `error` the client's ErrorResponse.
  bool refuseStatement(const pg::Frame& frame, std::string& substitute, std::string& error);
  // The client messages the gate looks at (refuseMessage), by type.
  static bool gated(char type);
  // Dispatches to the refuse* function for the message's type; same contract as refuseStatement.
  bool refuseMessage(const pg::Frame& frame, std::string& substitute, std::string& error);
  // An Execute of a portal the gateway does not know is refused. With a time-dependent policy,
  // or once the search_path has changed, every statement the portal may run is decided again,
  // since the decision taken at Parse may no longer hold.
  bool refuseExecute(const pg::Frame& frame, std::string& substitute, std::string& error);
  // A Bind of a statement the gateway does not know, or of a portal past limits.max_portals.
  bool refuseBind(const pg::Frame& frame, std::string& substitute, std::string& error);
  // A Describe of a statement or portal the gateway does not know.
  bool refuseDescribe(const pg::Frame& frame, std::string& substitute, std::string& error);
  // Any statement, bind or execute while the audit log cannot be written (58030); defined in
  // session_audit.cc.
  bool refuseUnrecorded(const pg::Frame& frame, std::string& substitute, std::string& error);
  // Counts, logs and records a refusal, and encodes the client's ErrorResponse into `error`
  // (SQLSTATE `sqlstate`, 42501 when empty).
  void reportRefusal(std::string_view rule_id, std::string_view sqlstate,
                     const std::string& message, const std::string& detail, std::string& error);
  static void substituteRefused(const pg::Frame& frame, std::string_view name,
                                std::string& substitute);
  // Statement-scope review in wait mode: tells the client, holds the statement until the review
  // is decided (or the wait times out, or the client sends a CancelRequest) and consumes the
  // approval. OK means the statement may run now.
  asio::awaitable<Status> holdForApproval();
  // Ends a statement's wait for approval (CancelRequest from the client). Thread-safe.
  void cancelHold();
  // Writes to the client from the client pump (notices while holding a statement) must not
  // interleave with the server pump's writes.
  asio::awaitable<void> waitClientWriteFree();
  asio::awaitable<Status> connectToUpstream(const pg::StartupMessage& startup);
  asio::awaitable<Status> issueCredential(UpstreamCredentials& creds);
  asio::awaitable<Status> relay();
  asio::awaitable<Status> clientPump();
  asio::awaitable<Status> serverPump();
  asio::awaitable<Status> watchdog();
  asio::awaitable<void> handleCancel(const pg::CancelRequest& req);
  void recordBind(std::string_view payload);
  // Records a result or error event for an upstream message; true when it completes a result.
  // `owner`: the audit record of the request the frame answers (Tracker::frontTag).
  bool recordBackend(const pg::Frame& frame, uint64_t owner);
  // Appends the error for a result over its row limit and withholds the rest of the answer.
  void withholdOverLimit(std::string& out);
  void tagRequest(const pg::Frame& frame);
  asio::awaitable<Status> loadCatalog(const std::vector<uint32_t>& oids);
  // The index of the resource's document id column in `cols`, or -1.
  asio::awaitable<int> documentColumn(const pg::Columns& cols);
  // Masks one upstream message in place of forwarding it. Returns true when `out` received a
  // replacement; an error means the result must be withheld (fail closed).
  asio::awaitable<Result<bool>> maskBackend(const pg::Frame& frame, std::string& out);
  asio::awaitable<void> sendError(std::string_view severity, const Status& status);
  void touch() { last_activity_ = std::chrono::steady_clock::now(); }

  Gateway& gateway_;
  std::shared_ptr<const Runtime> rt_;  // the config snapshot this session started with
  std::string id_;
  std::unique_ptr<Stream> client_;
  std::unique_ptr<Stream> upstream_;
  std::string client_addr_;
  std::string user_;      // from the startup packet, informative only
  std::string resource_;  // the resource name (startup `database`)
  const struct ResourceConfig* resource_cfg_ = nullptr;
  pg::Tracker tracker_;
  identity::Identity identity_;
  std::string auth_method_;
  policy::Binding binding_;
  sql::SessionContext sql_ctx_;
  // The session ends at this time (token expiry plus grace; later also grant expiry).
  std::chrono::system_clock::time_point deadline_ = std::chrono::system_clock::time_point::max();
  std::string deadline_reason_;
  uint64_t statements_refused_ = 0;
  std::optional<creds::Lease> lease_;
  std::vector<std::string> granted_;       // review rules with an active grant for this session
  access::Subscription grant_watch_;       // the session role minted for this session
  std::unique_ptr<ResultMasker> masker_;   // null when masking is not configured
  std::unique_ptr<SessionAudit> audit_;    // null when recording is not configured
  std::shared_ptr<CatalogCache> catalog_;  // names for column rules and document lineage
  bool result_started_ = false;            // the current result's start is recorded
  std::map<std::string, uint64_t, std::less<>> masked_before_;  // counters at result start
  // After a masking failure the rest of the upstream's answer is withheld up to ReadyForQuery.
  bool discard_until_ready_ = false;
  // The client was told its transaction failed (after a masking failure) while the upstream's
  // is still open: statements other than transaction control are refused (25P02) until the
  // upstream's transaction has ended or failed too, as PostgreSQL would.
  bool client_txn_failed_ = false;
  // The row limit of the statement just allowed (policy modifier row_limit), handed to the
  // tracker with the message; 0 = none.
  int64_t next_row_limit_ = 0;
  std::string next_row_limit_by_;
  // A statement held for approval (statement-scope review, wait mode).
  std::string hold_review_, hold_fingerprint_, hold_params_hash_;
  std::function<void()> hold_cancel_;
  bool client_write_busy_ = false;
  pg::BackendKeyData client_key_{};
  std::string pending_client_bytes_;  // pipelined by the client right after startup
  std::string pending_server_bytes_;
  std::optional<Fatal> fatal_;
  bool client_terminated_ = false;
  bool cancel_only_ = false;
  bool upstream_sent_fatal_ = false;
  std::chrono::steady_clock::time_point last_activity_;
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_from_server_ = 0;
  uint64_t messages_from_server_ = 0;
};

// The SQLSTATE to report for a Status (its own, or derived from its code).
std::string sqlstateFor(const Status& s);

}  // namespace jg::server
