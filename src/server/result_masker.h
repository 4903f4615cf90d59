// ResultMasker: applies the masking engine to what the upstream sends back, per session.
//
// The server pump hands it RowDescription (to plan each column: column rule from the catalog
// names, or content detectors; a type the client must be told differently is rewritten),
// DataRow (cells masked; a clean row is forwarded as the original bytes), ErrorResponse and
// NoticeResponse fields (a unique-violation DETAIL can carry an email), and COPY TO STDOUT data
// lines. Every error is final for the result it concerns: the pump withholds the result and
// reports the failure (fail closed).
//
// Masking follows data, not only columns. PostgreSQL names the source of a result column only
// for a plain column reference; for every other column (table OID 0: `lower(note)`, a UNION,
// `row_to_json(t)`) the plan comes from the statement's lineage (sql/lineage.h): the strictest
// column rule any source reaches applies to the whole value (a non-text value becomes NULL, so
// the type the client was told stays true), or the result is refused when that rule says
// `through_expressions: refuse`. The statement is the one the server is answering, told by the
// pump before each message (beforeBackend) and looked up in the shared classifier (cached).
// Errors and notices of a statement that reads a column under a rule have their quoted values
// masked with that rule, and their DETAIL and CONTEXT withheld. A ruled value a statement sends
// through pg_notify or set_config('application_name', ...) makes the session's notifications or
// application_name reports masked with that rule. COPY's format and columns come from the parsed
// statement, and its column rules apply per COPY column.
//
// One per session; used from the session's executor only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mask/copy_line.h"
#include "mask/counters.h"
#include "mask/engine.h"
#include "mask/scanner.h"
#include "proto/pg/tracker.h"
#include "server/catalog.h"
#include "sql/classifier.h"
#include "sql/session_context.h"

namespace jg::server {

// A table whose columns (in attnum order) a COPY needs to place its column rules: `COPY t TO
// STDOUT`, or a `*` over t in COPY (query). `schemas` are those the name may resolve to.
struct CopyTableLoad {
  size_t output = 0;  // the lineage output (the star) it expands
  std::string table;
  std::vector<std::string> schemas;  // "*" = any schema
};

class ResultMasker {
 public:
  ResultMasker(std::shared_ptr<const mask::Engine> engine, std::shared_ptr<CatalogCache> catalog);

  // The classifier that names statements and the session's name resolution. Without them every
  // computed column counts as computed from every column under a rule. REQUIRES: both outlive
  // the masker.
  void attach(sql::Classifier& classifier, const sql::SessionContext& ctx);
  // Selects the profile for the statements that follow ("" = default). Unknown → error.
  Status setProfile(std::string_view name);
  // The decision-time checks of the current profile's column rules (function allowlists,
  // through_expressions: refuse) for every statement of `c`: OK or a 42501 error. A statement
  // that passes and sends a ruled value through pg_notify or set_config makes later
  // notifications (or application_name reports) of this session masked with that rule.
  Status checkStatements(const sql::Classification& c);
  // The table OIDs of `cols` whose names must be loaded before planning (only when the
  // profile has column rules).
  std::vector<uint32_t> tablesToLoad(const pg::Columns& cols) const;
  CatalogCache* catalog() { return catalog_.get(); }

  // Called for every upstream message before the tracker sees it, with the SQL the server is
  // answering (Tracker::activeSql): it tells which statement each result, error and COPY is of.
  // `query`: the server answers a simple Query (Tracker::answeringQuery), whose statements'
  // results follow one another; an Execute's result is always its statement's (Executes
  // pipelined without a Sync between them run the same text again, not its next statement).
  void beforeBackend(char type, std::string_view sql, bool query = true);

  // Each returns true when `out` holds a replacement message (type byte and length included).
  Result<bool> onRowDescription(const pg::RowDescription& rd, const pg::ColumnsPtr& cols,
                                std::string& out);
  Result<bool> onDataRow(std::string_view payload, const pg::ColumnsPtr& cols, std::string& out);
  Result<bool> onErrorOrNotice(char type, std::string_view payload, std::string& out);
  // Messages that are not rows but carry values a query chose: a NOTIFY payload
  // (`pg_notify('ch', email)`) and a reported setting (`set_config('application_name', email,
  // false)`). Their text goes through the current profile's detectors.
  Result<bool> onNotification(std::string_view payload, std::string& out);
  Result<bool> onParameterStatus(std::string_view payload, std::string& out);
  // COPY TO STDOUT: the tables to load before onCopyOutResponse (the caller queries the catalog
  // off the I/O thread), then the response with what was found for each, in the same order.
  std::vector<CopyTableLoad> copyTablesToLoad() const;
  Status onCopyOutResponse(std::string_view payload,
                           const std::vector<std::vector<TableColumns>>& found);
  Result<bool> onCopyData(std::string_view payload, std::string& out);

  const mask::Counters& counters() const { return counters_; }

 private:
  // Masks free text with `rule` (when given) as a whole, then the profile's detectors: true when
  // `masked` holds a rewritten value.
  Result<bool> maskText(std::string_view what, const mask::ColumnRule* rule, std::string_view text,
                        std::string& masked);
  Status applyRule(const mask::ColumnRule& rule, std::string_view in, std::string& out);
  void noteSideChannels(const sql::Statement& st);
  struct Plans {
    pg::ColumnsPtr keep;  // keeps the key alive
    std::vector<mask::ColumnPlan> plans;
    bool any = false;         // some column needs work
    std::string refusal;      // not empty: the result is refused (through_expressions: refuse)
    uint64_t generation = 0;  // the name resolution it was planned with
  };
  // `values`: rows follow (DataRow), so a statement the masker cannot name counts as computed
  // from everything; a RowDescription answering Describe carries no values.
  const Plans& plansFor(const pg::ColumnsPtr& cols, bool values);
  mask::ColumnPlan planOne(const pg::Column& c, size_t i, const std::vector<sql::SourceIds>* from,
                           const std::vector<bool>& plain, std::string& refusal);
  const sql::Lineage* lineage() const;
  const sql::SessionContext& ctx() const;  // the attached one, or a default session's
  const sql::Statement* resolve(std::string_view sql);
  const mask::ColumnRule* touchedRule() const;
  Result<bool> ruleField(char code, const mask::ColumnRule& rule, std::string& value);
  Result<bool> maskMessageField(char code, const mask::ColumnRule* rule, std::string& value);
  Status copyPlans(const sql::Statement& st, size_t n,
                   const std::vector<std::vector<TableColumns>>& found);

  std::shared_ptr<const mask::Engine> engine_;
  std::shared_ptr<CatalogCache> catalog_;
  sql::Classifier* classifier_ = nullptr;
  const sql::SessionContext* ctx_ = nullptr;
  mask::Scanner scanner_;
  const mask::Profile* profile_;
  // By the columns' identity (the tracker keeps a statement's columns while they do not change),
  // one map for RowDescriptions and one for rows: the two are planned differently
  // (plansFor's `values`), and share their columns.
  std::unordered_map<const pg::Columns*, Plans> plans_[2];
  mask::Counters counters_;
  // The statement the server is answering: its text as last seen (identity only), its
  // classification, and the statement of it (for EXECUTE / FETCH: the one defining the rows).
  std::string_view seen_sql_;
  std::shared_ptr<const sql::Classification> active_;
  const sql::Statement* statement_ = nullptr;
  std::shared_ptr<const sql::Classification> row_owner_;  // keeps a PREPARE / DECLARE alive
  // Statements of a multi-statement Query already completed (CommandComplete) since the last
  // ReadyForQuery, and the text they were counted for.
  std::string_view counted_sql_;
  size_t completed_ = 0;
  // Sticky for the session: see checkStatements.
  const mask::ColumnRule* notify_rule_ = nullptr;
  const mask::ColumnRule* setting_rule_ = nullptr;
  std::vector<mask::ColumnPlan> copy_plans_;
  mask::CopyFormat copy_format_;
  bool copy_skip_header_ = false;
  std::string cell_;
};

}  // namespace jg::server
