// FakeUpstream: a scripted PostgreSQL server at the far end of a MemoryStream, for session tests
// without sockets (session_test.cc).
//
// It speaks the backend side of protocol 3.0 as far as the session's tests need: simple and
// extended queries answered from canned results, the extended protocol's skip-to-Sync after an
// error, unnamed and named statements and portals, Execute with a row count (PortalSuspended),
// transaction status (in a failed transaction block only a statement that ends it runs, others
// get 25P02), the substitute messages the gateway sends for refused ones (which it rejects as
// PostgreSQL would), COPY TO STDOUT, results that stall or end with the connection. Everything
// it receives is kept for the test to inspect.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/pg/messages.h"
#include "server/memory_stream.h"

namespace jg::server::testing {

using Row = std::vector<std::optional<std::string>>;

// The answer to one SQL text.
struct Canned {
  std::vector<std::string> columns;  // text columns; none = a command without rows
  std::vector<Row> rows;
  std::string tag;  // CommandComplete tag; default "SELECT <n>"
  // An ErrorResponse: in place of the result, or after `error_after` rows of it.
  std::string error_sqlstate;
  std::string error_message;
  int error_after = -1;
  bool close_after_rows = false;  // the server goes away after sending the rows
  // A result that never ends: the RowDescription and this many rows, then the server answers
  // nothing more (it keeps reading).
  int stall_after = -1;
  // COPY ... TO STDOUT: CopyOutResponse, one CopyData per line, CopyDone, "COPY <n>".
  std::vector<std::string> copy_lines;
  bool fatal = false;  // the error is a FATAL and the server closes the connection after it
  // Extra backend messages sent before the result (NoticeResponse, NotificationResponse...).
  std::string before;
  char txn_after = 0;      // transaction status after it ('T' for BEGIN, 'I' for COMMIT)
  uint32_t table_oid = 0;  // RowDescription's table oid for every column
};

class FakeUpstream {
 public:
  void on(std::string sql, Canned c) { canned_[std::move(sql)] = std::move(c); }

  // Serves the session until it terminates or closes.
  asio::awaitable<void> serve(MemoryStream& stream);

  // What arrived, in order: message types ("QPBEDS..."), and the SQL of each Query and Parse.
  const std::string& types() const { return types_; }
  const std::vector<std::string>& sql() const { return sql_; }
  bool ran(std::string_view sql) const;
  bool terminated() const { return terminated_; }
  // The session closed the connection (with or without Terminate).
  bool closed() const { return closed_ || terminated_; }

 private:
  struct Portal {
    std::string sql;
    size_t next_row = 0;
  };
  void handle(const pg::Frame& frame, std::string& out);
  void query(std::string_view sql, std::string& out);
  void parse(std::string_view payload, std::string& out);
  void bind(std::string_view payload, std::string& out);
  void describe(std::string_view payload, std::string& out);
  void execute(std::string_view payload, std::string& out);
  void close(std::string_view payload, std::string& out);
  const Canned* find(std::string_view sql) const;
  void rowDescription(const Canned& c, std::string& out) const;
  // Rows [from, to) of `c`, then its completion or error; false when it ends the connection.
  void rows(const Canned& c, size_t from, size_t to, std::string& out);
  void answer(std::string_view sql, const Canned* c, std::string& out);
  void error(std::string_view sqlstate, std::string_view message, std::string& out,
             bool fatal = false);
  void copyOut(const Canned& c, std::string& out);
  // In a failed transaction block: true (and the 25P02 error) unless `c` ends the block.
  bool inFailedBlock(const Canned* c, std::string& out);

  std::map<std::string, Canned, std::less<>> canned_;
  std::map<std::string, std::string, std::less<>> statements_;
  std::map<std::string, Portal, std::less<>> portals_;
  std::string types_;
  std::vector<std::string> sql_;
  bool skipping_ = false;  // after an error in the extended protocol, until Sync
  char txn_ = 'I';
  bool terminated_ = false;
  bool closed_ = false;
  bool close_ = false;
  bool stalled_ = false;  // a stalled result: nothing more is answered
};

}  // namespace jg::server::testing
