// Tracker: the typed protocol state of one session, fed every message in both directions.
//
// It knows the prepared statements and portals (with parameter types and result columns), the
// responses the server still owes (a FIFO of pending requests, as pgbouncer keeps for prepared
// statements), the transaction status and the COPY state, so that every DataRow can be tied to
// the columns it carries — masking and recording build on this. It is also the gate that
// rejects what the gateway does not understand: an unknown message type, or a message that is
// not valid in the current phase, is an error and the session ends (we never forward blindly).
//
// Memory is bounded by the number of statements/portals the client creates (capped) and the
// pending queue (capped), never by result size. One per session; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "proto/pg/messages.h"

namespace jg::pg {

// One result column, owned (a RowDescription outlives the buffer it came from).
struct Column {
  std::string name;
  uint32_t table_oid = 0;
  int16_t column = 0;
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = 0;
  int16_t format = 0;
};
using Columns = std::vector<Column>;
using ColumnsPtr = std::shared_ptr<const Columns>;

ColumnsPtr toColumns(const RowDescription& rd);
// The statement's columns with the formats a Bind asked for (one code for all, or one each).
ColumnsPtr withFormats(const ColumnsPtr& cols, const std::vector<int16_t>& formats);

using SqlText = std::shared_ptr<const std::string>;

struct PreparedStatement {
  SqlText sql;            // never null
  int64_t row_limit = 0;  // see Tracker::limitLastRows; 0 = none
  std::string row_limit_by;
  std::vector<uint32_t> param_types;
  // Null until described (or when it returns no rows). Formats are text: a Bind chooses them.
  // Learnt from a Describe of the statement, or of the first portal bound to it that is
  // described (drivers that describe a portal once and then send Bind/Execute alone).
  ColumnsPtr columns;
  bool described = false;  // a Describe told us its columns (or NoData)
};

struct Portal {
  std::string statement;
  SqlText sql;       // the statement's text when the portal was bound; null when unknown
  uint64_t tag = 0;  // the tag of its Bind (see Tracker::tagLast)
  int64_t rows = 0;  // DataRows sent for it over every Execute (kept when its statement is limited)
  std::vector<int16_t> result_formats;
  ColumnsPtr columns;  // null when unknown or NoData
  bool described = false;
};

struct TrackerLimits {
  size_t max_statements = 10000;
  size_t max_portals = 10000;
  size_t max_pending = 100000;
};

class Tracker {
 public:
  // What the server owes for one client request, in order.
  enum class Pending : uint8_t {
    kQuery,
    kParse,
    kBind,
    kDescribeStatement,
    kDescribePortal,
    kExecute,
    kClose,
    kSync,
    kFunctionCall,
  };

  explicit Tracker(TrackerLimits limits = {}) : limits_(limits) {}

  // Client → server. `type` and `payload` from the framer. An error means: do not forward,
  // end the session with 08P01.
  Status onFrontend(char type, std::string_view payload);
  // Server → client. An error means: the upstream broke the protocol; end the session.
  Status onBackend(char type, std::string_view payload);

  // For the DataRow just passed to onBackend: its columns, or null when unknown.
  const ColumnsPtr& currentColumns() const { return current_; }
  // For the RowDescription just passed to onBackend: its columns. A statement or portal
  // described again with the same fields keeps the same columns (and so the masking plans
  // cached for them).
  const ColumnsPtr& describedColumns() const { return described_; }

  // Row limits. limitLastRows(n) caps the results of the request just passed to onFrontend: for
  // a Query, each result of its statements; for a Parse, every portal bound to the statement
  // it creates, counted over all the Executes of a portal (so fetching a portal in pieces does
  // not reset the count). After onBackend(DataRow), rowLimitExceeded() is true once the current
  // result has more rows than its limit. 0 = no limit. REQUIRES: the last onFrontend call
  // pushed a request.
  // A caller's number for the request just passed to onFrontend (the audit record it belongs to),
  // returned by frontTag() while the server answers it; 0 when untagged.
  void tagLast(uint64_t tag) {
    if (!pending_.empty()) {
      pending_.back().tag = tag;
    }
  }
  uint64_t frontTag() const { return pending_.empty() ? 0 : pending_.front().tag; }

  // `by` names who set the limit (for the error message).
  void limitLastRows(int64_t n, std::string_view by);
  bool rowLimitExceeded() const { return row_limit_ > 0 && rows_ > row_limit_; }
  int64_t currentRowLimit() const { return row_limit_; }
  const std::string& currentRowLimitBy() const { return *row_limit_by_; }
  // The SQL of the request the server is answering now (Query text, or the statement behind
  // the portal being executed); empty when unknown.
  std::string_view activeSql() const;
  char transactionStatus() const { return txn_status_; }
  bool inCopyIn() const { return copy_in_; }
  bool inCopyOut() const { return copy_out_; }
  // True when the server is answering a simple Query (one or several statements); false for an
  // Execute of the extended protocol (always one statement).
  bool answeringQuery() const {
    return !pending_.empty() && pending_.front().kind == Pending::kQuery;
  }
  // True while the server owes responses (a query is in flight).
  bool busy() const { return !pending_.empty(); }
  size_t pendingCount() const { return pending_.size(); }

  // Marks the request just passed to onFrontend as one the gateway substituted (a refused
  // statement replaced by one the server rejects at the same position): when the server answers
  // it with ErrorResponse, the client gets `error_message` (a complete encoded ErrorResponse)
  // instead. REQUIRES: the last onFrontend call pushed a request.
  void annotateLast(std::string error_message);
  // The replacement for an ErrorResponse answering the oldest pending request, or null.
  const std::string* frontReplacement() const {
    return pending_.empty() || pending_.front().replace_error.empty()
               ? nullptr
               : &pending_.front().replace_error;
  }

  const PreparedStatement* statement(std::string_view name) const;
  const Portal* portal(std::string_view name) const;

  // The client's view, for deciding a message before the server answers the ones before it:
  // what a name will refer to once every request already passed to onFrontend has been answered.
  // The text of statement `name`: its newest pending Parse, else the statement the server holds;
  // null when the gateway knows no such statement.
  SqlText statementSql(std::string_view name) const;
  // The parameter types of that statement (as statementSql picks it): from its Parse, or from
  // the server's ParameterDescription once described; empty when unknown.
  std::vector<uint32_t> statementParamTypes(std::string_view name) const;
  // Every text an Execute of portal `name` sent now may run, conservatively: the statement of
  // its newest pending Bind (the pending Parse's text and the held statement's, since a Parse of
  // a name in use fails), and the portal the server holds unless a new unnamed Bind replaces it.
  // Empty when the gateway knows no such portal.
  void portalSqls(std::string_view name, std::vector<SqlText>& out) const;
  // Whether the columns of portal `name` will be known when the server answers an Execute of it
  // sent now: a Describe of the portal after its newest Bind, or a statement the server
  // described before that Bind. False (conservatively) when the gateway cannot tell; true when
  // it knows no such portal (the Execute fails on its own).
  bool portalDescribedForExecute(std::string_view name) const;
  // Marks the request just passed to onFrontend (a Describe) as the gateway's own: its answer
  // (RowDescription, NoData) teaches the tracker and is not for the client.
  // REQUIRES: the last onFrontend call pushed a request.
  void markLastInjected() {
    if (!pending_.empty()) {
      pending_.back().injected = true;
    }
  }
  // True when the oldest pending request is one the gateway injected (markLastInjected).
  bool frontInjected() const { return !pending_.empty() && pending_.front().injected; }

  // The tag of the Bind that created portal `name` (pending or held), 0 when unknown.
  uint64_t portalTag(std::string_view name) const;
  // True when a Parse of named statement / a Bind of named portal `name` would pass the limit.
  bool statementsFull(std::string_view name) const;
  bool portalsFull(std::string_view name) const;
  size_t statementCount() const { return statements_.size(); }
  size_t portalCount() const { return portals_.size(); }

 private:
  struct PendingItem {
    Pending kind;
    char target = 0;     // kClose: 'S' or 'P'
    std::string name{};  // statement or portal name; kQuery: the SQL text
    // kParse: the statement being created; kBind: the portal being created.
    std::unique_ptr<PreparedStatement> stmt{};
    std::unique_ptr<Portal> portal{};
    std::string replace_error{};  // see annotateLast()
    int64_t row_limit = 0;        // kQuery: see limitLastRows()
    std::string row_limit_by{};
    uint64_t tag = 0;       // see tagLast()
    bool injected = false;  // see markLastInjected()
  };

  Status push(PendingItem item);
  Status expect(Pending kind, const char* what);
  // One handler per client message that the server answers.
  Status onQuery(std::string_view payload);
  Status onParse(std::string_view payload);
  Status onBind(std::string_view payload);
  Status onDescribe(std::string_view payload);
  Status onExecute(std::string_view payload);
  Status onClose(std::string_view payload);
  Status onParseComplete();
  Status onBindComplete();
  Status onCloseComplete();
  Status onRowDescription(std::string_view payload);
  // A described portal teaches its statement its columns when the statement has none yet.
  void teachStatement(const Portal& portal);
  bool statementDescribedBefore(std::string_view name, size_t end) const;
  Status onNoData();
  Status onParameterDescription(std::string_view payload);
  Status onErrorResponse();
  Status onReadyForQuery(std::string_view payload);
  Status onCommandEnd(char type);
  Status onCopyResponse(char type);
  Status onDataRow();
  void pop();
  void dropUntilSync();
  const PendingItem* newestPending(const std::unordered_map<std::string, const PendingItem*>& index,
                                   std::string_view name) const;

  TrackerLimits limits_;
  std::unordered_map<std::string, PreparedStatement> statements_;
  std::unordered_map<std::string, Portal> portals_;
  std::deque<PendingItem> pending_;
  // The newest pending Parse / Bind of each name (deque elements do not move on push_back and
  // pop_front); an entry leaves when its item is answered.
  std::unordered_map<std::string, const PendingItem*> newest_parse_, newest_bind_;
  ColumnsPtr current_;
  ColumnsPtr described_;   // of the last RowDescription
  int64_t row_limit_ = 0;  // of the current result
  int64_t rows_ = 0;       // DataRows of the current result (of its portal, over Executes)
  const std::string* row_limit_by_ = &kNoOne;
  static inline const std::string kNoOne;
  char txn_status_ = 'I';
  bool copy_in_ = false;
  bool copy_out_ = false;
  bool resolved_ = false;  // current_ already set for the front kExecute
};

const char* pendingName(Tracker::Pending p);

}  // namespace jg::pg
