// Search index rows that answer questions about PostgreSQL sessions (part of the Indexer,
// index.cc): refused logins and sessions, executions of prepared statements, and tables named
// the way policy names them.
//
// A refused login (an auth record with ok false) gets a row of its own, statement_id 0, decision
// "deny": kind "login" when no identity was established (bad password or token), kind "session"
// when the caller was identified and then refused (policy, review). Search by user finds it by
// the identity's subject or email, or, for a refused login, by the user name the client claimed
// in its startup packet (audit_sessions.db_user).
//
// A bind record that names the Parse it executes (StatementEvent::parse_id) is the row of that
// execution: the Parse's own row is hidden from search (audit_statements.hidden), so a statement
// sent with Parse/Bind/Execute is one row per execution, and an error recorded against the
// Parse (a refusal) is copied to the execution's row. Internal to the audit module; functions
// run inside the Indexer's store transaction.
#pragma once

#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/index_http.h"
#include "store/store.h"

namespace jg::audit::index_pg {

using index_http::RowContext;

// Migration 4: audit_sessions.db_user, audit_statements.hidden.
std::vector<std::string> migration4();

// The row of a refused login or session; nothing for a successful one.
Status authRow(const RowContext& c, const AuthEvent& e);
// Hides the Parse row that bind `e` executes and copies its error; nothing when e.parse_id is 0.
Status linkBind(const RowContext& c, const StatementEvent& e);

// The search condition for `--table NAME`, resolved as policy resolves table patterns: an
// unqualified name matches that table in any schema (`chunks` finds public.chunks), `crm.*`
// every table of schema crm, `crm.customers` that table. Appends its parameters to `params`.
std::string tableCondition(const std::string& table, std::vector<store::Value>& params);

}  // namespace jg::audit::index_pg
