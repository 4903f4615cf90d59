// Search index rows for HTTP exchanges (part of the Indexer, index.cc).
//
// An http_request is indexed like a statement: one audit_statements row keyed by the record's
// instance and seq, with statement_id = the request id, kind "http", text "METHOD path?query"
// and the method, path and decision in their columns. The response sets the row's status and,
// once complete, its bytes; document ids of response bodies go to audit_documents under the
// request id, so "who retrieved document N" lists SQL results and HTTP responses together.
//
// MCP (JSON-RPC over HTTP): an http_request that carries a JSON-RPC method also fills the row's
// rpc_method and tool columns, and its text ends with them ("POST /mcp tools/call search").
// An mcp_message that is a request from the server (sampling, elicitation: method and id) or
// that policy refused gets a row of its own, kind "mcp", under the request whose stream carried
// it; notifications get none (a flood of them must not flood the index). Document ids of
// mcp_message bodies go to audit_documents under that request, like those of a response.
// Internal to the audit module; functions run inside the Indexer's store transaction.
#pragma once

#include <string>
#include <vector>

#include "audit/event.h"
#include "audit/recorder.h"
#include "store/store.h"

namespace jg::audit::index_http {

// Where the rows of one durable event go.
struct RowContext {
  store::Tx& tx;
  const std::string& instance;
  const DurableEvent& de;
};

// The columns migration 2 adds for HTTP exchanges.
std::vector<std::string> migration2();
// The columns migration 3 adds for MCP: rpc_method and tool.
std::vector<std::string> migration3();

// The searchable text of a request's row: "METHOD path?query[ rpc_method[ tool]]".
std::string requestText(const HttpRequestEvent& e);
// Whether an mcp_message gets a row of its own (kind "mcp").
bool indexedAsRow(const McpMessageEvent& e);

Status request(const RowContext& c, const HttpRequestEvent& e);
Status response(const RowContext& c, const HttpResponseEvent& e);
Status body(const RowContext& c, const HttpBodyEvent& e);
Status end(const RowContext& c, const HttpResponseEndEvent& e);
// A message in an MCP response stream: its document ids under the request that carried it, and
// a row of its own when indexedAsRow().
Status mcpMessage(const RowContext& c, const McpMessageEvent& e);
// Document ids retrieved by statement (or request) `id` of the event's session.
Status documents(const RowContext& c, uint64_t id, const std::vector<std::string>& ids);
// An error about a request that carries an HTTP status: the row's status, unless a response
// already set it.
Status errorStatus(const RowContext& c, uint64_t id, int http_status);

// A path glob (`*` any run of characters, `?` one) as a SQL LIKE pattern with '\' escapes.
std::string globToLike(std::string_view glob);

}  // namespace jg::audit::index_http
