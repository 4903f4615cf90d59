// ResultMasker: applies the masking engine to what the upstream sends back, per session.
//
// The server pump hands it RowDescription (to plan each column: column rule from the catalog
// names, or content detectors; a type the client must be told differently is rewritten),
// DataRow (cells masked; a clean row is forwarded as the original bytes), ErrorResponse and
// NoticeResponse fields (a unique-violation DETAIL can carry an email), and COPY TO STDOUT data
// lines. Every error is final for the result it concerns: the pump withholds the result and
// reports the failure (fail closed). One per session; used from the session's executor only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mask/counters.h"
#include "mask/engine.h"
#include "mask/scanner.h"
#include "proto/pg/tracker.h"
#include "server/catalog.h"

namespace jg::server {

class ResultMasker {
 public:
  ResultMasker(std::shared_ptr<const mask::Engine> engine, std::shared_ptr<CatalogCache> catalog);

  // Selects the profile for the statements that follow ("" = default). Unknown → error.
  Status setProfile(std::string_view name);
  // The table OIDs of `cols` whose names must be loaded before planning (only when the
  // profile has column rules).
  std::vector<uint32_t> tablesToLoad(const pg::Columns& cols) const;
  CatalogCache* catalog() { return catalog_.get(); }

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
  // COPY TO STDOUT. `sql` is the statement, to tell csv from text.
  Status onCopyOutResponse(std::string_view payload, std::string_view sql);
  Result<bool> onCopyData(std::string_view payload, std::string& out);

  const mask::Counters& counters() const { return counters_; }

 private:
  // Masks free text with the profile's detectors: true when `masked` holds a rewritten value.
  Result<bool> maskText(std::string_view what, std::string_view text, std::string& masked);
  struct Plans {
    pg::ColumnsPtr keep;  // keeps the key alive
    std::vector<mask::ColumnPlan> plans;
    bool any = false;  // some column needs work
  };
  const Plans& plansFor(const pg::ColumnsPtr& cols);

  std::shared_ptr<const mask::Engine> engine_;
  std::shared_ptr<CatalogCache> catalog_;
  mask::Scanner scanner_;
  const mask::Profile* profile_;
  std::unordered_map<const pg::Columns*, Plans> plans_;
  mask::Counters counters_;
  std::vector<mask::ColumnPlan> copy_plans_;
  bool copy_csv_ = false;
  std::string cell_;
};

}  // namespace jg::server
