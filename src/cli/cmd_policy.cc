// `jitgate policy ...`: tools for policy authors.
//
//   jitgate policy explain --config F --as '<identity JSON | access token | ->' --resource kb
//                          --sql '...' [--search-path 'crm, public'] [--at RFC3339] [--granted id]
//   jitgate policy explain ... --http 'POST /collections/docs/points/search?x=1' [--body '{...}']
//     prints each statement's classification (or the HTTP request's facts), the decision, and
//     why every rule did or did not match. An identity JSON is used as is
//     ({"sub":"alice","email":"a@x","groups":["rag"]}); anything else is an access token, verified
//     with the config's identity section ("-" reads it from standard input). Exit status: 0
//     allowed, 1 denied or review, 2 bad input.
//   jitgate policy test DIR
//     runs the golden tables DIR/<name>.rules + <name>.eval (see src/policy/golden.h).
//     Exit status: 0 all cases pass, 1 mismatches, 2 unreadable tables.
//   jitgate policy check --config F
//     compiles the policies section and reports every problem. Exit status: 0 valid, 1 invalid
//     or unreadable (like check-config).
//   Every command takes --json; usage errors exit 2 (cli/command.h).
#include <boost/json.hpp>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/command.h"
#include "cli/output.h"
#include "cli/policy_json.h"
#include "config/node.h"
#include "identity/verifier.h"
#include "mask/settings.h"
#include "net/http.h"
#include "policy/golden.h"
#include "policy/policy.h"
#include "server/lineage_rules.h"
#include "sql/classifier.h"

namespace jg::cli {
namespace {

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out.empty() ? "-" : out;
}

Result<identity::Identity> resolveIdentity(const std::string& as, const config::Node& root) {
  std::string text = as;
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.pop_back();
  }
  if (!text.empty() && text.front() == '{') {
    return policy::parseIdentityJson(text);
  }
  config::Errors errors;
  identity::Settings settings = identity::parseSettings(root["identity"], errors);
  if (!errors.empty()) {
    return invalidArgument("cannot verify a token: " + errors.joined());
  }
  auto verifier =
      identity::Verifier::create(settings, Clock::system(), std::make_shared<net::HttpClient>());
  if (!verifier) {
    return verifier.status();
  }
  return (*verifier)->verify(text);
}

std::optional<std::chrono::system_clock::time_point> parseAt(const std::string& s) {
  if (s.empty()) {
    return std::chrono::system_clock::now();
  }
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

void printStatement(const sql::Statement& st, const sql::Resolved& r) {
  std::cout << "statement: " << st.text << "\n";
  std::cout << "  kind:      " << sql::kindName(st.kind);
  if (st.explained != sql::Kind::kUnknown) {
    std::cout << " (of " << sql::kindName(st.explained) << ")";
  }
  std::cout << "\n  does:      " << st.kinds.toString() << (st.writes ? " [writes]" : "")
            << (st.locks ? " [locks]" : "") << "\n";
  std::vector<std::string> tables;
  for (const auto& t : r.tables) {
    tables.push_back(t.qualified() + (t.write ? " (write)" : ""));
  }
  std::cout << "  tables:    " << list(tables) << "\n";
  std::cout << "  columns:   " << list(st.columns) << "\n";
  std::cout << "  functions: " << list(st.functions) << "\n";
  if (!st.settings.empty()) {
    std::cout << "  settings:  " << list(st.settings) << "\n";
  }
  for (const auto& v : st.setting_values) {
    std::cout << "  value:     " << v.name << " = "
              << (v.value ? "'" + *v.value + "'" : "(not a constant)") << "\n";
  }
}

std::string sourcesOf(const sql::Lineage& l, const sql::SourceIds& ids) {
  std::vector<std::string> names;
  for (uint32_t id : ids) {
    names.push_back(l.sources[id].everything() ? "*" : l.sources[id].qualified());
  }
  return list(names);
}

// What each output column is computed from, the column rule it reaches, and the masking checks
// made before the statement runs (function allowlists, through_expressions: refuse).
bool printMasking(const sql::Statement& st, const sql::SessionContext& ctx,
                  const std::vector<mask::ColumnRule>& rules) {
  const sql::Statement* rows = server::rowSource(st, ctx);
  const sql::Lineage& l = rows != nullptr ? rows->lineage : st.lineage;
  for (size_t i = 0; i < l.outputs.size(); ++i) {
    const sql::OutputColumn& o = l.outputs[i];
    server::Reach r = server::reach(rules, l, o.sources, ctx);
    std::cout << (i == 0 ? "  outputs:   " : "             ") << i + 1 << " "
              << (o.expands ? "*" : o.name) << " <- " << sourcesOf(l, o.sources)
              << (o.plain ? " (plain column)" : "");
    if (r.strictest != nullptr) {
      std::cout << " [rule " << server::ruleColumn(*r.strictest) << ": "
                << mask::strategyName(r.strictest->strategy)
                << (r.refusing != nullptr ? ", refuses expressions" : "") << "]";
    }
    std::cout << "\n";
  }
  for (const mask::ColumnRule& r : rules) {
    if (r.functions) {
      std::cout << "  functions: " << server::ruleColumn(r) << " allows " << list(*r.functions)
                << "\n";
    }
  }
  Status check = server::checkStatement(rules, st, ctx);
  if (!check) {
    std::cout << "  masking:   refused (42501): " << check.message() << "\n";
  }
  return check.isOk();
}

void printDecision(const policy::Decision& d, bool http = false) {
  std::cout << "decision: " << policy::effectName(d.effect) << " — " << d.message() << "\n";
  if (!d.detail.empty()) {
    std::cout << "  detail:   " << d.detail << "\n";
  }
  if (d.allowed() && http) {
    std::string items = d.items_path.empty() ? "$" : std::string(d.items_path);
    std::cout << "  role: " << (d.role.empty() ? "-" : d.role)
              << ", mask: " << (d.mask_profile.empty() ? "default" : d.mask_profile)
              << ", max items: "
              << (d.max_items ? std::to_string(d.max_items) + " at " + items : "none")
              << ", max bytes: "
              << (d.max_response_bytes ? std::to_string(d.max_response_bytes) : "none") << "\n";
  } else if (d.allowed()) {
    std::cout << "  role: " << (d.role.empty() ? "-" : d.role)
              << ", mask: " << (d.mask_profile.empty() ? "default" : d.mask_profile)
              << ", row limit: " << (d.row_limit ? std::to_string(d.row_limit) : "none")
              << (d.read_only ? ", read-only" : "") << "\n";
  }
  if (d.review != nullptr) {
    std::cout << "  review: " << d.review->approver_count << " of ["
              << list(d.review->approver_groups) << "], grant " << d.review->grant.count() << "s, "
              << (d.review->mode == policy::ReviewSpec::Mode::kWait ? "wait" : "fail fast") << ", "
              << (d.review->scope == policy::ReviewSpec::Scope::kSession ? "session" : "statement")
              << " scope\n";
  }
}

int runExplainHttp(const ExplainOptions& o, const policy::Policy& policy,
                   const identity::Identity& who, std::chrono::system_clock::time_point now) {
  auto hc = policy::parseHttpCase(o.http, o.body);
  if (!hc) {
    std::cerr << "--http: " << hc.status().message() << "\n";
    return 2;
  }
  std::cout << "\nrequest: " << hc->method << " " << hc->path << "\n";
  for (const auto& [k, v] : hc->query) {
    std::cout << "  query:   " << k << " = '" << v << "'\n";
  }
  std::cout << "  body:    "
            << (hc->body.empty() ? "none"
                : hc->json       ? "JSON, " + std::to_string(hc->body.size()) + " bytes"
                                 : "not JSON, " + std::to_string(hc->body.size()) + " bytes")
            << "\n";
  policy::HttpFacts facts = hc->facts();
  policy::Explanation ex = policy.explainHttp(
      who, o.resource, policy::HttpRequest{.facts = facts, .now = now, .granted = o.granted});
  std::cout << "rules:\n";
  for (const auto& l : ex.lines) {
    std::cout << "  " << l << "\n";
  }
  printDecision(ex.decision, /*http=*/true);
  return ex.decision.allowed() ? 0 : 1;
}

// What every explanation needs, loaded and checked once.
struct Prepared {
  std::optional<config::Node> root;  // set by prepare()
  std::shared_ptr<const policy::Policy> policy;
  identity::Identity who;
  std::chrono::system_clock::time_point now;
  std::vector<std::string> search_path{"$user", "public"};
};

// Returns nullopt when ready, else the exit status of the problem it reported.
std::optional<int> prepare(const ExplainOptions& o, Prepared& p) {
  if (o.sql.empty() == o.http.empty()) {
    throw CLI::ValidationError("policy explain", "give either --sql or --http");
  }
  if (!o.body.empty() && o.http.empty()) {
    throw CLI::ValidationError("--body", "goes with --http");
  }
  auto root = config::Node::loadFile(o.config_file);
  if (!root) {
    std::cerr << root.status().message() << "\n";
    return 2;
  }
  p.root = *root;
  config::Errors errors;
  auto policy = policy::Policy::compile((*p.root)["policies"], errors);
  if (!policy) {
    std::cerr << errors.joined() << "\n";
    return 2;
  }
  p.policy = *policy;
  auto who = resolveIdentity(o.as, *p.root);
  if (!who) {
    std::cerr << "identity: " << who.status().message() << "\n";
    return 2;
  }
  p.who = std::move(*who);
  auto now = parseAt(o.at);
  if (!now) {
    throw CLI::ValidationError("--at", "expected a UTC time like 2024-06-05T10:00:00Z");
  }
  p.now = *now;
  if (!o.search_path.empty()) {
    p.search_path.clear();
    std::stringstream ss(o.search_path);
    for (std::string s; std::getline(ss, s, ',');) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      p.search_path.push_back(s);
    }
  }
  return std::nullopt;
}

int runExplain(const ExplainOptions& o) {
  Prepared p;
  if (auto failed = prepare(o, p)) {
    return *failed;
  }
  if (o.json) {
    return runExplainJson(o, *p.root, *p.policy, p.who, p.now, p.search_path);
  }
  const auto& who = p.who;
  std::cout << "identity: " << who.display() << " groups [" << list(who.groups) << "]"
            << (who.client_id.empty() ? "" : " client " + who.client_id) << "\n";
  std::cout << "resource: " << o.resource << "\n";
  if (!o.http.empty()) {
    return runExplainHttp(o, *p.policy, who, p.now);
  }
  sql::Classifier classifier(16);
  auto c = classifier.classify(o.sql);
  if (!c->status.isOk()) {
    std::cout << "does not parse (42601): " << c->status.message() << " at character "
              << c->error_position << "\ndecision: deny\n";
    return 1;
  }
  sql::SessionContext ctx(p.search_path);
  int worst = 0;
  for (const auto& st : c->statements) {
    sql::Resolved r;
    ctx.resolve(st, r);
    std::cout << "\n";
    printStatement(st, r);
    policy::Explanation ex =
        p.policy->explain(who, o.resource, policy::Request{r, p.now, o.granted});
    std::cout << "rules:\n";
    for (const auto& l : ex.lines) {
      std::cout << "  " << l << "\n";
    }
    printDecision(ex.decision);
    bool masking_ok = true;
    if (ex.decision.allowed()) {
      masking_ok = printMasking(st, ctx, profileRules(*p.root, ex.decision.mask_profile));
    }
    worst = std::max(worst, ex.decision.allowed() && masking_ok ? 0 : 1);
    ctx.apply(st, c);
  }
  if (c->statements.size() > 1) {
    policy::Binding b = p.policy->bind(who, o.resource, p.now);
    sql::SessionContext batch_ctx(p.search_path);
    std::cout << "\nwhole string: ";
    printDecision(p.policy->evaluateBatch(b, c, batch_ctx, p.now, o.granted));
  }
  return worst;
}

int runTest(const std::string& dir, bool json) {
  auto report = policy::runGoldenDir(dir);
  if (!report) {
    std::cerr << report.status().message() << "\n";
    return 2;
  }
  const int failed = static_cast<int>(report->failures.size());
  if (json) {
    boost::json::object out{
        {"files", report->files},
        {"cases", report->cases},
        {"passed", report->cases - failed},
        {"failed", failed},
        {"failures", boost::json::array(report->failures.begin(), report->failures.end())}};
    std::cout << boost::json::serialize(out) << "\n";
    return failed == 0 ? 0 : 1;
  }
  for (const auto& f : report->failures) {
    std::cout << f << "\n";
  }
  std::cout << report->files << " files, " << report->cases << " cases: " << report->cases - failed
            << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

int runCheck(const std::string& file, bool json) {
  auto root = config::Node::loadFile(file);
  config::Errors errors;
  std::shared_ptr<const policy::Policy> compiled;
  if (root) {
    auto policy = policy::Policy::compile((*root)["policies"], errors);
    if (policy) {
      compiled = *policy;
    }
  }
  const std::string problems = root ? errors.joined() : root.status().message();
  if (json) {
    boost::json::object out{{"file", file}, {"ok", compiled != nullptr}};
    if (compiled) {
      out["rules"] = compiled->ruleCount();
    } else {
      out["errors"] = jsonLines(problems);
    }
    std::cout << boost::json::serialize(out) << "\n";
  }
  if (!compiled) {
    std::cerr << problems << "\n";
    return 1;
  }
  if (!json) {
    std::cout << "policy ok: " << compiled->ruleCount() << " rules (built-ins included)\n";
  }
  return 0;
}

void addPolicy(CLI::App& app) {
  auto* cmd = app.add_subcommand("policy", "Explain, test and check access policies");
  cmd->require_subcommand(1);

  auto eo = std::make_shared<ExplainOptions>();
  auto* explain =
      cmd->add_subcommand("explain", "Show how a statement or an HTTP request is decided");
  explain->add_option("-c,--config", eo->config_file, "Gateway configuration file")->required();
  explain->add_option("--as", eo->as, "Identity JSON, an access token, or - for stdin")->required();
  explain->add_option("--resource", eo->resource, "Resource (database name)")->required();
  explain->add_option("--sql", eo->sql, "The query text");
  explain->add_option("--http", eo->http,
                      "An HTTP request instead: 'POST /collections/docs/points/search?x=1'");
  explain->add_option("--body", eo->body, "The HTTP request's body (with --http)");
  explain->add_option("--search-path", eo->search_path, "Server default search_path");
  explain->add_option("--at", eo->at, "Evaluation time (UTC, 2024-06-05T10:00:00Z)");
  explain->add_option("--granted", eo->granted, "Review rule ids with an active approval");
  explain->add_flag("--json", eo->json,
                    "Print one JSON object: identity, statements (or request), decisions");
  explain->callback([eo] { setExitCode(runExplain(*eo)); });

  struct TestOptions {
    std::string dir;
    bool json = false;
  };
  auto to = std::make_shared<TestOptions>();
  auto* test = cmd->add_subcommand("test", "Run golden tables (<name>.rules + <name>.eval)");
  test->add_option("dir", to->dir, "Directory of golden tables")->required();
  test->add_flag("--json", to->json, "Print one JSON object: files, cases, passed, failures");
  test->callback([to] { setExitCode(runTest(to->dir, to->json)); });

  struct CheckOptions {
    std::string file;
    bool json = false;
  };
  auto co = std::make_shared<CheckOptions>();
  auto* check = cmd->add_subcommand("check", "Compile the policies of a configuration file");
  check->add_option("-c,--config", co->file, "Gateway configuration file")->required();
  check->add_flag("--json", co->json, "Print one JSON object: ok, rules or errors");
  check->callback([co] { setExitCode(runCheck(co->file, co->json)); });
}

}  // namespace

JITGATE_COMMAND(addPolicy);

}  // namespace jg::cli
