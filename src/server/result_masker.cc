#include "server/result_masker.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "mask/copy_line.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"

namespace jg::server {
namespace {

constexpr size_t kMaxCachedPlans = 1024;

Status maskingFailed(std::string_view what, const Status& why) {
  return Status::error(
      Code::kInternal,
      fmt::format("masking failed for {}: {}; the result was withheld", what, why.message()),
      "22000");
}

}  // namespace

ResultMasker::ResultMasker(std::shared_ptr<const mask::Engine> engine,
                           std::shared_ptr<CatalogCache> catalog)
    : engine_(std::move(engine)),
      catalog_(std::move(catalog)),
      scanner_(engine_),
      profile_(engine_->profile()) {}

Status ResultMasker::setProfile(std::string_view name) {
  const mask::Profile* p = engine_->profile(name);
  if (p == nullptr) {
    return Status::error(Code::kInternal,
                         fmt::format("masking profile \"{}\" is not configured", name), "XX000");
  }
  if (p != profile_) {
    profile_ = p;
    plans_.clear();
  }
  return Status::ok();
}

std::vector<uint32_t> ResultMasker::tablesToLoad(const pg::Columns& cols) const {
  std::vector<uint32_t> oids;
  if (profile_->columns().empty() || !catalog_) {
    return oids;
  }
  for (const auto& c : cols) {
    if (c.table_oid != 0 && std::find(oids.begin(), oids.end(), c.table_oid) == oids.end()) {
      oids.push_back(c.table_oid);
    }
  }
  return catalog_->missing(oids);
}

const ResultMasker::Plans& ResultMasker::plansFor(const pg::ColumnsPtr& cols) {
  auto it = plans_.find(cols.get());
  if (it != plans_.end()) {
    return it->second;
  }
  if (plans_.size() >= kMaxCachedPlans) {
    plans_.clear();
  }
  Plans p;
  p.keep = cols;
  p.plans.reserve(cols->size());
  for (const auto& c : *cols) {
    const mask::ColumnRule* rule = nullptr;
    if (!profile_->columns().empty() && catalog_ && c.table_oid != 0) {
      if (auto name = catalog_->lookup(c.table_oid, c.column)) {
        rule = profile_->findRule(name->schema, name->table, name->column);
      }
    }
    p.plans.push_back(mask::planColumn(*profile_, c.type_oid, c.format, rule));
    p.any = p.any || p.plans.back().action != mask::Action::kNone;
  }
  return plans_.emplace(cols.get(), std::move(p)).first->second;
}

Result<bool> ResultMasker::onRowDescription(const pg::RowDescription& rd,
                                            const pg::ColumnsPtr& cols, std::string& out) {
  const Plans& p = plansFor(cols);
  bool retype = false;
  for (const auto& plan : p.plans) {
    retype = retype || plan.output_type_oid != plan.type_oid;
  }
  if (!retype) {
    return false;
  }
  pg::RowDescription copy = rd;
  for (size_t i = 0; i < copy.fields.size() && i < p.plans.size(); ++i) {
    if (p.plans[i].output_type_oid != p.plans[i].type_oid) {
      copy.fields[i].type_oid = p.plans[i].output_type_oid;
      copy.fields[i].type_size = -1;
      copy.fields[i].type_modifier = -1;
    }
  }
  pg::encodeRowDescription(out, copy);
  return true;
}

Result<bool> ResultMasker::onDataRow(std::string_view payload, const pg::ColumnsPtr& cols,
                                     std::string& out) {
  if (!cols) {
    return Status::error(Code::kInternal,
                         "masking failed: the result's columns are unknown (the client did not "
                         "describe the portal); the result was withheld",
                         "22000");
  }
  const Plans& p = plansFor(cols);
  if (!p.any) {
    return false;
  }
  pg::DataRowReader reader(payload);
  if (!reader.valid() || static_cast<size_t>(reader.columns()) != p.plans.size()) {
    return protocolError("upstream sent a DataRow that does not match its RowDescription");
  }
  // First pass: find whether anything changes; only then build a new row.
  std::vector<pg::DataRowReader::Cell> cells;
  std::vector<std::string> rewritten;
  rewritten.reserve(p.plans.size());  // no reallocation: cells keep views into it
  bool changed = false;
  pg::DataRowReader::Cell cell;
  size_t i = 0;
  while (reader.next(cell)) {
    const auto& plan = p.plans[i];
    cells.push_back(cell);
    if (!cell.null && plan.action != mask::Action::kNone) {
      auto r = scanner_.maskCell(plan, cell.bytes, cell_, counters_);
      if (!r) {
        return maskingFailed(fmt::format("column \"{}\"", (*cols)[i].name), r.status());
      }
      if (*r == mask::CellResult::kNull) {
        cells.back() = {{}, true};
        changed = true;
      } else if (*r == mask::CellResult::kRewritten) {
        rewritten.push_back(std::move(cell_));
        cell_.clear();
        cells.back() = {rewritten.back(), false};
        changed = true;
      }
    }
    ++i;
  }
  if (!reader.ok()) {
    return protocolError("upstream sent a malformed DataRow");
  }
  if (!changed) {
    return false;
  }
  size_t before = out.size();
  pg::encodeDataRow(out, cells);
  if (out.size() == before) {
    return Status::error(Code::kInternal, "masked row could not be encoded", "22000");
  }
  return true;
}

Result<bool> ResultMasker::onErrorOrNotice(char type, std::string_view payload, std::string& out) {
  if (!profile_->hasDetectors()) {
    return false;
  }
  pg::ErrorFields fields;
  if (!pg::decodeErrorFields(payload, fields)) {
    return protocolError("upstream sent a malformed error or notice");
  }
  std::vector<std::string> storage;
  storage.reserve(fields.fields.size());
  bool changed = false;
  for (auto& [code, value] : fields.fields) {
    if (code != 'M' && code != 'D' && code != 'H' && code != 'W' && code != 'q') {
      continue;
    }
    std::string masked;
    auto r = scanner_.maskFreeText(*profile_, value, masked, counters_);
    if (!r) {
      return maskingFailed("an error message", r.status());
    }
    if (*r == mask::CellResult::kRewritten) {
      storage.push_back(std::move(masked));
      value = storage.back();
      changed = true;
    }
  }
  if (!changed) {
    return false;
  }
  pg::encodeErrorFields(out, type, fields);
  return true;
}

Result<bool> ResultMasker::maskText(std::string_view what, std::string_view text,
                                    std::string& masked) {
  auto r = scanner_.maskFreeText(*profile_, text, masked, counters_);
  if (!r) {
    return maskingFailed(what, r.status());
  }
  return *r == mask::CellResult::kRewritten;
}

Result<bool> ResultMasker::onNotification(std::string_view payload, std::string& out) {
  if (!profile_->hasDetectors()) {
    return false;
  }
  pg::NotificationResponse n;
  if (!pg::decodeNotificationResponse(payload, n)) {
    return protocolError("upstream sent a malformed NotificationResponse");
  }
  std::string channel, text;
  auto c = maskText("a notification channel", n.channel, channel);
  auto p = maskText("a notification payload", n.payload, text);
  if (!c || !p) {
    return !c ? c : p;
  }
  if (!*c && !*p) {
    return false;
  }
  pg::encodeNotificationResponse(
      out, pg::NotificationResponse{n.process_id, *c ? channel : n.channel, *p ? text : n.payload});
  return true;
}

Result<bool> ResultMasker::onParameterStatus(std::string_view payload, std::string& out) {
  if (!profile_->hasDetectors()) {
    return false;
  }
  pg::ParameterStatus ps;
  if (!pg::decodeParameterStatus(payload, ps)) {
    return protocolError("upstream sent a malformed ParameterStatus");
  }
  std::string value;
  auto r = maskText(fmt::format("setting {}", ps.name), ps.value, value);
  if (!r || !*r) {
    return r;
  }
  pg::encodeParameterStatus(out, ps.name, value);
  return true;
}

Status ResultMasker::onCopyOutResponse(std::string_view payload, std::string_view sql) {
  pg::CopyResponse cr;
  if (!pg::decodeCopyResponse(payload, cr)) {
    return protocolError("upstream sent a malformed CopyOutResponse");
  }
  if (cr.format != 0) {
    return Status::error(Code::kPermissionDenied,
                         "binary COPY TO STDOUT is refused while masking applies to this session; "
                         "use format text or csv",
                         "42501");
  }
  std::string lower(sql);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  copy_csv_ = lower.find("csv") != std::string::npos;
  copy_plans_.assign(cr.column_formats.size(), mask::planColumn(*profile_, 0, 0, nullptr));
  return Status::ok();
}

Result<bool> ResultMasker::onCopyData(std::string_view payload, std::string& out) {
  if (copy_plans_.empty() || !profile_->hasDetectors()) {
    return false;
  }
  std::string_view line = payload;
  bool newline = !line.empty() && line.back() == '\n';
  if (newline) {
    line.remove_suffix(1);
  }
  std::string masked;
  auto r = mask::maskCopyLine(scanner_, copy_plans_,
                              copy_csv_ ? mask::CopyFormat::csvFormat() : mask::CopyFormat::text(),
                              line, masked, counters_);
  if (!r) {
    return maskingFailed("a COPY line", r.status());
  }
  if (*r == mask::CellResult::kUnchanged) {
    return false;
  }
  if (newline) {
    masked.push_back('\n');
  }
  pg::encodeCopyData(out, masked);
  return true;
}

}  // namespace jg::server
