// The token cache that `jitgate login` writes (see cmd_login.cc for its location and format), as
// `jitgate whoami` and `jitgate logout` see it: who the cached token names and until when, and
// removing it.
//
// The token is decoded without verifying its signature: whoami reports what the token claims,
// for the person who holds it; the gateway verifies it on every use (`jitgate token inspect`
// verifies it against a configuration). The token itself is never returned or printed.
// Stateless functions; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace jg::cli {

struct CachedLogin {
  std::string path;     // the cache file
  std::string issuer;   // the token's `iss`, else the issuer the login used
  std::string gateway;  // host:port remembered for `jitgate env`
  std::string subject;
  std::string email;
  std::string name;
  std::vector<std::string> groups;  // the `groups` claim (an array, or one string)
  std::chrono::system_clock::time_point expires_at{};
  bool expired = false;
  bool opaque = false;  // the token is not a JWT: no claims, the expiry is the cache's
};

// Reads and decodes the cache at `path`. kNotFound when there is no cache file; kInvalidArgument
// when the file is not a token cache.
[[nodiscard]] Result<CachedLogin> readLogin(const std::string& path,
                                            std::chrono::system_clock::time_point now);

// The fields whoami prints with --json (never the token).
boost::json::object loginJson(const CachedLogin& login);

// Removes the cache at `path`: true when a file was removed, false when there was none.
[[nodiscard]] Result<bool> removeLogin(const std::string& path);

}  // namespace jg::cli
