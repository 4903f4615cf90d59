// runPgStatement: one statement run by an in-process PostgreSQL client, for the MCP tools.
//
// Makes a MemoryStream pair, runs a real Session on one end with the gateway's SessionServices
// (so the statement meets the same policy, row limits, masking, ephemeral upstream role and
// recording as a direct connection) and speaks the extended protocol on the other: startup
// (database = resource, application_name jitgate-mcp), Parse/Bind (text parameters)/Describe/
// Execute (max_rows + 1)/Sync, then Terminate. The session takes the caller's identity as
// already verified (Session::InProcessCaller) and records its client as "mcp:<http peer>".
// Runs on the caller's executor; the session lives until the statement's answer is read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "identity/identity.h"
#include "server/mcp_tools.h"

namespace jg::server {

class SessionServices;

struct PgStatement {
  std::string resource{};
  std::string sql{};
  std::vector<std::optional<std::string>> params{};  // text format; nullopt = NULL
  size_t max_rows = 200;
  size_t max_bytes = 1 << 20;  // of cell text kept; past it the result is truncated
};

boost::asio::awaitable<PgResult> runPgStatement(SessionServices& services,
                                                const identity::Identity& who,
                                                const std::string& peer,
                                                const PgStatement& statement);

}  // namespace jg::server
