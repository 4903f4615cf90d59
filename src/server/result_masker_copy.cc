// ResultMasker, COPY TO STDOUT: the format and columns come from the parsed COPY statement, the
// column rules from its lineage, with `*` over a table placed by the catalog's column order.
#include <fmt/format.h>

#include <cctype>

#include "mask/copy_line.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/lineage_rules.h"
#include "server/result_masker.h"

namespace jg::server {
namespace {

Status copyRefused(std::string why) {
  return Status::error(Code::kPermissionDenied,
                       "COPY TO STDOUT is refused while masking applies to this session: " + why,
                       "42501");
}

bool isUtf8(std::string_view encoding) {
  std::string e;
  for (char c : encoding) {
    if (c != '-' && c != '_') {
      e.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return e == "utf8" || e == "unicode";
}

mask::CopyFormat formatOf(const sql::CopyOptions& o) {
  return mask::CopyFormat{.csv = o.format == sql::CopyOptions::Format::kCsv,
                          .delimiter = o.delimiter,
                          .null_string = o.null_string,
                          .quote = o.quote,
                          .escape = o.escape};
}

Status copyFailed(const Status& why) {
  return Status::error(
      Code::kInternal,
      fmt::format("masking failed for a COPY line: {}; the result was withheld", why.message()),
      "22000");
}

}  // namespace

std::vector<CopyTableLoad> ResultMasker::copyTablesToLoad() const {
  std::vector<CopyTableLoad> loads;
  if (statement_ == nullptr || !statement_->copy || profile_->columns().empty()) {
    return loads;
  }
  const sql::Lineage& l = statement_->lineage;
  const sql::SessionContext& session = ctx();
  for (size_t i = 0; i < l.outputs.size(); ++i) {
    const sql::OutputColumn& o = l.outputs[i];
    if (!o.expands || !o.plain || o.sources.size() != 1) {
      continue;
    }
    const sql::Source& s = l.sources[o.sources[0]];
    if (s.everything() || s.column != "*" ||
        reach(profile_->columns(), l, o.sources, session).strictest == nullptr) {
      continue;
    }
    CopyTableLoad load{.output = i, .table = s.table, .schemas = {}};
    std::vector<sql::TableRef> resolved;
    session.qualify(sql::TableRef{s.schema, s.table, false}, resolved);
    for (const sql::TableRef& t : resolved) {
      load.schemas.push_back(t.schema);
    }
    loads.push_back(std::move(load));
  }
  return loads;
}

Status ResultMasker::onCopyOutResponse(std::string_view payload,
                                       const std::vector<std::vector<TableColumns>>& found) {
  pg::CopyResponse cr;
  if (!pg::decodeCopyResponse(payload, cr)) {
    return protocolError("upstream sent a malformed CopyOutResponse");
  }
  copy_plans_.clear();
  const sql::Statement* st = statement_;
  bool binary = cr.format != 0 || (st != nullptr && st->copy &&
                                   st->copy->format == sql::CopyOptions::Format::kBinary);
  if (binary) {
    return Status::error(Code::kPermissionDenied,
                         "binary COPY TO STDOUT is refused while masking applies to this session; "
                         "use format text or csv",
                         "42501");
  }
  if (profile_->columns().empty() && !profile_->hasDetectors()) {
    return Status::ok();
  }
  if (st == nullptr || !st->copy) {
    return copyRefused("the gateway cannot tell which COPY statement the server is answering");
  }
  const sql::CopyOptions& opts = *st->copy;
  if (!opts.readable) {
    return copyRefused("its options cannot be read as the server reads them");
  }
  if (!opts.encoding.empty() && !isUtf8(opts.encoding)) {
    return copyRefused("ENCODING '" + opts.encoding + "' (only UTF8 output can be masked)");
  }
  copy_format_ = formatOf(opts);
  copy_skip_header_ = opts.header;
  return copyPlans(*st, cr.column_formats.size(), found);
}

// One plan per COPY column: the strictest rule its lineage reaches, with each `*` over a table
// replaced by that table's columns as the catalog lists them.
Status ResultMasker::copyPlans(const sql::Statement& st, size_t n,
                               const std::vector<std::vector<TableColumns>>& found) {
  const sql::SessionContext& session = ctx();
  std::vector<CopyTableLoad> loads = copyTablesToLoad();
  std::vector<StarColumns> stars;
  for (size_t k = 0; k < loads.size(); ++k) {
    if (k >= found.size() || found[k].size() != 1) {
      std::string where;
      for (const std::string& s : loads[k].schemas) {
        where += (where.empty() ? "" : ", ") + s;
      }
      return copyRefused(fmt::format(
          "\"{}\" {} ({}), and a masking rule applies to a table of that name; name its schema",
          loads[k].table,
          k < found.size() && !found[k].empty() ? "names a table in several schemas"
                                                : "is not a table the catalog shows in",
          where));
    }
    stars.push_back(
        StarColumns{loads[k].output, found[k][0].schema, loads[k].table, found[k][0].columns});
  }
  sql::Lineage l = expandStars(st.lineage, stars);
  std::vector<sql::SourceIds> from;
  std::vector<bool> plain;
  l.align(n, from, plain);
  for (size_t i = 0; i < n; ++i) {
    Reach r = reach(profile_->columns(), l, from[i], session);
    if (!plain[i] && r.refusing != nullptr) {
      copy_plans_.clear();
      return Status::error(
          Code::kPermissionDenied,
          fmt::format("COPY column {} is computed from {}, whose masking rule refuses values "
                      "computed from it (through_expressions: refuse)",
                      i + 1, ruleColumn(*r.refusing)),
          "42501");
    }
    copy_plans_.push_back(mask::planColumn(*profile_, 0, 0, r.strictest));
  }
  return Status::ok();
}

Result<bool> ResultMasker::onCopyData(std::string_view payload, std::string& out) {
  if (copy_plans_.empty()) {
    return false;
  }
  if (copy_skip_header_) {
    copy_skip_header_ = false;  // the header line: the column names
    return false;
  }
  std::string masked;
  auto r = mask::maskCopyLine(scanner_, copy_plans_, copy_format_, payload, masked, counters_);
  if (!r) {
    return copyFailed(r.status());
  }
  if (*r == mask::CellResult::kUnchanged) {
    return false;
  }
  pg::encodeCopyData(out, masked);
  return true;
}

}  // namespace jg::server
