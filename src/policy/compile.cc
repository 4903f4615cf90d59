// Policy::compile: YAML rules → Rule objects, with every problem reported at once.
#include <fnmatch.h>

#include <cctype>
#include <set>

#include "policy/policy.h"
#include "policy/rule.h"

namespace jg::policy {

bool globMatch(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

namespace {

// Splits `a.b."C.d"` into identifier parts, folding unquoted parts to lower case.
std::optional<std::vector<std::string>> splitDotted(std::string_view text) {
  std::vector<std::string> parts(1);
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        parts.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        parts.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '.') {
      parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  for (const auto& p : parts) {
    if (p.empty()) {
      return std::nullopt;
    }
  }
  if (quoted) {
    return std::nullopt;
  }
  return parts;
}

}  // namespace

std::optional<TablePattern> parseTablePattern(std::string_view text) {
  auto parts = splitDotted(text);
  if (!parts || parts->size() > 2) {
    return std::nullopt;
  }
  TablePattern p;
  p.text = std::string(text);
  p.schema = parts->size() == 2 ? (*parts)[0] : "*";
  p.name = parts->back();
  return p;
}

std::optional<ColumnPattern> parseColumnPattern(std::string_view text) {
  auto parts = splitDotted(text);
  if (!parts || parts->size() > 3) {
    return std::nullopt;
  }
  ColumnPattern c;
  c.text = std::string(text);
  c.column = parts->back();
  if (parts->size() == 2) {
    c.table = TablePattern{"*", (*parts)[0], (*parts)[0]};
  } else if (parts->size() == 3) {
    c.table = TablePattern{(*parts)[0], (*parts)[1], (*parts)[0] + "." + (*parts)[1]};
  }
  return c;
}

namespace {

bool parseKinds(const config::Node& node, config::Errors& errors, sql::KindSet& out) {
  bool ok = true;
  for (const auto& name : node.strings(errors)) {
    if (auto k = sql::kindFromName(name)) {
      out.add(*k);
    } else if (auto g = sql::kindGroupFromName(name)) {
      out.add(*g);
    } else {
      errors.add(node, "unknown statement kind '" + name + "'");
      ok = false;
    }
  }
  return ok;
}

void parseMatch(const config::Node& m, config::Errors& errors, Rule& r) {
  m.checkKeys(errors, {"subjects", "emails", "groups", "client_ids", "resource", "resources",
                       "kinds", "tables", "columns", "functions", "when", "methods", "paths",
                       "path_params", "query", "body", "mcp_methods", "tools", "arguments"});
  r.subjects = m["subjects"].strings(errors);
  for (auto e : m["emails"].strings(errors)) {
    for (char& c : e) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    r.emails.push_back(std::move(e));
  }
  r.groups = m["groups"].strings(errors);
  r.client_ids = m["client_ids"].strings(errors);
  r.resources = m["resource"].strings(errors);
  for (auto& s : m["resources"].strings(errors)) {
    r.resources.push_back(std::move(s));
  }
  if (m["kinds"].defined()) {
    r.has_kinds = true;
    (void)parseKinds(m["kinds"], errors, r.kinds);
  }
  for (const auto& t : m["tables"].strings(errors)) {
    if (auto p = parseTablePattern(t)) {
      r.tables.push_back(std::move(*p));
    } else {
      errors.add(m["tables"], "'" + t + "' is not a table pattern like schema.table or crm.*");
    }
  }
  for (const auto& c : m["columns"].strings(errors)) {
    if (auto p = parseColumnPattern(c)) {
      r.columns.push_back(std::move(*p));
    } else {
      errors.add(m["columns"], "'" + c + "' is not a column pattern like [schema.]table.column");
    }
  }
  for (auto f : m["functions"].strings(errors)) {
    for (char& c : f) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    r.functions.push_back(std::move(f));
  }
  if (m["when"].defined()) {
    r.when = TimeWindow::parse(m["when"], errors);
  }
  parseHttpMatch(m, errors, r.http);
  parseMcpMatch(m, errors, r.http);
}

// HTTP and SQL conditions and modifiers do not mix in one rule.
void checkProtocol(const config::Node& n, config::Errors& errors, const Rule& r) {
  if (r.hasStatementConditions() && r.hasHttpConditions()) {
    errors.add(n,
               "a rule has statement conditions (kinds, tables, columns, functions, or an "
               "allow:/deny:/review: list) or HTTP conditions (methods, paths, path_params, "
               "query, body), not both");
  }
  if (n["response"].defined() && r.effect != Effect::kAllow) {
    errors.add(n["response"], "response limits apply only to allow rules");
  }
  if (n["response"].defined() && r.hasStatementConditions()) {
    errors.add(n["response"], "response limits apply to HTTP requests; SQL uses row_limit");
  }
  if (r.hasHttpConditions() && r.row_limit > 0) {
    errors.add(n["row_limit"], "row_limit applies to SQL; HTTP rules use response: { max_items }");
  }
  if (r.hasHttpConditions() && r.catalog) {
    errors.add(n["catalog"], "catalog: true applies to SQL; an HTTP rule cannot read the catalog");
  }
  if (r.hasHttpConditions() && !r.unlock.empty()) {
    errors.add(n["unlock"], "guardrails are SQL only; an HTTP rule cannot unlock them");
  }
}

void parseReview(const config::Node& n, config::Errors& errors, Rule& r) {
  const config::Node a = n["approvers"];
  if (r.effect == Effect::kReview) {
    if (!a.defined() || !a.isMap()) {
      errors.add(n, "a review rule needs approvers: { groups: [...], count: N }");
    } else {
      a.checkKeys(errors, {"groups", "count"});
      r.review.approver_groups = a["groups"].strings(errors);
      if (r.review.approver_groups.empty()) {
        errors.add(a["groups"], "at least one approver group is required");
      }
      r.review.approver_count = static_cast<int>(a["count"].integer(errors, 1, 1, 100));
    }
  } else if (a.defined() || n["mode"].defined() || n["scope"].defined()) {
    errors.add(n, "approvers, mode and scope apply only to review rules");
  }
  r.review.grant = std::chrono::duration_cast<std::chrono::seconds>(
      n["grant"].duration(errors, std::chrono::hours(1)));
  r.review.mode = n["mode"].oneOf(errors, {"wait", "fail_fast"}, "wait") == "wait"
                      ? ReviewSpec::Mode::kWait
                      : ReviewSpec::Mode::kFailFast;
  r.review.scope = n["scope"].oneOf(errors, {"statement", "session"}, "statement") == "session"
                       ? ReviewSpec::Scope::kSession
                       : ReviewSpec::Scope::kStatement;
}

std::optional<Rule> parseRule(const config::Node& n, config::Errors& errors) {
  n.checkKeys(errors, {"id", "reason", "match", "action", "allow", "deny", "review", "role", "mask",
                       "row_limit", "read_only", "catalog", "unlock", "approvers", "grant", "mode",
                       "scope", "response"});
  Rule r;
  r.id = n["id"].requiredStr(errors);
  r.where = n.file() + ":" + std::to_string(n.line());
  if (r.id.starts_with("builtin:") || r.id == "default-deny") {
    errors.add(n["id"], "rule ids 'builtin:*' and 'default-deny' are reserved");
  }
  int shorthand = 0;
  for (auto [key, effect] : {std::pair{"allow", Effect::kAllow}, std::pair{"deny", Effect::kDeny},
                             std::pair{"review", Effect::kReview}}) {
    if (n[key].defined()) {
      ++shorthand;
      r.effect = effect;
      r.has_kinds = true;
      (void)parseKinds(n[key], errors, r.kinds);
    }
  }
  if (shorthand > 1) {
    errors.add(n, "use only one of allow:, deny: and review:");
  }
  if (n["action"].defined()) {
    std::string a = n["action"].oneOf(errors, {"allow", "deny", "review"}, "deny");
    Effect e = a == "allow" ? Effect::kAllow : a == "deny" ? Effect::kDeny : Effect::kReview;
    if (shorthand > 0 && e != r.effect) {
      errors.add(n["action"], "contradicts the " + std::string(effectName(r.effect)) + ": list");
    }
    r.effect = e;
  } else if (shorthand == 0) {
    errors.add(n, "a rule needs action: allow|deny|review (or allow:/deny:/review: [kinds])");
  }
  r.reason = n["reason"].str(errors, "rule " + r.id);
  if (n["match"].defined() && !n["match"].isMap()) {
    errors.add(n["match"], "expected a mapping of conditions");
  } else if (n["match"].defined()) {
    sql::KindSet shorthand_kinds = r.kinds;
    bool had = r.has_kinds;
    parseMatch(n["match"], errors, r);
    if (had && n["match"]["kinds"].defined()) {
      errors.add(n["match"]["kinds"], "statement kinds are already given by the action list");
    }
    if (had) {
      r.kinds = shorthand_kinds;
      r.has_kinds = true;
    }
  }
  r.role = n["role"].str(errors);
  r.mask = n["mask"].str(errors);
  r.row_limit = n["row_limit"].integer(errors, 0, 0, int64_t{1} << 40);
  r.read_only = n["read_only"].boolean(errors, false);
  r.catalog = n["catalog"].boolean(errors, false);
  if (r.catalog && r.effect != Effect::kAllow) {
    errors.add(n["catalog"], "catalog: true applies only to allow rules");
  }
  r.unlock = n["unlock"].strings(errors);
  for (const auto& u : r.unlock) {
    const Rule* known = nullptr;
    const std::vector<Rule> guards = builtinGuardrails();
    for (const auto& g : guards) {
      known = guardrailName(g.guardrail) == u ? &g : known;
    }
    if (known == nullptr) {
      errors.add(n["unlock"], "unknown guardrail '" + u + "'");
    } else if (!guardrailUnlockable(known->guardrail)) {
      errors.add(n["unlock"], "guardrail '" + u + "' cannot be unlocked: " + known->reason);
    }
  }
  if (!r.unlock.empty() && r.effect != Effect::kAllow) {
    errors.add(n["unlock"], "only allow rules can unlock guardrails");
  }
  parseReview(n, errors, r);
  r.response = parseResponseLimits(n["response"], errors);
  checkProtocol(n, errors, r);
  return r;
}

}  // namespace

Result<std::shared_ptr<const Policy>> Policy::compile(const config::Node& policies,
                                                      config::Errors& errors) {
  size_t before = errors.list().size();
  std::shared_ptr<Policy> p(new Policy());
  p->rules_ = builtinGuardrails();
  p->rules_.push_back(builtinSessionRule());
  if (policies.defined() && !policies.isSequence()) {
    errors.add(policies, "expected a list of rules");
  } else if (policies.defined()) {
    std::set<std::string> ids;
    for (size_t i = 0; i < policies.size(); ++i) {
      config::Node n = policies.at(i);
      if (!n.isMap()) {
        errors.add(n, "expected a rule (a mapping with id, match and an action)");
        continue;
      }
      auto r = parseRule(n, errors);
      if (!r) {
        continue;
      }
      if (!r->id.empty() && !ids.insert(r->id).second) {
        errors.add(n["id"], "duplicate rule id '" + r->id + "'");
      }
      p->rules_.push_back(std::move(*r));
    }
  }
  if (errors.list().size() != before) {
    return invalidArgument("invalid policy:\n" + errors.joined());
  }
  for (const Rule& r : p->rules_) {
    p->time_dependent_ = p->time_dependent_ || r.when.has_value();
  }
  return std::shared_ptr<const Policy>(std::move(p));
}

}  // namespace jg::policy
