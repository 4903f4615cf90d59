// `jitgate creds check RESOURCE --config FILE`: verifies that the gateway can issue session
// credentials for a resource — the admin connection, its privileges (CREATEROLE,
// pg_signal_backend), the role map — and proves the path with a trial session role that logs in
// over SCRAM and is dropped again. Prints one line per check and the exact fix for each failure.
// Exit status: 0 ready, 1 something is missing, 2 unusable configuration.
//
// `jitgate creds keygen FILE [--alg EdDSA|ES256]`: creates the private key (PEM, mode 0600) that
// signs short-lived tokens for HTTP upstreams. `jitgate creds jwks FILE` prints its public JWKS
// (JSON already; --json is accepted for uniformity).
#include <boost/json.hpp>
#include <iostream>

#include "cli/command.h"
#include "cli/output.h"
#include "config/node.h"
#include "core/log.h"
#include "creds/issuer.h"
#include "creds/token_issuer.h"

namespace jg::cli {
namespace {

struct CheckOptions {
  std::string resource;
  std::string config_file;
  bool json = false;
};

// The report's lines, then the verdict: text as before, or one JSON object.
int printCheck(const CheckOptions& opts, const std::string& report, const Status& s) {
  if (!opts.json) {
    std::cout << report;
    std::cout << (s ? "resource " + opts.resource + " is ready" : s.message()) << "\n";
    return s ? 0 : 1;
  }
  boost::json::object out{
      {"resource", opts.resource}, {"ready", s.isOk()}, {"checks", jsonLines(report)}};
  if (!s) {
    out["error"] = s.message();
  }
  std::cout << boost::json::serialize(out) << "\n";
  return s ? 0 : 1;
}

int check(const CheckOptions& opts) {
  log::setup(log::Format::kText, "error");
  auto root = config::Node::loadFile(opts.config_file);
  if (!root) {
    std::cerr << "jitgate: " << root.status().message() << "\n";
    return 2;
  }
  config::Node list = (*root)["resources"];
  for (size_t i = 0; list.isSequence() && i < list.size(); ++i) {
    config::Node entry = list.at(i);
    config::Errors errors;
    if (entry["name"].str(errors) != opts.resource) {
      continue;
    }
    creds::ResourceCreds rc = creds::parseResourceCreds(entry, errors);
    if (!errors.empty()) {
      std::cerr << errors.joined();
      return 2;
    }
    std::map<std::string, creds::ResourceCreds> one;
    one.emplace(opts.resource, std::move(rc));
    auto issuer = creds::Issuer::create(std::move(one), "creds-check", Clock::system());
    if (!issuer) {
      std::cerr << "jitgate: " << issuer.status().message() << "\n";
      return 2;
    }
    std::string report;
    Status s = (*issuer)->check(opts.resource, report);
    return printCheck(opts, report, s);
  }
  std::cerr << "jitgate: " << opts.config_file << " has no resource named \"" << opts.resource
            << "\"\n";
  return 2;
}

void addCreds(CLI::App& app) {
  auto* creds = app.add_subcommand("creds", "Upstream credentials: checks and signing keys");
  creds->require_subcommand(1);

  auto check_opts = std::make_shared<CheckOptions>();
  auto* chk = creds->add_subcommand(
      "check", "Verify the admin connection, its privileges and the role map of a resource");
  chk->add_option("resource", check_opts->resource, "Resource name")->required();
  chk->add_option("-c,--config", check_opts->config_file, "Gateway configuration file")->required();
  chk->add_flag("--json", check_opts->json, "Print one JSON object: resource, ready, checks");
  chk->callback([check_opts] { setExitCode(check(*check_opts)); });

  auto key_file = std::make_shared<std::string>();
  auto alg = std::make_shared<std::string>("EdDSA");
  auto* keygen =
      creds->add_subcommand("keygen", "Create the key that signs tokens for HTTP upstreams");
  keygen->add_option("file", *key_file, "Where to write the PEM private key (mode 0600)")
      ->required();
  keygen->add_option("--alg", *alg, "EdDSA (Ed25519, default) or ES256 (P-256)")
      ->check(CLI::IsMember({"EdDSA", "ES256"}));
  keygen->callback([key_file, alg] {
    Status s = creds::generateKeyFile(
        *key_file, *alg == "ES256" ? identity::Alg::kES256 : identity::Alg::kEdDSA);
    if (!s) {
      std::cerr << "jitgate: " << s.message() << "\n";
      setExitCode(1);
      return;
    }
    std::cout << "wrote " << *alg << " signing key " << *key_file << "\n";
  });

  auto jwks_file = std::make_shared<std::string>();
  auto* jwks = creds->add_subcommand("jwks", "Print the public JWKS of a token signing key");
  jwks->add_option("file", *jwks_file, "The PEM private key")->required();
  auto jwks_json = std::make_shared<bool>(false);  // the JWKS is JSON either way
  jwks->add_flag("--json", *jwks_json, "The JWKS is JSON already; accepted for uniformity");
  jwks->callback([jwks_file, jwks_json] {
    auto issuer = creds::TokenIssuer::load(*jwks_file, "jitgate", Clock::system());
    if (!issuer) {
      std::cerr << "jitgate: " << issuer.status().message() << "\n";
      setExitCode(1);
      return;
    }
    std::cout << (*issuer)->jwksJson() << "\n";
  });
}

}  // namespace

JITGATE_COMMAND(addCreds);

}  // namespace jg::cli
