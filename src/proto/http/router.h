// Routing: which configured resource a request is for, from its Host and normalized path.
//
// A resource is mounted at a path prefix ("/kb-search") and optionally a host name. The table
// is built once from configuration and is immutable; match() is const and thread-safe. A Match
// points into the Router (the mount) and into the caller's path (rest): both must outlive it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jg::http {

struct Mount {
  std::string resource{};
  std::string prefix{};  // starts with '/', no trailing '/'; "/" alone mounts at the root
  std::string host{};    // "" = any host
};

class Router {
 public:
  // REQUIRES: prefixes start with '/', no trailing '/'.
  explicit Router(std::vector<Mount> mounts);

  struct Match {
    const Mount* mount = nullptr;
    std::string_view rest;  // the path after the prefix; starts with '/' ("/" when nothing is left)
  };

  // Longest prefix on a segment boundary ("/kb" does not match "/kbx"); a host-specific mount
  // beats a host-less one whatever their prefix lengths; host compared case-insensitively without
  // the port. nullopt: no route.
  std::optional<Match> match(std::string_view host, std::string_view path) const;

  const std::vector<Mount>& mounts() const { return mounts_; }

 private:
  std::vector<Mount> mounts_;  // host names lower-cased
};

// The host name of a Host value, lower-cased, without the port ("[::1]:8443" → "[::1]").
std::string hostWithoutPort(std::string_view host);

}  // namespace jg::http
