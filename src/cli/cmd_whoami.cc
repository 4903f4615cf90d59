// `jitgate whoami`: who the token cached by `jitgate login` names (subject, email, groups,
// issuer) and until when. The claims are read without verifying the signature — the gateway
// verifies the token on every use; `jitgate token inspect -c FILE` verifies it against a
// configuration. Exit status: 0 signed in, 1 not signed in (no cache, or the token expired),
// 2 the cache cannot be read.
//
// `jitgate logout`: removes the cached token. Exit status 0 whether or not a token was cached
// (it says which), 1 when the file cannot be removed.
#include <boost/json/serialize.hpp>
#include <iostream>

#include "access/api_client.h"
#include "cli/command.h"
#include "cli/login_cache.h"
#include "core/clock.h"

namespace jg::cli {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out.empty() ? "-" : out;
}

std::string orDash(const std::string& s) {
  return s.empty() ? "-" : s;
}

void printLogin(const CachedLogin& l) {
  if (l.opaque) {
    std::cout << "the cached token is opaque (not a JWT): the identity provider knows who it is\n";
  }
  std::cout << "subject:  " << orDash(l.subject) << "\n"
            << "email:    " << orDash(l.email) << "\n"
            << "name:     " << orDash(l.name) << "\n"
            << "groups:   " << joined(l.groups) << "\n"
            << "issuer:   " << orDash(l.issuer) << "\n"
            << "expires:  " << formatUtc(l.expires_at) << (l.expired ? " (expired)" : "") << "\n"
            << "gateway:  " << orDash(l.gateway) << "\n"
            << "cache:    " << l.path << "\n";
  if (l.expired) {
    std::cerr << "jitgate: the cached token has expired; run `jitgate login`\n";
  }
}

int whoami(bool json) {
  const std::string path = access::tokenCachePath();
  auto login = readLogin(path, Clock::system().now());
  if (!login) {
    const bool none = login.status().code() == Code::kNotFound;
    if (json && none) {
      std::cout << boost::json::serialize(
                       boost::json::object{{"signed_in", false}, {"cache", path}})
                << "\n";
    }
    std::cerr << "jitgate: " << (none ? "not signed in: " : "") << login.status().message()
              << (none ? "; run `jitgate login`" : "") << "\n";
    return none ? kExitNo : kExitUsage;
  }
  if (json) {
    boost::json::object out = loginJson(*login);
    out["signed_in"] = !login->expired;
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    printLogin(*login);
  }
  return login->expired ? kExitNo : kExitOk;
}

int logout() {
  const std::string path = access::tokenCachePath();
  auto removed = removeLogin(path);
  if (!removed) {
    std::cerr << "jitgate: " << removed.status().message() << "\n";
    return kExitNo;
  }
  std::cout << (*removed ? "signed out: removed the cached token "
                         : "not signed in: no cached "
                           "token in ")
            << path << "\n";
  return kExitOk;
}

void addWhoami(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* who = app.add_subcommand(
      "whoami", "Show who the token cached by `jitgate login` names, and until when");
  who->add_flag("--json", *json, "Print one JSON object");
  who->callback([json] { setExitCode(whoami(*json)); });

  auto* out = app.add_subcommand("logout", "Remove the token cached by `jitgate login`");
  out->callback([] { setExitCode(logout()); });
}

}  // namespace

JITGATE_COMMAND(addWhoami);

}  // namespace jg::cli
