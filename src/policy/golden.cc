#include "policy/golden.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <span>
#include <sstream>

#include "policy/policy.h"
#include "sql/classifier.h"

namespace jg::policy {

namespace json = boost::json;

namespace {

std::optional<std::chrono::system_clock::time_point> parseTime(const std::string& s) {
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) {
    return std::nullopt;
  }
  char z = 0;
  if (!(in >> z) || z != 'Z') {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == 't')) {
      out += s[i + 1] == 'n' ? '\n' : '\t';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Splits off the next whitespace-separated token of `rest`.
std::string nextToken(std::string_view& rest) {
  size_t b = rest.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    rest = {};
    return {};
  }
  size_t e = rest.find_first_of(" \t", b);
  std::string tok(rest.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
  rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e);
  return tok;
}

struct Scenario {
  std::shared_ptr<const Policy> policy;
  std::map<std::string, identity::Identity> identities;
  std::vector<std::string> search_path{"$user", "public"};
  std::chrono::system_clock::time_point now{};
};

Result<Scenario> loadRules(const std::string& path) {
  auto root = config::Node::loadFile(path);
  if (!root) {
    return root.status();
  }
  config::Errors errors;
  root->checkKeys(errors, {"policies", "identities", "search_path", "now"});
  Scenario sc;
  const config::Node ids = (*root)["identities"];
  if (ids.defined() && ids.isMap()) {
    for (const auto& k : ids.keys()) {
      sc.identities[k] = identityFromNode(ids[k], errors);
    }
  }
  if ((*root)["search_path"].defined()) {
    sc.search_path = (*root)["search_path"].strings(errors);
  }
  std::string now = (*root)["now"].str(errors, "2024-06-05T10:00:00Z");
  if (auto t = parseTime(now)) {
    sc.now = *t;
  } else {
    errors.add((*root)["now"], "expected an RFC 3339 UTC time like 2024-06-05T10:00:00Z");
  }
  auto policy = Policy::compile((*root)["policies"], errors);
  if (!errors.empty()) {
    return invalidArgument(errors.joined());
  }
  sc.policy = std::move(*policy);
  return sc;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string percentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = s[i] == '%' && i + 2 < s.size() ? hexValue(s[i + 1]) : -1;
    int lo = hi >= 0 ? hexValue(s[i + 2]) : -1;
    if (lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    size_t eq = part.find('=');
    if (!part.empty()) {
      out.emplace_back(percentDecoded(part.substr(0, eq)),
                       eq == std::string_view::npos ? "" : percentDecoded(part.substr(eq + 1)));
    }
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
  }
  return out;
}

// Decides one golden case's text on a bound session: an HTTP request or SQL.
Result<Decision> decideCase(const Scenario& sc, const Binding& b, sql::Classifier& classifier,
                            sql::SessionContext& ctx, const std::string& text,
                            std::chrono::system_clock::time_point now,
                            std::span<const std::string> granted) {
  if (text.starts_with("MCP ")) {
    auto mc = parseMcpCase(text);
    if (!mc) {
      return mc.status();
    }
    HttpFacts f = mc->facts();
    return sc.policy->evaluateHttp(b, HttpRequest{.facts = f, .now = now, .granted = granted});
  }
  if (looksLikeHttp(text)) {
    std::string_view rest = text;
    std::string method = nextToken(rest);
    std::string target = nextToken(rest);
    size_t b0 = std::min(rest.find_first_not_of(" \t"), rest.size());
    auto hc = parseHttpCase(method + " " + target, rest.substr(b0));
    if (!hc) {
      return hc.status();
    }
    HttpFacts f = hc->facts();
    return sc.policy->evaluateHttp(b, HttpRequest{.facts = f, .now = now, .granted = granted});
  }
  auto c = classifier.classify(text);
  Decision d = sc.policy->evaluateBatch(b, c, ctx, now, granted);
  if (d.allowed()) {
    ctx.applyAll(c);
  }
  return d;
}

std::string outcome(const Decision& d) {
  std::string e = d.sqlstate == "42601" ? "error" : std::string(effectName(d.effect));
  return e + "@" + std::string(d.rule_id);
}

}  // namespace

HttpFacts HttpCase::facts() const {
  return HttpFacts{.method = method,
                   .path = path,
                   .query = query,
                   .body = json ? &*json : nullptr,
                   .body_present = !body.empty(),
                   .mcp = mcp,
                   .rpc_method = rpc_method,
                   .tool = tool};
}

Result<HttpCase> parseMcpCase(std::string_view text) {
  std::string_view rest = text;
  HttpCase mc;
  mc.method = nextToken(rest);
  mc.rpc_method = nextToken(rest);
  if (mc.method != "MCP" || mc.rpc_method.empty()) {
    return invalidArgument("expected an MCP message like 'MCP tools/call echo {...}', got '" +
                           std::string(text) + "'");
  }
  mc.mcp = true;
  mc.path = "/" + mc.rpc_method;
  if (mc.rpc_method == "tools/call") {
    mc.tool = nextToken(rest);
    mc.path += "/" + mc.tool;
  }
  size_t b0 = std::min(rest.find_first_not_of(" \t"), rest.size());
  mc.body = std::string(rest.substr(b0));
  if (!mc.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(mc.body, ec);
    if (!ec) {
      mc.json = std::move(v);
    }
  }
  return mc;
}

Result<HttpCase> parseHttpCase(std::string_view request_line, std::string_view body) {
  std::string_view rest = request_line;
  HttpCase hc;
  hc.method = nextToken(rest);
  std::string target = nextToken(rest);
  if (!nextToken(rest).empty() || hc.method.empty() || !target.starts_with('/')) {
    return invalidArgument(
        "expected an HTTP request like 'POST /collections/x/points/search', "
        "got '" +
        std::string(request_line) + "'");
  }
  for (char& c : hc.method) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  size_t q = target.find('?');
  hc.path = target.substr(0, q);
  if (q != std::string::npos) {
    hc.query = parseQuery(std::string_view(target).substr(q + 1));
  }
  hc.body = std::string(body);
  if (!hc.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(hc.body, ec);
    if (!ec) {
      hc.json = std::move(v);
    }
  }
  return hc;
}

bool looksLikeHttp(std::string_view text) {
  for (std::string_view m : {"GET ", "HEAD ", "POST ", "PUT ", "PATCH ", "DELETE ", "OPTIONS "}) {
    if (text.starts_with(m)) {
      std::string_view target = text.substr(m.size());
      return target.starts_with('/') && !target.starts_with("/*");
    }
  }
  return false;
}

identity::Identity identityFromNode(const config::Node& node, config::Errors& errors) {
  node.checkKeys(errors, {"sub", "email", "groups", "client_id", "name"});
  identity::Identity id;
  id.subject = node["sub"].str(errors);
  id.email = node["email"].str(errors);
  id.name = node["name"].str(errors);
  id.groups = node["groups"].strings(errors);
  id.client_id = node["client_id"].str(errors);
  id.service_account = !id.client_id.empty() && id.email.empty();
  return id;
}

Result<identity::Identity> parseIdentityJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return invalidArgument("identity is not a JSON object");
  }
  identity::Identity id;
  const json::object& o = v.get_object();
  auto str = [&](std::string_view k) -> std::string {
    const json::value* x = o.if_contains(k);
    return x != nullptr && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  id.subject = str("sub");
  id.email = str("email");
  id.name = str("name");
  id.client_id = str("client_id");
  if (id.client_id.empty()) {
    id.client_id = str("azp");
  }
  id.issuer = str("iss");
  if (const json::value* g = o.if_contains("groups"); g != nullptr && g->is_array()) {
    for (const auto& x : g->get_array()) {
      if (x.is_string()) {
        id.groups.emplace_back(x.get_string());
      }
    }
  }
  if (id.subject.empty() && id.client_id.empty()) {
    return invalidArgument("identity needs \"sub\" or \"client_id\"");
  }
  return id;
}

Result<GoldenReport> runGoldenDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> rules;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".rules") {
      rules.push_back(e.path());
    }
  }
  if (ec) {
    return invalidArgument("cannot read " + dir + ": " + ec.message());
  }
  std::sort(rules.begin(), rules.end());
  GoldenReport report;
  sql::Classifier classifier(4096);
  for (const auto& rpath : rules) {
    fs::path epath = rpath;
    epath.replace_extension(".eval");
    std::ifstream eval(epath);
    if (!eval) {
      return invalidArgument("missing " + epath.string() + " for " + rpath.string());
    }
    auto sc = loadRules(rpath.string());
    if (!sc) {
      return sc.status();
    }
    ++report.files;
    std::string line;
    int lineno = 0;
    sql::SessionContext ctx(sc->search_path);
    Binding binding;
    std::string ename = epath.filename().string();
    while (std::getline(eval, line)) {
      ++lineno;
      std::string_view rest = line;
      std::string expect = nextToken(rest);
      if (expect.empty() || expect[0] == '#') {
        continue;
      }
      bool cont = expect[0] == '+';
      if (cont) {
        expect.erase(0, 1);
      }
      std::string who = nextToken(rest);
      std::string resource = nextToken(rest);
      auto now = sc->now;
      std::vector<std::string> granted;
      auto where = ename + ":" + std::to_string(lineno) + ": ";
      while (true) {
        std::string_view peek = rest;
        std::string tok = nextToken(peek);
        if (tok.starts_with("at=")) {
          auto t = parseTime(tok.substr(3));
          if (!t) {
            return invalidArgument(where + "bad time " + tok);
          }
          now = *t;
        } else if (tok.starts_with("granted=")) {
          std::stringstream ids(tok.substr(8));
          for (std::string id; std::getline(ids, id, ',');) {
            granted.push_back(id);
          }
        } else {
          break;
        }
        rest = peek;
      }
      std::string text =
          unescape(rest.substr(std::min(rest.find_first_not_of(" \t"), rest.size())));
      auto idit = sc->identities.find(who);
      if (idit == sc->identities.end() || resource.empty() || text.empty()) {
        return invalidArgument(where +
                               "expected '<expect> <identity> <resource> <sql or HTTP request>' "
                               "with an identity from the rules file");
      }
      ++report.cases;
      if (!cont) {
        ctx = sql::SessionContext(sc->search_path);
      }
      binding = sc->policy->bind(idit->second, resource, now);
      Decision d = binding.session;
      bool approved = d.effect == Effect::kReview &&
                      std::find(granted.begin(), granted.end(), d.rule_id) != granted.end();
      if (d.effect == Effect::kAllow || approved) {
        auto decided = decideCase(*sc, binding, classifier, ctx, text, now, granted);
        if (!decided) {
          return invalidArgument(where + decided.status().message());
        }
        d = std::move(*decided);
      }
      std::string got = outcome(d);
      bool ok =
          expect.find('@') == std::string::npos ? got.starts_with(expect + "@") : got == expect;
      if (!ok) {
        report.failures.push_back(where + "expected " + expect + ", got " + got + " (" +
                                  d.message() + (d.detail.empty() ? "" : "; " + d.detail) +
                                  ") for: " + text);
      }
    }
  }
  if (report.files == 0) {
    return invalidArgument("no <name>.rules files in " + dir);
  }
  return report;
}

}  // namespace jg::policy
