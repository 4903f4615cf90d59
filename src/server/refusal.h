// How the PostgreSQL front end tells a client that the gate refused: the SQLSTATE of each kind
// of refusal, and the substitute message sent upstream in place of a refused one.
#pragma once

#include <string>
#include <string_view>

#include "gate/verdict.h"
#include "proto/pg/framer.h"

namespace jg::server {

// 42501 forbidden or needing approval, 42601 invalid, 54000 over a limit, 26000 an unknown
// statement (the caller passes 34000 for a portal), 25P02 aborted transaction, 58030 not
// recordable, XX000 internal.
std::string_view pgSqlstate(gate::Refusal r);

// A message the server refuses: a syntax error for a statement, a name that does not exist for
// Bind, Execute and Describe. It aborts a transaction block, and in the extended protocol makes
// the server skip to Sync, exactly as a refused message should. `name` keeps a refused Parse's
// statement name (so that a later Close of it behaves as PostgreSQL's would).
void substituteRefused(const pg::Frame& frame, std::string_view name, std::string& substitute);

}  // namespace jg::server
