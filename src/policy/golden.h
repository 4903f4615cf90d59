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
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/node.h"
#include "core/status.h"
#include "identity/identity.h"

namespace jg::policy {

struct GoldenReport {
  int files = 0;
  int cases = 0;
  std::vector<std::string> failures;  // "<file>.eval:<line>: expected ..., got ... (<detail>)"
};

// Runs every <name>.rules / <name>.eval pair of `dir`. Fails when the directory holds no pair
// or a file is malformed; case mismatches are reported in the result, not as an error.
Result<GoldenReport> runGoldenDir(const std::string& dir);

// `{"sub":"alice","email":"a@x","groups":["rag"],"client_id":"..."}` → Identity.
Result<identity::Identity> parseIdentityJson(std::string_view json);
identity::Identity identityFromNode(const config::Node& node, config::Errors& errors);

}  // namespace jg::policy
