#include <boost/json.hpp>
#include <iostream>

#include "cli/policy_json.h"
#include "policy/golden.h"
#include "server/lineage_rules.h"
#include "sql/classifier.h"

namespace jg::cli {

namespace json = boost::json;

std::vector<mask::ColumnRule> profileRules(const config::Node& root, std::string_view profile) {
  if (!root["masking"].defined()) {
    return {};
  }
  config::Errors errors;
  mask::Settings settings = mask::parseSettings(root["masking"], errors);
  auto it = settings.profiles.find(std::string(profile));
  return it != settings.profiles.end() ? it->second.columns : settings.defaults.columns;
}

namespace {

json::array strings(const std::vector<std::string>& v) {
  return json::array(v.begin(), v.end());
}

json::object decisionJson(const policy::Decision& d) {
  json::object o{
      {"effect", policy::effectName(d.effect)}, {"rule", d.rule_id}, {"message", d.message()}};
  if (!d.detail.empty()) {
    o["detail"] = d.detail;
  }
  if (d.allowed()) {
    o["role"] = d.role;
    o["mask"] = d.mask_profile.empty() ? std::string_view("default") : d.mask_profile;
    o["row_limit"] = d.row_limit;
    o["read_only"] = d.read_only;
    o["max_items"] = d.max_items;
    o["max_response_bytes"] = d.max_response_bytes;
  }
  if (d.review != nullptr) {
    o["review"] = {
        {"approvers", d.review->approver_count},
        {"groups", strings(d.review->approver_groups)},
        {"grant_seconds", d.review->grant.count()},
        {"mode", d.review->mode == policy::ReviewSpec::Mode::kWait ? "wait" : "fail_fast"},
        {"scope",
         d.review->scope == policy::ReviewSpec::Scope::kSession ? "session" : "statement"}};
  }
  return o;
}

json::object statementJson(const sql::Statement& st, const sql::Resolved& r) {
  json::array tables;
  for (const auto& t : r.tables) {
    tables.push_back({{"name", t.qualified()}, {"write", t.write}});
  }
  json::object o{{"text", st.text},
                 {"kind", sql::kindName(st.kind)},
                 {"does", st.kinds.toString()},
                 {"writes", st.writes},
                 {"locks", st.locks},
                 {"tables", std::move(tables)},
                 {"columns", strings(st.columns)},
                 {"functions", strings(st.functions)}};
  if (st.explained != sql::Kind::kUnknown) {
    o["explained_kind"] = sql::kindName(st.explained);
  }
  return o;
}

json::object maskingJson(const sql::Statement& st, const sql::SessionContext& ctx,
                         const std::vector<mask::ColumnRule>& rules) {
  const sql::Statement* rows = server::rowSource(st, ctx);
  const sql::Lineage& l = rows != nullptr ? rows->lineage : st.lineage;
  json::array outputs;
  for (const sql::OutputColumn& out : l.outputs) {
    json::array sources;
    for (uint32_t id : out.sources) {
      sources.emplace_back(l.sources[id].everything() ? "*" : l.sources[id].qualified());
    }
    json::object o{{"name", out.expands ? "*" : out.name},
                   {"sources", std::move(sources)},
                   {"plain", out.plain}};
    server::Reach reach = server::reach(rules, l, out.sources, ctx);
    if (reach.strictest != nullptr) {
      o["rule"] = server::ruleColumn(*reach.strictest);
      o["strategy"] = mask::strategyName(reach.strictest->strategy);
      o["refuses_expressions"] = reach.refusing != nullptr;
    }
    outputs.push_back(std::move(o));
  }
  Status check = server::checkStatement(rules, st, ctx);
  json::object m{{"ok", check.isOk()}, {"outputs", std::move(outputs)}};
  if (!check) {
    m["error"] = check.message();
  }
  return m;
}

int explainHttpJson(const ExplainOptions& o, const policy::Policy& policy,
                    const identity::Identity& who, std::chrono::system_clock::time_point now,
                    json::object& doc) {
  auto hc = policy::parseHttpCase(o.http, o.body);
  if (!hc) {
    std::cerr << "--http: " << hc.status().message() << "\n";
    return 2;
  }
  json::object query;
  for (const auto& [k, v] : hc->query) {
    query[k] = v;
  }
  policy::HttpFacts facts = hc->facts();
  policy::Explanation ex = policy.explainHttp(
      who, o.resource, policy::HttpRequest{.facts = facts, .now = now, .granted = o.granted});
  doc["request"] = {{"method", hc->method},
                    {"path", hc->path},
                    {"query", std::move(query)},
                    {"body_bytes", hc->body.size()},
                    {"body_json", hc->json.has_value()},
                    {"rules", strings(ex.lines)},
                    {"decision", decisionJson(ex.decision)}};
  doc["allowed"] = ex.decision.allowed();
  std::cout << json::serialize(doc) << "\n";
  return ex.decision.allowed() ? 0 : 1;
}

}  // namespace

int runExplainJson(const ExplainOptions& o, const config::Node& root, const policy::Policy& policy,
                   const identity::Identity& who, std::chrono::system_clock::time_point now,
                   const std::vector<std::string>& search_path) {
  json::object doc{{"identity",
                    {{"display", who.display()},
                     {"subject", who.subject},
                     {"email", who.email},
                     {"groups", strings(who.groups)},
                     {"client_id", who.client_id}}},
                   {"resource", o.resource}};
  if (!o.http.empty()) {
    return explainHttpJson(o, policy, who, now, doc);
  }
  sql::Classifier classifier(16);
  auto c = classifier.classify(o.sql);
  if (!c->status.isOk()) {
    doc["parse_error"] = {
        {"sqlstate", "42601"}, {"message", c->status.message()}, {"position", c->error_position}};
    doc["allowed"] = false;
    std::cout << json::serialize(doc) << "\n";
    return 1;
  }
  sql::SessionContext ctx(search_path);
  json::array statements;
  bool allowed = true;
  for (const auto& st : c->statements) {
    sql::Resolved r;
    ctx.resolve(st, r);
    policy::Explanation ex = policy.explain(who, o.resource, policy::Request{r, now, o.granted});
    json::object s = statementJson(st, r);
    s["rules"] = strings(ex.lines);
    s["decision"] = decisionJson(ex.decision);
    bool ok = ex.decision.allowed();
    if (ok) {
      json::object m = maskingJson(st, ctx, profileRules(root, ex.decision.mask_profile));
      ok = m.at("ok").as_bool();
      s["masking"] = std::move(m);
    }
    allowed = allowed && ok;
    statements.push_back(std::move(s));
    ctx.apply(st, c);
  }
  doc["statements"] = std::move(statements);
  if (c->statements.size() > 1) {
    policy::Binding b = policy.bind(who, o.resource, now);
    sql::SessionContext batch_ctx(search_path);
    doc["whole_string"] = decisionJson(policy.evaluateBatch(b, c, batch_ctx, now, o.granted));
  }
  doc["allowed"] = allowed;
  std::cout << json::serialize(doc) << "\n";
  return allowed ? 0 : 1;
}

}  // namespace jg::cli
