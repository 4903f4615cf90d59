// The audit event model: what a session reports to the recorder.
//
// An Event is a session id, a time and one typed body (connect, auth, statement, result parts,
// error, cancel, session end, replay). Every field of every body is written to the log in clear,
// except those of type RawBytes: pre-masking result rows and bind parameters go only through
// RawBytes, which the recorder encrypts (AES-256-GCM) or drops (`raw_payloads: off`). There is no
// field for a token, password or key: identities enter through Principal, which copies only the
// non-secret claims of an identity::Identity, and free text (statement text, error messages) is
// passed through the secret scrubber (redact.h) before it is written.
//
// HTTP sessions (ConnectEvent.protocol "http") record http_request, http_response, http_body and
// http_response_end events instead of statements and results; the body of a response travels
// masked in clear and, before masking, as RawBytes. MCP sessions (protocol "mcp") are HTTP
// sessions whose requests carry JSON-RPC: an http_request names the JSON-RPC method, id and tool,
// and messages that travel inside a response stream (SSE) are mcp_message events.
//
// Events are plain values, movable and copyable; thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "identity/identity.h"

namespace jg::audit {

class AeadKey;

// Bytes that must never be written in clear. Write side: built from plaintext with plain();
// the recorder seals or drops them. Read side: decoded from the log in sealed form; open() with
// the right key returns the plaintext. There is deliberately no accessor for the plaintext.
class RawBytes {
 public:
  enum class State { kEmpty, kPlain, kSealed };
  RawBytes() = default;
  static RawBytes plain(std::string bytes);
  // `sealed` is nonce || ciphertext || tag as produced by AeadKey::seal.
  static RawBytes sealedFrom(std::string sealed);

  State state() const { return state_; }
  bool empty() const { return state_ == State::kEmpty; }
  // REQUIRES: state() == kSealed.
  const std::string& sealedBytes() const { return bytes_; }

 private:
  friend class RawSealer;  // the only code that sees plaintext (recorder side)
  State state_ = State::kEmpty;
  std::string bytes_;
};

// Who is calling: the non-secret claims of an Identity. Never holds the token or its hash.
struct Principal {
  std::string issuer;
  std::string subject;
  std::string email;
  std::string name;
  std::string client_id;
  std::vector<std::string> groups;
  bool service_account = false;

  static Principal from(const identity::Identity& id);
};

struct ConnectEvent {
  std::string client_addr;            // "203.0.113.7:51234"
  std::string resource;               // the resource name the client connected to
  std::string protocol = "postgres";  // "postgres" | "http" | "mcp"
  std::string tls_version;            // empty when not TLS
  std::string tls_cipher;
  std::string application_name;
  std::string db_user;  // the startup user name (informational; identity comes from the token)
};

struct AuthEvent {
  bool ok = false;
  std::string method;   // "oidc-password"; HTTP: "oidc-bearer" | "oidc-api-key-header"
  Principal principal;  // empty on failure before verification
  std::string reason;   // why it failed
};

struct StatementEvent {
  uint64_t statement_id = 0;  // per-session, increasing; results and errors refer to it
  std::string text;           // SQL text (scrubbed of secret literals by the recorder)
  std::string kind;           // "select", "insert", ...
  std::vector<std::string> tables;
  std::string fingerprint;
  std::string decision;  // "allow" | "deny" | "review"
  std::string rule_id;
  std::string reason;
  std::string review_id;
  std::string grant_id;
  std::string protocol;       // "simple" | "extended"
  std::string prepared_name;  // extended protocol statement name, may be empty
  // Bind parameters: digests are SHA-256 hex of each value ("" for NULL), in clear; the values
  // themselves travel in `params` (sealed). Set both with setParams().
  std::vector<std::string> param_digests;
  RawBytes params;
  // How each parameter was shown: "" for a text value, else what the gateway did to a binary
  // one ("binary int4", "binary oid 16385, shown as hex"). Empty when every value was text.
  std::vector<std::string> param_notes;
  // A bind: the statement record of the Parse it executes (0 when not known). Binds carry the
  // Parse's kind, tables, fingerprint and decision, so every execution is one searchable row.
  uint64_t parse_id = 0;
  // Documents the statement names in its WHERE clause (`doc_id = 3`, `doc_id IN (3, 4)`,
  // `doc_id = $1` with the bound value) on the resource's documents table.
  std::vector<std::string> document_ids;

  void setParams(const std::vector<std::optional<std::string>>& values);
};

struct Column {
  std::string name;
  uint32_t type_oid = 0;
  std::string table;   // resolved source table, may be empty
  int16_t format = 0;  // 0 text, 1 binary (binary cells are stored hex-encoded, "\x...")
};

using Row = std::vector<std::optional<std::string>>;

struct ResultStartEvent {
  uint64_t statement_id = 0;
  std::vector<Column> columns;
};

// Pre-masking rows of a chunk: one entry per sent row, nullopt where masking left the row as
// sent (the raw row is then the sent row).
using RawRows = std::vector<std::optional<Row>>;

// One chunk of rows of a result, as sent to the client (masked). Sessions emit a chunk every
// few hundred rows so memory stays bounded.
struct ResultRowsEvent {
  uint64_t statement_id = 0;
  std::vector<Row> rows;                  // masked, as the client saw them
  RawBytes raw_rows;                      // pre-masking rows (setRawRows), sealed or dropped
  std::vector<std::string> document_ids;  // ids from the resource's documents id column

  // Every row before masking (parallel to `rows`).
  void setRawRows(const std::vector<Row>& raw);
  // Only the rows that masking changed (entries parallel to `rows`, nullopt: as sent).
  void setChangedRawRows(const RawRows& raw);
};

struct ResultEndEvent {
  uint64_t statement_id = 0;
  std::string command_tag;  // "SELECT 42"
  uint64_t rows = 0;
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> masked_cells;  // by detector/strategy label
};

// A whole result in one record: its columns, every row and its completion. Sessions record a
// result this way when it completes within one chunk of rows; bigger results are recorded as
// result_start, result_rows chunks and result_end. The row count is rows.size().
struct ResultEvent {
  uint64_t statement_id = 0;
  std::vector<Column> columns;
  std::vector<Row> rows;  // masked, as the client saw them
  RawBytes raw_rows;      // as in ResultRowsEvent
  std::vector<std::string> document_ids;
  std::string command_tag;
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> masked_cells;

  void setChangedRawRows(const RawRows& raw);
};

struct ErrorEvent {
  uint64_t statement_id = 0;  // 0 when not about a statement (HTTP: the request id)
  std::string source;         // "gateway" | "upstream" | "client"
  std::string severity;
  std::string sqlstate;
  std::string message;
  int http_status = 0;  // HTTP sessions: the status the client was sent (0: none)
};

struct CancelEvent {
  uint64_t statement_id = 0;
  std::string outcome;  // "forwarded" | "no-backend" | ...
};

struct SessionEndEvent {
  std::string reason;  // "client-closed", "grant-expired", "audit-unavailable", ...
  uint64_t statements = 0;
  uint64_t rows = 0;
};

// Someone replayed a recorded session (recorded so that reading raw data leaves a trace).
struct ReplayEvent {
  std::string replayed_session;
  bool raw = false;
  std::string actor;  // OS user or identity that ran the replay
  std::string reason{};  // why raw data was opened (the console asks for it; the CLI may not)
};

// A just-in-time access event: a review created or decided, a grant created, expired or revoked,
// a one-time statement approval used. Recorded under the pseudo-session "access".
struct AccessEvent {
  std::string action;  // "review.created", "review.approved", "grant.revoked", ...
  std::string review_id;
  std::string grant_id;
  std::string resource;
  std::string rule_id;
  std::string requester;  // email or subject
  std::string actor;      // who decided or revoked; empty for timers
  std::string comment;
  std::string actor_subject{};  // the actor's `sub` (the actor field names them by email)
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One HTTP request as the gateway received it, and what the gate decided. `query`, header
// values and `body` are free text: the recorder scrubs secrets from them (redact.h).
struct HttpRequestEvent {
  uint64_t request_id = 0;    // per-connection, increasing; the response events refer to it
  std::string method{};       // "POST"
  std::string path{};         // the full path as received (normalized)
  std::string query{};        // the raw query string, without '?'
  std::string route{};        // the path relative to the resource's mount prefix
  Headers headers{};          // selected, secrets already scrubbed
  std::string body{};         // the request body in clear, truncated to a bound
  uint64_t body_bytes = 0;    // the full size
  std::string body_digest{};  // SHA-256 hex of the full body
  std::string decision{};     // "allow" | "deny" | "review"
  std::string rule_id{};
  std::string reason{};
  std::string review_id{};
  std::string grant_id{};
  std::string approval_id{};
  // MCP (JSON-RPC in the body); empty for plain HTTP requests and for JSON-RPC responses a
  // client posts (answers to server-initiated requests carry only rpc_id).
  std::string rpc_method{};  // "tools/call", "tools/list", "notifications/initialized", ...
  std::string tool{};        // tools/call: the tool's name
  std::string rpc_id{};      // the JSON-RPC id as text (a string id verbatim, a number in decimal)
};

// The start of a response (status and headers) plus its first body bytes, or all of it.
struct HttpResponseEvent {
  uint64_t request_id = 0;
  int status = 0;
  Headers headers{};  // selected, scrubbed
  std::string content_type{};
  std::string body{};   // bytes as sent to the client (masked)
  RawBytes raw_body{};  // pre-masking bytes, sealed (or dropped) by the recorder
  std::vector<std::string> document_ids{};
  bool complete = false;  // true: the whole response is in this record (small responses)
  // Filled when complete:
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> masked_values{};  // by label
  std::string outcome{};  // "complete" | "masking-failed" | "upstream-closed" | "client-closed" |
                          // "truncated" | "too-large" | "gateway-error"
  bool unmasked_binary = false;  // a binary type let through unmasked by configuration
};

// Later body bytes of a streamed response.
struct HttpBodyEvent {
  uint64_t request_id = 0;
  std::string body{};
  RawBytes raw_body{};
  std::vector<std::string> document_ids{};
};

// The end of a streamed response.
struct HttpResponseEndEvent {
  uint64_t request_id = 0;
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> masked_values{};
  std::string outcome{};
  bool unmasked_binary = false;
};

// One JSON-RPC message that travels inside the response stream (SSE) of an MCP request: a
// server notification, a server-initiated request (sampling, elicitation), or the response to
// the client's request when it comes as an event of the stream. `body` is the message as sent to
// the client (masked); `raw_body` the message before masking, sealed or dropped by the recorder.
// The free text fields (`reason`) are scrubbed by the recorder.
struct McpMessageEvent {
  uint64_t request_id = 0;   // the HTTP request whose response stream carried it (0: GET stream)
  std::string direction{};   // "server" (to the client) | "client" (from the client)
  std::string rpc_method{};  // empty for a response
  std::string rpc_id{};      // empty for a notification
  std::string tool{};        // the tool's name when known (a tools/call response)
  std::string body{};        // the JSON-RPC message as sent
  RawBytes raw_body{};       // before masking, when masking changed it
  std::string decision{};    // "allow" | "deny" (server-initiated requests refused by policy)
  std::string rule_id{};
  std::string reason{};
  std::vector<std::string> document_ids{};
};

using EventBody =
    std::variant<ConnectEvent, AuthEvent, StatementEvent, ResultStartEvent, ResultRowsEvent,
                 ResultEndEvent, ErrorEvent, CancelEvent, SessionEndEvent, ReplayEvent, AccessEvent,
                 ResultEvent, HttpRequestEvent, HttpResponseEvent, HttpBodyEvent,
                 HttpResponseEndEvent, McpMessageEvent>;

struct Event {
  std::string session_id;
  // Zero means "now" (the recorder fills it from its clock).
  std::chrono::system_clock::time_point time{};
  EventBody body;
};

// The record type name of a body ("connect", "auth", "statement", "result_start",
// "result_rows", "result_end", "error", "cancel", "session_end", "replay", "access",
// "result", "http_request", "http_response", "http_body", "http_response_end", "mcp_message").
std::string_view typeName(const EventBody& body);

// Hex SHA-256 of a value, as used for parameter digests.
std::string sha256Hex(std::string_view data);

}  // namespace jg::audit
