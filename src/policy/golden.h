// Golden policy tables: a rules file and an expected-decisions file per scenario, in the spirit
// of pgbouncer's hba_test.rules / hba_test.eval. Used by the policy unit tests and by
// `jitgate policy test DIR`.
//
// DIR/<name>.rules is YAML: `policies:` (as in the gateway config), `identities:` (name →
// { sub, email, groups, client_id }), optional `search_path:` (the server default) and `now:`
// (RFC 3339, the evaluation time). DIR/<name>.eval has one case per line:
//
//   <expect>[@<rule-id>]  <identity>  <resource>  [at=<RFC 3339>] [granted=<id,...>]  <sql>
//
// <expect> is allow, deny, review or error (does not parse: 42601). A leading `+` continues the
// previous case's session (search_path and prepared statements carry over); otherwise each case
// starts a new session. In <sql>, `\n` and `\t` stand for a newline and a tab. `#` starts a
// comment line. Runs on one thread.
//
// A case whose text starts with an HTTP method and a path is an HTTP request instead:
//
//   <expect>[@<rule-id>]  <identity>  <resource>  [at=...] [granted=...]  <METHOD> <path>[?<query>]
//   [<body>]
//
// (parseHttpCase): the body is the rest of the line, JSON or not.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/node.h"
#include "core/status.h"
#include "identity/identity.h"
#include "policy/http.h"

namespace jg::policy {

struct GoldenReport {
  int files = 0;
  int cases = 0;
  std::vector<std::string> failures;  // "<file>.eval:<line>: expected ..., got ... (<detail>)"
};

// Runs every <name>.rules / <name>.eval pair of `dir`. Fails when the directory holds no pair
// or a file is malformed; case mismatches are reported in the result, not as an error.
Result<GoldenReport> runGoldenDir(const std::string& dir);

// One HTTP request as the policy tools write it (golden tables, `jitgate policy explain --http`):
// a request line `POST /collections/docs/points/search?consistency=all` and a body. The path is
// taken as the front end hands it over (decoded, without dot-segments); query names and values
// are percent-decoded. A body that does not parse as JSON is a body that is not JSON.
struct HttpCase {
  std::string method, path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  std::optional<boost::json::value> json;  // the body, when it is JSON
  // An MCP message ("MCP tools/call echo {\"text\":\"hi\"}"): the body is the arguments.
  bool mcp = false;
  std::string rpc_method, tool;

  // Points into this object: keep it in place while the facts are used.
  HttpFacts facts() const;
};
Result<HttpCase> parseHttpCase(std::string_view request_line, std::string_view body);
// An MCP case: "MCP <method> [<tool>] [arguments]" (the tool for tools/call only).
Result<HttpCase> parseMcpCase(std::string_view text);
// Whether a golden case's text is an HTTP request ("GET /x", not "DELETE /* c */ FROM t").
bool looksLikeHttp(std::string_view text);

// `{"sub":"alice","email":"a@x","groups":["rag"],"client_id":"..."}` → Identity.
Result<identity::Identity> parseIdentityJson(std::string_view json);
identity::Identity identityFromNode(const config::Node& node, config::Errors& errors);

}  // namespace jg::policy
