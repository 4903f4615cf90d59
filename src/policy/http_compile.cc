// Compiling the HTTP conditions of a rule: methods, path templates, path and query parameters,
// JSON body conditions, and response limits. Every problem names its file, line and key.
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <set>

#include "policy/http_rule.h"

namespace jg::policy {

namespace json = boost::json;

namespace {

bool isVariableName(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

bool isMethodToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

std::optional<PathTemplate::Segment> parseSegment(std::string_view seg, bool last,
                                                  std::string& error) {
  using Kind = PathTemplate::Segment::Kind;
  if (seg == "**") {
    if (!last) {
      error = "'**' may only be the last segment";
      return std::nullopt;
    }
    return PathTemplate::Segment{.kind = Kind::kRest, .text = "**"};
  }
  if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
    std::string_view name = seg.substr(1, seg.size() - 2);
    if (!isVariableName(name)) {
      error = "'" + std::string(seg) + "' is not a variable like {name}";
      return std::nullopt;
    }
    return PathTemplate::Segment{.kind = Kind::kVariable, .text = std::string(name)};
  }
  if (seg.find_first_of("{}") != std::string_view::npos) {
    error = "a variable takes a whole segment: '" + std::string(seg) + "'";
    return std::nullopt;
  }
  if (seg.find("**") != std::string_view::npos) {
    error = "'**' takes a whole segment: '" + std::string(seg) + "'";
    return std::nullopt;
  }
  Kind k = seg.find_first_of("*?[") == std::string_view::npos ? Kind::kLiteral : Kind::kGlob;
  return PathTemplate::Segment{.kind = k, .text = std::string(seg)};
}

std::optional<json::value> scalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() != "?") {
    return json::value(s);  // quoted, or an explicit tag: a string
  }
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return json::value(nullptr);
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return json::value(true);
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return json::value(false);
  }
  int64_t i = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && end == s.data() + s.size()) {
    return json::value(i);
  }
  char* dend = nullptr;
  double d = std::strtod(s.c_str(), &dend);
  bool numeric = std::isdigit(static_cast<unsigned char>(s.back())) &&
                 s.find_first_of("xXnN") == std::string::npos;
  if (dend == s.c_str() + s.size() && numeric) {
    return json::value(d);
  }
  return json::value(s);
}

// Every path template must name the variable a path_params key constrains.
void checkPathParams(const config::Node& node, config::Errors& errors, const HttpConditions& c) {
  for (const auto& [name, globs] : c.path_params) {
    if (c.paths.empty()) {
      errors.add(node, "path_params needs paths: with a {" + name + "} segment");
      continue;
    }
    for (const auto& t : c.paths) {
      bool has = false;
      for (const auto& s : t.segments) {
        has = has || (s.kind == PathTemplate::Segment::Kind::kVariable && s.text == name);
      }
      if (!has) {
        errors.add(node[name], "path template " + t.text + " has no {" + name + "} segment");
      }
    }
  }
}

std::vector<std::pair<std::string, std::vector<std::string>>> parseGlobMap(const config::Node& n,
                                                                           config::Errors& errors) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  if (!n.defined()) {
    return out;
  }
  if (!n.isMap()) {
    errors.add(n, "expected a mapping of name: [globs]");
    return out;
  }
  for (const auto& k : n.keys()) {
    auto globs = n[k].strings(errors);
    if (globs.empty()) {
      errors.add(n[k], "expected at least one glob");
    }
    out.emplace_back(k, std::move(globs));
  }
  return out;
}

std::optional<double> parseBound(const config::Node& n, config::Errors& errors) {
  if (!n.defined()) {
    return std::nullopt;
  }
  std::optional<json::value> v;
  if (n.isScalar()) {
    v = scalarToJson(n.raw());
  }
  if (!v || !v->is_number()) {
    errors.add(n, "expected a number");
    return std::nullopt;
  }
  return v->to_number<double>();
}

bool hasOperator(const BodyCondition& c) {
  return c.min || c.max || c.equals || c.has_in || c.glob || c.absent;
}

BodyCondition parseBodyCondition(const config::Node& n, config::Errors& errors) {
  BodyCondition c;
  n.checkKeys(errors, {"pointer", "min", "max", "equals", "in", "glob", "absent", "optional"});
  c.pointer = n["pointer"].requiredStr(errors);
  if (auto t = parseJsonPointer(c.pointer)) {
    c.tokens = std::move(*t);
  } else if (n["pointer"].defined()) {
    errors.add(n["pointer"], "'" + c.pointer + "' is not a JSON pointer like /filter/must/0");
  }
  c.min = parseBound(n["min"], errors);
  c.max = parseBound(n["max"], errors);
  if (c.min && c.max && *c.min > *c.max) {
    errors.add(n["min"], "min is above max");
  }
  if (n["equals"].defined() || n.has("equals")) {
    c.equals = yamlToJson(n["equals"].raw());
  }
  if (n["in"].defined()) {
    c.has_in = true;
    if (!n["in"].isSequence()) {
      errors.add(n["in"], "expected a list of values");
    } else {
      for (size_t i = 0; i < n["in"].size(); ++i) {
        c.in.push_back(yamlToJson(n["in"].at(i).raw()));
      }
    }
  }
  if (n["glob"].defined()) {
    c.glob = n["glob"].str(errors);
  }
  c.optional = n["optional"].boolean(errors, false);
  bool absent = n["absent"].boolean(errors, false);
  if (absent && (c.min || c.max || c.equals || c.has_in || c.glob || c.optional)) {
    errors.add(n["absent"], "absent: true takes no other operator");
  }
  c.absent = absent;
  if (!hasOperator(c) && !n["absent"].defined()) {
    errors.add(n, "a body condition needs min, max, equals, in, glob or absent");
  }
  return c;
}

void parseBody(const config::Node& n, config::Errors& errors, std::vector<BodyCondition>& out) {
  if (!n.defined()) {
    return;
  }
  if (!n.isSequence()) {
    errors.add(n, "expected a list of { pointer: /x, <operator>: ... }");
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    config::Node e = n.at(i);
    if (!e.isMap()) {
      errors.add(e, "expected { pointer: /x, <operator>: ... }");
      continue;
    }
    out.push_back(parseBodyCondition(e, errors));
  }
}

}  // namespace

std::optional<PathTemplate> parsePathTemplate(std::string_view text, std::string& error) {
  if (!text.starts_with('/')) {
    error = "'" + std::string(text) + "' does not start with /";
    return std::nullopt;
  }
  PathTemplate t;
  t.text = std::string(text);
  if (text == "/") {
    return t;  // the root: no segment
  }
  std::set<std::string> vars;
  std::string_view rest = text.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    auto s = parseSegment(seg, slash == std::string_view::npos, error);
    if (!s) {
      return std::nullopt;
    }
    if (s->kind == PathTemplate::Segment::Kind::kVariable && !vars.insert(s->text).second) {
      error = "variable {" + s->text + "} appears twice";
      return std::nullopt;
    }
    t.segments.push_back(std::move(*s));
    if (slash == std::string_view::npos) {
      break;
    }
    rest = rest.substr(slash + 1);
  }
  return t;
}

std::optional<std::vector<std::string>> parseJsonPointer(std::string_view text) {
  std::vector<std::string> tokens;
  if (text.empty()) {
    return tokens;  // the whole document
  }
  if (text.front() != '/') {
    return std::nullopt;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '/') {
      tokens.emplace_back();
    } else if (c == '~') {
      if (i + 1 >= text.size() || (text[i + 1] != '0' && text[i + 1] != '1')) {
        return std::nullopt;
      }
      tokens.back() += text[++i] == '0' ? '~' : '/';
    } else {
      tokens.back() += c;
    }
  }
  return tokens;
}

std::optional<int64_t> parseByteSize(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || n < 0) {
    return std::nullopt;
  }
  std::string unit(end, text.data() + text.size());
  while (!unit.empty() && unit.front() == ' ') {
    unit.erase(0, 1);
  }
  for (char& c : unit) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  int shift = unit.empty() || unit == "B"                    ? 0
              : unit == "KB" || unit == "KIB" || unit == "K" ? 10
              : unit == "MB" || unit == "MIB" || unit == "M" ? 20
              : unit == "GB" || unit == "GIB" || unit == "G" ? 30
                                                             : -1;
  if (shift < 0 || n > (int64_t{1} << (62 - shift))) {
    return std::nullopt;
  }
  return n << shift;
}

json::value yamlToJson(const YAML::Node& n) {
  if (n.IsSequence()) {
    json::array a;
    for (const auto& e : n) {
      a.push_back(yamlToJson(e));
    }
    return a;
  }
  if (n.IsMap()) {
    json::object o;
    for (const auto& kv : n) {
      o[kv.first.Scalar()] = yamlToJson(kv.second);
    }
    return o;
  }
  if (n.IsScalar()) {
    return *scalarToJson(n);
  }
  return nullptr;
}

void parseHttpMatch(const config::Node& m, config::Errors& errors, HttpConditions& out) {
  for (auto method : m["methods"].strings(errors)) {
    for (char& c : method) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (!isMethodToken(method)) {
      errors.add(m["methods"], "'" + method + "' is not an HTTP method like GET or POST");
    }
    out.methods.push_back(std::move(method));
  }
  for (const auto& p : m["paths"].strings(errors)) {
    std::string error;
    if (auto t = parsePathTemplate(p, error)) {
      out.paths.push_back(std::move(*t));
    } else {
      errors.add(m["paths"], "path template " + error);
    }
  }
  out.path_params = parseGlobMap(m["path_params"], errors);
  checkPathParams(m["path_params"], errors, out);
  out.query = parseGlobMap(m["query"], errors);
  parseBody(m["body"], errors, out.body);
}

void parseMcpMatch(const config::Node& m, config::Errors& errors, HttpConditions& out) {
  if (!m["mcp_methods"].defined() && !m["tools"].defined() && !m["arguments"].defined()) {
    return;
  }
  if (out.any()) {
    errors.add(m,
               "a rule has HTTP conditions (methods, paths, path_params, query, body) or MCP "
               "conditions (mcp_methods, tools, arguments), not both");
  }
  out.mcp = true;
  out.mcp_methods = m["mcp_methods"].strings(errors);
  out.tools = m["tools"].strings(errors);
  if (m["mcp_methods"].defined() && out.mcp_methods.empty()) {
    errors.add(m["mcp_methods"], "expected at least one method glob like tools/call");
  }
  if (m["tools"].defined() && out.tools.empty()) {
    errors.add(m["tools"], "expected at least one tool name glob");
  }
  parseBody(m["arguments"], errors, out.body);
}

ResponseLimits parseResponseLimits(const config::Node& n, config::Errors& errors) {
  ResponseLimits l;
  if (!n.defined()) {
    return l;
  }
  if (!n.isMap()) {
    errors.add(n, "expected { max_items: N, items: $.path, max_bytes: 10MB }");
    return l;
  }
  n.checkKeys(errors, {"max_items", "items", "max_bytes"});
  l.max_items = n["max_items"].integer(errors, 0, 0, int64_t{1} << 40);
  std::string items = n["items"].str(errors, "$");
  if (!items.starts_with('$') || (items.size() > 1 && items[1] != '.' && items[1] != '[')) {
    errors.add(n["items"], "expected a JSON path like $.result or $ (the top-level array)");
  }
  l.items = items == "$" ? "" : items;
  if (n["items"].defined() && l.max_items == 0) {
    errors.add(n["items"], "items names the array max_items counts; give max_items too");
  }
  if (n["max_bytes"].defined()) {
    std::string text = n["max_bytes"].str(errors);
    if (auto b = parseByteSize(text)) {
      l.max_bytes = *b;
    } else {
      errors.add(n["max_bytes"], "expected a size like 10MB, 512KiB or a number of bytes");
    }
  }
  return l;
}

}  // namespace jg::policy
