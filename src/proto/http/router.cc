#include "proto/http/router.h"

#include <cassert>

#include "core/text.h"

namespace jg::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (isAsciiUpper(c)) {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// The rest of `path` after `prefix` when it is a prefix on a segment boundary.
std::optional<std::string_view> restAfter(std::string_view prefix, std::string_view path) {
  if (prefix == "/") {
    return path;
  }
  if (path.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  std::string_view rest = path.substr(prefix.size());
  if (rest.empty()) {
    return std::string_view("/");
  }
  if (rest.front() != '/') {
    return std::nullopt;
  }
  return rest;
}

}  // namespace

std::string hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return lower(close == std::string_view::npos ? host : host.substr(0, close + 1));
  }
  const size_t colon = host.find(':');
  std::string out = lower(host.substr(0, colon));
  if (!out.empty() && out.back() == '.') {
    out.pop_back();  // "example.com." names the same host as "example.com"
  }
  return out;
}

Router::Router(std::vector<Mount> mounts) : mounts_(std::move(mounts)) {
  for (Mount& m : mounts_) {
    assert(m.prefix == "/" ||
           (!m.prefix.empty() && m.prefix.front() == '/' && m.prefix.back() != '/'));
    m.host = hostWithoutPort(m.host);
  }
}

std::optional<Router::Match> Router::match(std::string_view host, std::string_view path) const {
  const std::string name = hostWithoutPort(host);
  std::optional<Match> best;
  size_t best_length = 0;
  bool best_has_host = false;
  for (const Mount& m : mounts_) {
    if (!m.host.empty() && m.host != name) {
      continue;
    }
    const auto rest = restAfter(m.prefix, path);
    if (!rest) {
      continue;
    }
    const bool has_host = !m.host.empty();
    const bool better = !best || (has_host && !best_has_host) ||
                        (has_host == best_has_host && m.prefix.size() > best_length);
    if (better) {
      best = Match{.mount = &m, .rest = *rest};
      best_length = m.prefix.size();
      best_has_host = has_host;
    }
  }
  return best;
}

}  // namespace jg::http
