#include "server/lineage_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "sql/where_keys.h"

namespace jg::server {
namespace {

std::string allowed(const mask::ColumnRule& r) {
  std::string out;
  for (const std::string& f : *r.functions) {
    out += (out.empty() ? "" : ", ") + f;
  }
  return out.empty() ? "none" : out;
}

Status refused(std::string message) {
  return Status::error(Code::kPermissionDenied, std::move(message), "42501");
}

Status checkCalls(std::span<const mask::ColumnRule> rules, const sql::Lineage& l,
                  const sql::SessionContext& ctx) {
  for (const sql::Call& call : l.calls) {
    for (const mask::ColumnRule& r : rules) {
      if (r.allows(call.name)) {
        continue;
      }
      for (uint32_t id : call.sources) {
        if (reaches(r, l.sources[id], ctx)) {
          return refused(fmt::format(
              "function or operator \"{}\" is not allowed on {} (its masking rule allows: {})",
              call.name, ruleColumn(r), allowed(r)));
        }
      }
    }
  }
  return Status::ok();
}

Status checkOutputs(std::span<const mask::ColumnRule> rules, const sql::Lineage& l,
                    const sql::SessionContext& ctx) {
  for (size_t i = 0; i < l.outputs.size(); ++i) {
    const sql::OutputColumn& out = l.outputs[i];
    if (out.plain) {
      continue;  // the server names its column; the column's own rule applies
    }
    if (const mask::ColumnRule* r = reach(rules, l, out.sources, ctx).refusing) {
      return refused(fmt::format(
          "output column {} (\"{}\") is computed from {}, whose masking rule refuses values "
          "computed from it (through_expressions: refuse); select the column itself",
          i + 1, out.expands ? "*" : out.name, ruleColumn(*r)));
    }
  }
  return Status::ok();
}

}  // namespace

bool reaches(const mask::ColumnRule& r, const sql::Source& s, const sql::SessionContext& ctx) {
  if (s.everything()) {
    return true;
  }
  if (s.table != r.table || (s.column != "*" && s.column != r.column)) {
    return false;
  }
  if (r.schema.empty() || s.schema == "*") {
    return true;
  }
  if (!s.schema.empty()) {
    return s.schema == r.schema;
  }
  thread_local std::vector<sql::TableRef> resolved;
  resolved.clear();
  ctx.qualify(sql::TableRef{"", s.table, false}, resolved);
  for (const sql::TableRef& t : resolved) {
    if (t.schema == r.schema || t.schema == "*") {
      return true;
    }
  }
  return false;
}

Reach reach(std::span<const mask::ColumnRule> rules, const sql::Lineage& lineage,
            const sql::SourceIds& ids, const sql::SessionContext& ctx) {
  Reach out;
  for (const mask::ColumnRule& r : rules) {
    for (uint32_t id : ids) {
      if (reaches(r, lineage.sources[id], ctx)) {
        out.strictest = mask::stricter(out.strictest, &r);
        if (r.through_expressions == mask::ThroughExpressions::kRefuse && out.refusing == nullptr) {
          out.refusing = &r;
        }
        break;
      }
    }
  }
  return out;
}

std::string ruleColumn(const mask::ColumnRule& r) {
  return (r.schema.empty() ? "" : r.schema + ".") + r.table + "." + r.column;
}

Status checkStatement(std::span<const mask::ColumnRule> rules, const sql::Statement& st,
                      const sql::SessionContext& ctx) {
  if (rules.empty()) {
    return Status::ok();
  }
  const sql::Statement* rows = rowSource(st, ctx);
  const sql::Lineage& l = rows != nullptr ? rows->lineage : st.lineage;
  bool lists = std::any_of(rules.begin(), rules.end(),
                           [](const mask::ColumnRule& r) { return r.functions.has_value(); });
  if (l.truncated && lists) {
    return refused(
        "the statement nests too deeply for the gateway to check the functions masking rules "
        "allow on their columns");
  }
  if (Status s = checkCalls(rules, l, ctx); !s) {
    return s;
  }
  if (l.kind == sql::Outputs::kKnown) {
    return checkOutputs(rules, l, ctx);
  }
  return Status::ok();
}

const sql::Statement* rowSource(const sql::Statement& st, const sql::SessionContext& ctx,
                                std::shared_ptr<const sql::Classification>* owner) {
  if (st.kind == sql::Kind::kExecute) {
    return ctx.named(false, st.prepared_name, owner);
  }
  if (st.tag == "FetchStmt") {
    return ctx.named(true, st.prepared_name, owner);
  }
  return &st;
}

sql::Lineage expandStars(const sql::Lineage& l, const std::vector<StarColumns>& stars) {
  sql::Lineage out = l;
  out.outputs.clear();
  for (size_t i = 0; i < l.outputs.size(); ++i) {
    auto star = std::find_if(stars.begin(), stars.end(),
                             [&](const StarColumns& s) { return s.output == i; });
    if (star == stars.end()) {
      out.outputs.push_back(l.outputs[i]);
      continue;
    }
    for (const std::string& col : star->columns) {
      out.sources.push_back(sql::Source{star->schema, star->table, col});
      auto id = static_cast<uint32_t>(out.sources.size() - 1);
      out.outputs.push_back(sql::OutputColumn{col, {id}, /*plain=*/true, /*expands=*/false});
    }
  }
  return out;
}

std::vector<std::string> whereDocuments(std::string_view sql,
                                        const std::vector<std::optional<std::string>>& params,
                                        std::string_view schema, std::string_view table,
                                        std::string_view id_column,
                                        const sql::SessionContext& ctx) {
  if (table.empty() || id_column.empty()) {
    return {};
  }
  // Parsing costs more than a scan: text that never spells the column (in any case) names no
  // document.
  auto folded = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  auto hit = std::search(sql.begin(), sql.end(), id_column.begin(), id_column.end(),
                         [&](char a, char b) { return folded(a) == folded(b); });
  if (hit == sql.end()) {
    return {};
  }
  std::vector<sql::KeyFilter> filters = sql::whereKeyFilters(sql, id_column);
  std::erase_if(filters, [&](const sql::KeyFilter& f) {
    if (f.table.name != table) {
      return true;
    }
    std::vector<sql::TableRef> candidates;
    ctx.qualify(f.table, candidates);
    return std::none_of(candidates.begin(), candidates.end(), [&](const sql::TableRef& t) {
      return t.schema == schema || t.schema == "*";
    });
  });
  return sql::keyValues(filters, params);
}

}  // namespace jg::server
