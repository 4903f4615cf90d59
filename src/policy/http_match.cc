// Matching one rule's HTTP conditions against the facts of an HTTP request.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdint>
#include <limits>

#include "policy/match.h"

namespace jg::policy::detail {

namespace json = boost::json;

namespace {

using Segment = PathTemplate::Segment;
using Captures = std::vector<std::pair<std::string_view, std::string_view>>;

// A value that holds a NUL cannot be matched by fnmatch(3): it is no match for an allow rule
// and a match for a deny or review rule (the gateway assumes the worst).
bool globHolds(const std::string& pattern, std::string_view text, Mode mode) {
  if (text.find('\0') != std::string_view::npos) {
    return mode == Mode::kAny;
  }
  return globMatch(pattern, std::string(text));
}

bool anyGlobHolds(const std::vector<std::string>& globs, std::string_view text, Mode mode) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return globHolds(g, text, mode); });
}

std::string listOf(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? ", " : "") + v[i];
  }
  return out + "]";
}

std::string shown(const json::value& v) {
  std::string s = json::serialize(v);
  return s.size() > 64 ? s.substr(0, 61) + "..." : s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string_view> segmentsOf(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) {
    path.remove_prefix(1);
  }
  if (path.empty()) {
    return out;
  }
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

bool templateMatches(const PathTemplate& t, const std::vector<std::string_view>& segs, Mode mode,
                     Captures& captures) {
  captures.clear();
  size_t i = 0;
  for (const Segment& s : t.segments) {
    if (s.kind == Segment::Kind::kRest) {
      return true;
    }
    if (i == segs.size()) {
      return false;
    }
    std::string_view seg = segs[i++];
    bool ok =
        s.kind == Segment::Kind::kLiteral
            ? seg == s.text
            : !seg.empty() && (s.kind == Segment::Kind::kVariable || globHolds(s.text, seg, mode));
    if (!ok) {
      return false;
    }
    if (s.kind == Segment::Kind::kVariable) {
      captures.emplace_back(s.text, seg);
    }
  }
  return i == segs.size();
}

// The first path parameter of `captures` outside its globs, as a message; "" when all hold.
std::string pathParamFailure(const HttpConditions& c, const Captures& captures, Mode mode) {
  for (const auto& param : c.path_params) {
    const auto& name = param.first;  // (clang 14 cannot capture a structured binding)
    const auto& globs = param.second;
    auto it = std::find_if(captures.begin(), captures.end(),
                           [&](const auto& cap) { return cap.first == name; });
    if (it == captures.end()) {
      return "path parameter " + name + " is not in the path";
    }
    if (!anyGlobHolds(globs, it->second, mode)) {
      return "path parameter " + name + " is '" + std::string(it->second) + "', not in " +
             listOf(globs);
    }
  }
  return {};
}

// Paths and path parameters: some template matches and its variables are within their globs.
std::string pathFailure(const HttpConditions& c, std::string_view path, Mode mode) {
  if (c.paths.empty()) {
    return {};
  }
  std::vector<std::string_view> segs = segmentsOf(path);
  Captures captures;
  std::string first;
  for (const auto& t : c.paths) {
    if (!templateMatches(t, segs, mode, captures)) {
      continue;
    }
    std::string why = pathParamFailure(c, captures, mode);
    if (why.empty()) {
      return {};
    }
    first = first.empty() ? why : first;
  }
  if (!first.empty()) {
    return first;
  }
  std::vector<std::string> texts;
  for (const auto& t : c.paths) {
    texts.push_back(t.text);
  }
  return "path " + std::string(path) + " matches none of " + listOf(texts);
}

// A parameter an allow rule names may be left out; when sent, every value must be within the
// globs. A deny or review rule matches a request that sends one value within them.
std::string queryFailure(const HttpConditions& c, const HttpFacts& f, Mode mode) {
  for (const auto& [name, globs] : c.query) {
    bool sent = false;
    bool hit = false;
    for (const auto& [k, v] : f.query) {
      if (k != name) {
        continue;
      }
      sent = true;
      bool in = anyGlobHolds(globs, v, mode);
      hit = hit || in;
      if (mode == Mode::kCover && !in) {
        return "query parameter " + name + " is '" + v + "', not in " + listOf(globs);
      }
    }
    if (mode == Mode::kAny && !hit) {
      return sent ? "query parameter " + name + " is not in " + listOf(globs)
                  : "query parameter " + name + " is not sent";
    }
  }
  return {};
}

// Resolves RFC 6901 reference tokens; null when a token names nothing.
const json::value* resolve(const json::value& root, const std::vector<std::string>& tokens) {
  const json::value* v = &root;
  for (const auto& t : tokens) {
    if (const json::object* o = v->if_object()) {
      v = o->if_contains(t);
    } else if (const json::array* a = v->if_array()) {
      bool digits = !t.empty() && t.size() < 10 && (t == "0" || t[0] != '0') &&
                    std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
      size_t i = digits ? std::stoul(t) : a->size();
      v = i < a->size() ? &(*a)[i] : nullptr;
    } else {
      v = nullptr;
    }
    if (v == nullptr) {
      return nullptr;
    }
  }
  return v;
}

bool jsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) {
      return a.to_number<double>() == b.to_number<double>();  // any number converts to double
    }
    boost::system::error_code ea, eb;
    auto x = a.to_number<int64_t>(ea);
    auto y = b.to_number<int64_t>(eb);
    if (ea || eb) {  // above INT64_MAX: both must be the same uint64
      return a.is_uint64() && b.is_uint64() && a.get_uint64() == b.get_uint64();
    }
    return x == y;
  }
  if (a.is_array() && b.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), jsonEqual);
  }
  if (a.is_object() && b.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    return x.size() == y.size() && std::all_of(x.begin(), x.end(), [&](const auto& kv) {
             const json::value* o = y.if_contains(kv.key());
             return o != nullptr && jsonEqual(kv.value(), *o);
           });
  }
  return a == b;
}

std::string boundFailure(const BodyCondition& c, const json::value& v) {
  std::string head = "body " + c.pointer + " is " + shown(v);
  if (!v.is_number()) {
    return head + ", not a number";
  }
  double d = v.to_number<double>();
  if (c.min && d < *c.min) {
    return head + fmt::format(", below the minimum {}", *c.min);
  }
  if (c.max && d > *c.max) {
    return head + fmt::format(", above the maximum {}", *c.max);
  }
  return {};
}

// Operators on a value the pointer resolved to.
std::string valueFailure(const BodyCondition& c, const json::value& v, Mode mode) {
  std::string head = "body " + c.pointer + " is " + shown(v);
  if (c.absent) {
    return "body " + c.pointer + " is present, and the rule requires it absent";
  }
  if (c.min || c.max) {
    std::string why = boundFailure(c, v);
    if (!why.empty()) {
      return why;
    }
  }
  if (c.equals && !jsonEqual(v, *c.equals)) {
    return head + ", not " + shown(*c.equals);
  }
  if (c.has_in && std::none_of(c.in.begin(), c.in.end(),
                               [&](const json::value& x) { return jsonEqual(v, x); })) {
    return head + ", not one of " + shown(json::value(json::array(c.in.begin(), c.in.end())));
  }
  if (c.glob && (!v.is_string() || !globHolds(*c.glob, v.get_string(), mode))) {
    return head + (v.is_string() ? ", not matching " : ", not a string matching ") + *c.glob;
  }
  return {};
}

std::string bodyFailure(const BodyCondition& c, const HttpFacts& f, Mode mode) {
  const json::value* v = f.body != nullptr ? resolve(*f.body, c.tokens) : nullptr;
  if (v == nullptr) {
    if (c.absent || c.optional) {
      return {};
    }
    return f.body == nullptr ? "body " + c.pointer + " is absent (no body)"
                             : "body " + c.pointer + " is absent";
  }
  return valueFailure(c, *v, mode);
}

// The MCP conditions: the kind of traffic, the JSON-RPC method and the tool.
std::string mcpFailure(const HttpConditions& c, const HttpFacts& f, Mode mode) {
  if (!c.any()) {
    return {};
  }
  if (c.mcp != f.mcp) {
    return c.mcp ? "the rule decides MCP messages, not HTTP requests"
                 : "the rule decides HTTP requests, not MCP messages";
  }
  if (!c.mcp) {
    return {};
  }
  if (!c.mcp_methods.empty() && !anyGlobHolds(c.mcp_methods, f.rpc_method, mode)) {
    return "MCP method " + std::string(f.rpc_method) + " is not in " + listOf(c.mcp_methods);
  }
  if (!c.tools.empty() && f.rpc_method != "tools/call") {
    return "MCP method " + std::string(f.rpc_method) + " is not tools/call";
  }
  if (!c.tools.empty() && !anyGlobHolds(c.tools, f.tool, mode)) {
    return "tool " + std::string(f.tool) + " is not in " + listOf(c.tools);
  }
  return {};
}

}  // namespace

bool isSafeMethod(std::string_view method) {
  std::string m = upper(method);
  return m == "GET" || m == "HEAD" || m == "OPTIONS";
}

int httpFailures(const Rule& r, const HttpRequest& req, Mode mode, std::vector<std::string>* why) {
  int count = 0;
  auto fail = [&](std::string s) {
    ++count;
    if (why != nullptr) {
      why->push_back(std::move(s));
    }
    return why == nullptr;  // stop at the first failure unless explaining
  };
  const HttpFacts& f = req.facts;
  const HttpConditions& c = r.http;
  if (r.hasStatementConditions() && fail("the rule has statement conditions (SQL only)")) {
    return count;
  }
  if (std::string m = mcpFailure(c, f, mode); !m.empty() && fail(std::move(m))) {
    return count;
  }
  std::string method = upper(f.method);
  if (!c.methods.empty() &&
      std::find(c.methods.begin(), c.methods.end(), method) == c.methods.end() &&
      fail("method " + method + " is not in " + listOf(c.methods))) {
    return count;
  }
  if (std::string p = pathFailure(c, f.path, mode); !p.empty() && fail(std::move(p))) {
    return count;
  }
  if (std::string q = queryFailure(c, f, mode); !q.empty() && fail(std::move(q))) {
    return count;
  }
  if (f.tool_listing && !c.body.empty()) {
    // Listing: an allow rule's argument conditions may hold later; a deny's may not.
    if (mode == Mode::kAny && fail("argument conditions are decided at the call")) {
      return count;
    }
  } else if (!c.body.empty() && f.body == nullptr && f.body_present) {
    // The gateway cannot read it: no allow rule's body condition holds; deny and review's do.
    if (mode == Mode::kCover && fail("the body is not JSON, and the rule has body conditions")) {
      return count;
    }
  } else {
    for (const auto& b : c.body) {
      if (std::string w = bodyFailure(b, f, mode); !w.empty() && fail(std::move(w))) {
        return count;
      }
    }
  }
  if (mode == Mode::kCover && r.read_only && !isSafeMethod(f.method) &&
      fail("the rule is read-only and " + method + " is not GET, HEAD or OPTIONS")) {
    return count;
  }
  if (r.when && !r.when->contains(req.now)) {
    (void)fail("outside the time window " + r.when->describe());
  }
  return count;
}

bool httpMatches(const Rule& r, const HttpRequest& req, Mode mode) {
  return httpFailures(r, req, mode, nullptr) == 0;
}

std::string describeHttp(const HttpFacts& f) {
  return upper(f.method) + " " + std::string(f.path);
}

}  // namespace jg::policy::detail
