#include "server/mcp_http_tool.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "server/http_config.h"
#include "server/mcp_tools.h"

namespace jg::server {
namespace {

namespace json = boost::json;

std::string encoded(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string argText(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

}  // namespace

Result<OperationRequest> buildOperationRequest(const std::string& mount,
                                               const HttpOperationConfig& op,
                                               const json::object& args) {
  std::vector<std::string> used;  // path variables
  std::string path;
  for (size_t i = 0; i < op.path.size();) {
    size_t open = op.path.find('{', i);
    if (open == std::string::npos) {
      path += op.path.substr(i);
      break;
    }
    size_t close = op.path.find('}', open);
    if (close == std::string::npos) {
      return invalidArgument(fmt::format("operation {}: unclosed {{ in {}", op.name, op.path));
    }
    path += op.path.substr(i, open - i);
    std::string var = op.path.substr(open + 1, close - open - 1);
    const json::value* v = args.if_contains(var);
    if (v == nullptr || v->is_null()) {
      return invalidArgument(fmt::format("/: missing required argument \"{}\"", var));
    }
    path += encoded(argText(*v));
    used.push_back(var);
    i = close + 1;
  }
  json::object rest;  // the other arguments, in their order
  for (const auto& kv : args) {
    if (std::find(used.begin(), used.end(), std::string_view(kv.key())) == used.end()) {
      rest.emplace(kv.key(), kv.value());
    }
  }
  OperationRequest out{
      .method = op.method, .target = (mount == "/" ? "" : mount) + path, .body = {}};
  if (op.method == "GET" || op.method == "DELETE") {
    char sep = '?';
    for (const auto& kv : rest) {
      out.target += sep + encoded(kv.key()) + "=" + encoded(argText(kv.value()));
      sep = '&';
    }
  } else {
    out.body = json::serialize(rest);
  }
  return out;
}

json::object httpToolResult(int status, const std::string& body, size_t max_bytes) {
  bool cut = body.size() > max_bytes;
  std::string kept = cut ? body.substr(0, max_bytes) : body;
  boost::system::error_code ec;
  json::value parsed = cut ? json::value() : json::parse(kept, ec);
  bool is_json = !cut && !ec;
  bool ok = status >= 200 && status < 300;
  std::string text = ok ? kept : fmt::format("HTTP {}: {}", status, kept);
  if (cut) {
    text += fmt::format("\n(truncated: the response is larger than {} bytes)", max_bytes);
  }
  json::object o = textToolResult(std::move(text), !ok);
  json::object s{{"status", status}};
  if (is_json) {
    s["body"] = parsed;
  }
  if (!ok && is_json && parsed.is_object()) {
    if (const auto* id = parsed.as_object().if_contains("review_id"); id && id->is_string()) {
      s["review_id"] = *id;
      s["status"] = "pending";
      s["http_status"] = status;
      o["content"].as_array()[0].as_object()["text"] = fmt::format(
          "This call needs approval: review {} is pending. Call await_review with this "
          "review_id, then repeat this call with the same arguments once it is approved.\n{}",
          std::string_view(id->as_string()),
          std::string_view(o["content"].as_array()[0].at("text").as_string()));
    }
  }
  o["structuredContent"] = std::move(s);
  return o;
}

}  // namespace jg::server
