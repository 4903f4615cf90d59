// Sandbox replay: re-runs a recorded session's read-only statements against a sandbox
// PostgreSQL database and reports, statement by statement, whether the rows it returns match the
// recording (`jitgate replay SESSION --sandbox DSN`).
//
// A statement is re-run when it was recorded with a read-only kind (select, show, explain) and
// the decision allow; writes, refused statements and multi-statement queries are reported as
// skipped. Everything runs inside one `BEGIN READ ONLY` transaction that is rolled back at the
// end; each statement runs under a savepoint so one failure does not hide the rest. Bind
// parameters are sealed in the log: they are opened with the raw payload key (RawOpener), and
// without it statements that have parameters are skipped.
//
// Rows are compared by row hashes (SHA-256 over the cells, NULL distinct from ''), against the
// raw rows — what the database returned before masking — when they are known (the result was
// not masked, or its sealed raw rows could be opened), else against the masked rows; each
// statement says which ("raw" or "masked").
//
// SandboxExecutor is the seam to the database: connectSandbox() returns the libpq one, tests
// use a fake. Functions are stateless; an executor is used from one thread.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/codec.h"
#include "audit/event.h"
#include "audit/index.h"
#include "core/status.h"

namespace jg::audit {

struct SandboxQuery {
  std::string sql;
  std::vector<std::optional<std::string>> params;  // text format, as recorded
  bool binary_results = false;                     // ask for every column in binary format
};

// What the sandbox returned for one statement. A statement error leaves ok false with the
// SQLSTATE and message; the transaction stays usable.
struct SandboxRun {
  bool ok = true;
  std::vector<Row> rows;
  std::string command_tag;
  std::string sqlstate;
  std::string message;
};

class SandboxExecutor {
 public:
  virtual ~SandboxExecutor() = default;
  // Starts the read-only transaction every later run() executes in.
  [[nodiscard]] virtual Status begin() = 0;
  // Runs one statement. A non-ok Status means the sandbox itself failed (connection lost).
  [[nodiscard]] virtual Result<SandboxRun> run(const SandboxQuery& query) = 0;
  // Ends the transaction without keeping anything.
  [[nodiscard]] virtual Status rollback() = 0;
};

// A libpq connection to `dsn` (a conninfo string or postgresql:// URI). Statements time out
// after `statement_timeout` (0: the server's setting).
Result<std::unique_ptr<SandboxExecutor>> connectSandbox(
    const std::string& dsn, std::chrono::milliseconds statement_timeout);

enum class SandboxOutcome { kMatch, kDiffers, kError, kSkipped };
std::string_view outcomeName(SandboxOutcome o);

struct SandboxStatementReport {
  uint64_t statement_id = 0;
  std::string text;
  std::string kind;
  std::string protocol;
  size_t params = 0;
  SandboxOutcome outcome = SandboxOutcome::kSkipped;
  std::string reason;  // why skipped, what differs, or the sandbox error
  std::string basis;   // "raw" | "masked": what the sandbox rows were compared with
  uint64_t recorded_rows = 0;
  uint64_t sandbox_rows = 0;
  bool order_differs = false;     // same rows in another order (counted as a match)
  int64_t first_difference = -1;  // first row index whose hash differs
  std::string recorded_digest;    // SHA-256 over the row hashes, hex
  std::string sandbox_digest;
};

struct SandboxReport {
  std::string session_id;
  std::vector<SandboxStatementReport> statements;
  uint64_t matched = 0;
  uint64_t differed = 0;
  uint64_t errors = 0;
  uint64_t skipped = 0;

  // 0 when every compared statement matches, 1 when any differs, 2 when any could not run.
  int exitCode() const;
};

// Reads the session's records from `dir` and re-runs its read-only statements on `exec`.
// `opener` (may be null) opens sealed parameters and raw rows. Fails when the session has no
// records or the sandbox fails; statement errors are part of the report.
Result<SandboxReport> sandboxReplay(const std::string& dir, const std::string& session_id,
                                    const std::optional<SessionLocation>& hint,
                                    SandboxExecutor& exec, const RawOpener* opener);

// The row hash: hex SHA-256 over each cell as (0xFF) for NULL or (0x00, u32be length, bytes).
std::string rowHash(const Row& row);

void renderSandboxText(const SandboxReport& report, std::ostream& out);
boost::json::object sandboxJson(const SandboxReport& report);

}  // namespace jg::audit
