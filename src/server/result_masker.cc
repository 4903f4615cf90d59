#include "server/result_masker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "mask/copy_line.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/lineage_rules.h"

namespace jg::server {
namespace {

constexpr size_t kMaxCachedPlans = 1024;

Status maskingFailed(std::string_view what, const Status& why) {
  return Status::error(
      Code::kInternal,
      fmt::format("masking failed for {}: {}; the result was withheld", what, why.message()),
      "22000");
}

// The lineage of a statement the masker cannot name: every column from everything.
const sql::Lineage& unknownLineage() {
  static const sql::Lineage l = [] {
    sql::Lineage u;
    u.kind = sql::Outputs::kOpaque;
    u.sources.push_back(sql::Source{"*", "*", "*"});
    return u;
  }();
  return l;
}

const sql::SessionContext& noSession() {
  static const sql::SessionContext ctx;
  return ctx;
}

// Same text object (the tracker keeps the text of a request until it is answered).
bool sameText(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}

// Whether `s` is a name the statement itself wrote (a table, column or function): a quoted
// identifier in an error message, not a value.
bool namesIn(const sql::Statement& st, std::string_view s) {
  auto same = [&](const std::string& n) { return n == s; };
  return std::any_of(st.columns.begin(), st.columns.end(), same) ||
         std::any_of(st.functions.begin(), st.functions.end(), same) ||
         std::any_of(st.tables.begin(), st.tables.end(),
                     [&](const sql::TableRef& t) { return t.name == s || t.qualified() == s; });
}

// The span of an error message that may hold a value: from the first double quote to the last,
// leaving out quoted names the statement wrote at either end. PostgreSQL does not escape quotes
// inside a quoted value, so everything between the outer quotes counts as one value. Empty
// when the message quotes nothing else.
std::pair<size_t, size_t> quotedValue(std::string_view m, const sql::Statement* st) {
  std::vector<size_t> q;
  for (size_t i = m.find('"'); i != std::string_view::npos; i = m.find('"', i + 1)) {
    q.push_back(i);
  }
  size_t lo = 0, hi = q.size();
  auto name = [&](size_t a) {
    return st != nullptr && namesIn(*st, m.substr(q[a] + 1, q[a + 1] - q[a] - 1));
  };
  while (hi - lo >= 2 && name(lo)) {
    lo += 2;
  }
  while (hi - lo >= 2 && name(hi - 2)) {
    hi -= 2;
  }
  if (hi == lo) {
    return {0, 0};
  }
  size_t from = q[lo] + 1;
  return {from, hi - lo == 1 ? m.size() : q[hi - 1]};
}

}  // namespace

ResultMasker::ResultMasker(std::shared_ptr<const mask::Engine> engine,
                           std::shared_ptr<CatalogCache> catalog)
    : engine_(std::move(engine)),
      catalog_(std::move(catalog)),
      scanner_(engine_),
      profile_(engine_->profile()) {}

const sql::SessionContext& ResultMasker::ctx() const {
  return ctx_ != nullptr ? *ctx_ : noSession();
}

void ResultMasker::attach(sql::Classifier& classifier, const sql::SessionContext& ctx) {
  classifier_ = &classifier;
  ctx_ = &ctx;
}

Status ResultMasker::setProfile(std::string_view name) {
  const mask::Profile* p = engine_->profile(name);
  if (p == nullptr) {
    return Status::error(Code::kInternal,
                         fmt::format("masking profile \"{}\" is not configured", name), "XX000");
  }
  if (p != profile_) {
    profile_ = p;
    plans_[0].clear();
    plans_[1].clear();
  }
  return Status::ok();
}

Status ResultMasker::checkStatements(const sql::Classification& c) {
  if (!c.status.isOk() || profile_->columns().empty()) {
    return Status::ok();
  }
  for (const sql::Statement& st : c.statements) {
    if (Status s = checkStatement(profile_->columns(), st, ctx()); !s) {
      return s;
    }
    noteSideChannels(st);
  }
  return Status::ok();
}

// pg_notify(channel, note) and set_config('application_name', note, ...) carry a value out of
// the result: the notification (delivered at commit, maybe statements later) and the reported
// setting get the strictest rule such a call reached, from then on in this session.
void ResultMasker::noteSideChannels(const sql::Statement& st) {
  const sql::Statement* rows = rowSource(st, ctx());
  const sql::Lineage& l = rows != nullptr ? rows->lineage : st.lineage;
  for (const sql::Call& call : l.calls) {
    const mask::ColumnRule** sticky = call.name == "pg_notify"    ? &notify_rule_
                                      : call.name == "set_config" ? &setting_rule_
                                                                  : nullptr;
    if (sticky != nullptr) {
      *sticky =
          mask::stricter(*sticky, reach(profile_->columns(), l, call.sources, ctx()).strictest);
    }
  }
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

void ResultMasker::beforeBackend(char type, std::string_view sql, bool query) {
  switch (type) {
    case pg::be::kReadyForQuery:
      completed_ = 0;
      counted_sql_ = {};
      seen_sql_ = {};
      active_.reset();
      statement_ = nullptr;
      return;
    case pg::be::kCommandComplete:
    case pg::be::kEmptyQueryResponse:
      // One statement of the request ended: the next result of a Query is its next statement's.
      if (query) {
        completed_ = sameText(sql, counted_sql_) ? completed_ + 1 : 1;
        counted_sql_ = sql;
      } else {
        completed_ = 0;
        counted_sql_ = {};
      }
      seen_sql_ = {};
      return;
    case pg::be::kRowDescription:
    case pg::be::kDataRow:
    case pg::be::kCopyOutResponse:
    case pg::be::kErrorResponse:
    case pg::be::kNoticeResponse:
      if (!sameText(sql, seen_sql_)) {
        resolve(sql);
      }
      return;
    default:
      return;
  }
}

const sql::Statement* ResultMasker::resolve(std::string_view sql) {
  seen_sql_ = sql;
  statement_ = nullptr;
  active_.reset();
  row_owner_.reset();
  if (classifier_ == nullptr || sql.empty()) {
    return nullptr;
  }
  active_ = classifier_->classify(sql);
  size_t index = sameText(sql, counted_sql_) ? completed_ : 0;
  if (!active_->status.isOk() || index >= active_->statements.size()) {
    return nullptr;
  }
  statement_ = rowSource(active_->statements[index], ctx(), &row_owner_);
  return statement_;
}

const sql::Lineage* ResultMasker::lineage() const {
  return statement_ != nullptr ? &statement_->lineage : nullptr;
}

const ResultMasker::Plans& ResultMasker::plansFor(const pg::ColumnsPtr& cols, bool values) {
  uint64_t generation = ctx_ != nullptr ? ctx_->generation() : 0;
  auto& plans = plans_[values ? 1 : 0];
  auto it = plans.find(cols.get());
  if (it != plans.end() && it->second.generation == generation) {
    return it->second;
  }
  if (plans.size() >= kMaxCachedPlans) {
    plans.clear();
  }
  Plans p;
  p.keep = cols;
  p.generation = generation;
  p.plans.reserve(cols->size());
  std::vector<sql::SourceIds> from;
  std::vector<bool> plain;
  const sql::Lineage* l = lineage();
  bool follow = !profile_->columns().empty() && (l != nullptr || values);
  if (follow) {
    (l != nullptr ? *l : unknownLineage()).align(cols->size(), from, plain);
  }
  for (size_t i = 0; i < cols->size(); ++i) {
    p.plans.push_back(planOne((*cols)[i], i, follow ? &from : nullptr, plain, p.refusal));
    p.any = p.any || p.plans.back().action != mask::Action::kNone;
  }
  return plans.insert_or_assign(cols.get(), std::move(p)).first->second;
}

// A column PostgreSQL names (table OID, attribute number) as a plain column gets that column's
// rule; any other gets the strictest rule its lineage reaches, applied to the whole value.
mask::ColumnPlan ResultMasker::planOne(const pg::Column& c, size_t i,
                                       const std::vector<sql::SourceIds>* from,
                                       const std::vector<bool>& plain, std::string& refusal) {
  const mask::ColumnRule* direct = nullptr;
  bool named = false;
  if (!profile_->columns().empty() && catalog_ && c.table_oid != 0 && c.column > 0) {
    if (auto name = catalog_->lookup(c.table_oid, c.column)) {
      named = true;
      direct = profile_->findRule(name->schema, name->table, name->column);
    }
  }
  if (from == nullptr || (named && plain[i])) {
    return mask::planColumn(*profile_, c.type_oid, c.format, direct);
  }
  const sql::Lineage& l = lineage() != nullptr ? *lineage() : unknownLineage();
  Reach r = reach(profile_->columns(), l, (*from)[i], ctx());
  if (r.refusing != nullptr && refusal.empty()) {
    refusal = fmt::format(
        "output column {} (\"{}\") is computed from {}, whose masking rule refuses values "
        "computed from it (through_expressions: refuse); the result was withheld",
        i + 1, c.name, ruleColumn(*r.refusing));
  }
  const mask::ColumnRule* rule = mask::stricter(direct, r.strictest);
  mask::ColumnPlan plan = mask::planColumn(*profile_, c.type_oid, c.format, rule);
  if (rule != direct && plan.kind == mask::ValueKind::kOtherText) {
    // A computed non-text value (length(note)) becomes NULL: the client keeps the type it was
    // told, which an Execute cannot change after a Describe.
    plan.kind = mask::ValueKind::kOtherBinary;
    plan.output_type_oid = plan.type_oid;
  }
  return plan;
}

Result<bool> ResultMasker::onRowDescription(const pg::RowDescription& rd,
                                            const pg::ColumnsPtr& cols, std::string& out) {
  const Plans& p = plansFor(cols, /*values=*/false);
  if (!p.refusal.empty()) {
    return Status::error(Code::kPermissionDenied, p.refusal, "42501");
  }
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
  const Plans& p = plansFor(cols, /*values=*/true);
  if (!p.refusal.empty()) {
    return Status::error(Code::kPermissionDenied, p.refusal, "42501");
  }
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

// The strictest rule over every column the current statement reads, anywhere.
const mask::ColumnRule* ResultMasker::touchedRule() const {
  const sql::Lineage* l = lineage();
  if (l == nullptr || profile_->columns().empty()) {
    return nullptr;
  }
  sql::SourceIds all = l->read;
  for (const sql::OutputColumn& o : l->outputs) {
    sql::unite(all, o.sources);
  }
  if (l->kind == sql::Outputs::kOpaque) {
    sql::unite(all, {sql::Lineage::kEverything});
  }
  return reach(profile_->columns(), *l, all, ctx()).strictest;
}

// M and H: the quoted value is masked with the rule. D and W (DETAIL, CONTEXT) quote data in
// shapes a scan cannot bound (`Key (email)=(...)`, `Failing row contains (...)`, `JSON data, line
// 1: ...`): they are withheld.
Result<bool> ResultMasker::ruleField(char code, const mask::ColumnRule& rule, std::string& value) {
  if (code == 'D' || code == 'W') {
    value = fmt::format("(withheld: the statement reads {}, a column under a masking rule)",
                        ruleColumn(rule));
    counters_.count(rule.label);
    return true;
  }
  auto [from, to] = quotedValue(value, statement_);
  if (from == to) {
    return false;
  }
  std::string masked;
  if (Status st = applyRule(rule, std::string_view(value).substr(from, to - from), masked); !st) {
    return maskingFailed("an error message", st);
  }
  value.replace(from, to - from, masked);
  return true;
}

// The rule's strategy on a whole piece of free text; the null strategy redacts (text has no NULL).
Status ResultMasker::applyRule(const mask::ColumnRule& rule, std::string_view in,
                               std::string& out) {
  mask::ColumnPlan plan = mask::planColumn(*profile_, mask::oid::kText, 0, &rule);
  auto r = scanner_.maskCell(plan, in, out, counters_);
  if (!r) {
    return r.status();
  }
  if (*r == mask::CellResult::kNull) {
    out = "[" + rule.label + "]";
  }
  return Status::ok();
}

// One field of an error or notice: the rule's masking (see ruleField), then the detectors.
Result<bool> ResultMasker::maskMessageField(char code, const mask::ColumnRule* rule,
                                            std::string& value) {
  bool changed = false;
  if (rule != nullptr && code != 'q') {
    auto r = ruleField(code, *rule, value);
    if (!r) {
      return r;
    }
    changed = *r;
  }
  if (!profile_->hasDetectors()) {
    return changed;
  }
  std::string masked;
  auto r = scanner_.maskFreeText(*profile_, value, masked, counters_);
  if (!r) {
    return maskingFailed("an error message", r.status());
  }
  if (*r == mask::CellResult::kRewritten) {
    value.swap(masked);
    return true;
  }
  return changed;
}

Result<bool> ResultMasker::onErrorOrNotice(char type, std::string_view payload, std::string& out) {
  const mask::ColumnRule* rule = touchedRule();
  if (rule == nullptr && !profile_->hasDetectors()) {
    return false;
  }
  pg::ErrorFields fields;
  if (!pg::decodeErrorFields(payload, fields)) {
    return protocolError("upstream sent a malformed error or notice");
  }
  std::vector<std::string> storage;
  storage.reserve(fields.fields.size());  // no reallocation: fields keep views into it
  bool changed = false;
  for (auto& [code, value] : fields.fields) {
    if (code != 'M' && code != 'D' && code != 'H' && code != 'W' && code != 'q') {
      continue;
    }
    std::string text(value);
    auto r = maskMessageField(code, rule, text);
    if (!r) {
      return r;
    }
    if (*r) {
      storage.push_back(std::move(text));
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

Result<bool> ResultMasker::maskText(std::string_view what, const mask::ColumnRule* rule,
                                    std::string_view text, std::string& masked) {
  std::string ruled;
  if (rule != nullptr) {
    if (Status st = applyRule(*rule, text, ruled); !st) {
      return maskingFailed(what, st);
    }
    text = ruled;
  }
  if (!profile_->hasDetectors()) {
    masked = std::move(ruled);
    return rule != nullptr;
  }
  auto r = scanner_.maskFreeText(*profile_, text, masked, counters_);
  if (!r) {
    return maskingFailed(what, r.status());
  }
  if (*r != mask::CellResult::kRewritten && rule != nullptr) {
    masked = std::move(ruled);
  }
  return rule != nullptr || *r == mask::CellResult::kRewritten;
}

Result<bool> ResultMasker::onNotification(std::string_view payload, std::string& out) {
  if (!profile_->hasDetectors() && notify_rule_ == nullptr) {
    return false;
  }
  pg::NotificationResponse n;
  if (!pg::decodeNotificationResponse(payload, n)) {
    return protocolError("upstream sent a malformed NotificationResponse");
  }
  std::string channel, text;
  // A notification reaches only the channels the session listens to, whose names it knows: the
  // channel goes through the detectors only.
  auto c = maskText("a notification channel", nullptr, n.channel, channel);
  auto p = maskText("a notification payload", notify_rule_, n.payload, text);
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
  if (!profile_->hasDetectors() && setting_rule_ == nullptr) {
    return false;
  }
  pg::ParameterStatus ps;
  if (!pg::decodeParameterStatus(payload, ps)) {
    return protocolError("upstream sent a malformed ParameterStatus");
  }
  // application_name is the one reported setting that holds any text; the server validates the
  // others (and the gateway pins client_encoding and standard_conforming_strings).
  const mask::ColumnRule* rule = ps.name == "application_name" ? setting_rule_ : nullptr;
  if (!profile_->hasDetectors() && rule == nullptr) {
    return false;
  }
  std::string value;
  auto r = maskText(fmt::format("setting {}", ps.name), rule, ps.value, value);
  if (!r || !*r) {
    return r;
  }
  pg::encodeParameterStatus(out, ps.name, value);
  return true;
}

}  // namespace jg::server
