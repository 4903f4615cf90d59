// `jitgate token inspect [TOKEN] --config FILE`: decodes and verifies an access token against the
// identity section of a gateway configuration, and prints the resulting identity or exactly why
// the token is refused. Exit status: 0 accepted, 1 refused, 2 unusable configuration or input.
// The token is read from the argument or, when absent or "-", from standard input (so it need
// not appear in the process list); it is never printed.
#include <boost/json/serialize.hpp>
#include <iostream>
#include <iterator>

#include "cli/command.h"
#include "config/node.h"
#include "core/log.h"
#include "core/text.h"
#include "identity/jwt.h"
#include "identity/verifier.h"
#include "net/http.h"

namespace jg::cli {
namespace {

std::string trimmed(std::string_view s) {
  return std::string(trimSpace(s));
}

struct InspectOptions {
  std::string token;
  std::string config_file;
  bool json = false;
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out.empty() ? "-" : out;
}

boost::json::object identityJson(const identity::Identity& id) {
  boost::json::array groups(id.groups.begin(), id.groups.end());
  boost::json::array scopes(id.scopes.begin(), id.scopes.end());
  return {
      {"issuer", id.issuer}, {"subject", id.subject},     {"email", id.email},
      {"name", id.name},     {"client_id", id.client_id}, {"service_account", id.service_account},
      {"groups", groups},    {"scopes", scopes},          {"expires_at", formatUtc(id.expires_at)}};
}

void printIdentity(const identity::Identity& id, const identity::Jws* header) {
  std::cout << "token accepted\n";
  std::cout << "  issuer:   " << id.issuer << "\n";
  std::cout << "  subject:  " << id.subject << "\n";
  std::cout << "  kind:     " << (id.service_account ? "service account" : "person")
            << (id.client_id.empty() ? "" : " (client " + id.client_id + ")") << "\n";
  std::cout << "  email:    " << (id.email.empty() ? "-" : id.email) << "\n";
  std::cout << "  name:     " << (id.name.empty() ? "-" : id.name) << "\n";
  std::cout << "  groups:   " << joined(id.groups) << "\n";
  std::cout << "  scopes:   " << joined(id.scopes) << "\n";
  std::cout << "  expires:  " << formatUtc(id.expires_at) << "\n";
  if (header) {
    std::cout << "  signed:   " << identity::algName(header->alg)
              << (header->kid.empty() ? "" : " kid=" + header->kid) << "\n";
  }
}

int inspect(InspectOptions& opts) {
  log::setup(log::Format::kText, "warn");
  if (opts.token.empty() || opts.token == "-") {
    opts.token.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  opts.token = trimmed(std::move(opts.token));
  if (opts.token.starts_with("Bearer ")) {
    opts.token = trimmed(opts.token.substr(7));
  }
  auto root = config::Node::loadFile(opts.config_file);
  if (!root) {
    std::cerr << "jitgate: " << root.status().message() << "\n";
    return 2;
  }
  config::Errors errors;
  identity::Settings settings = identity::parseSettings((*root)["identity"], errors);
  if (!errors.empty()) {
    std::cerr << errors.joined() << "\n";
    return 2;
  }
  auto verifier =
      identity::Verifier::create(settings, Clock::system(), std::make_shared<net::HttpClient>());
  if (!verifier) {
    std::cerr << "jitgate: " << verifier.status().message() << "\n";
    return 2;
  }
  auto id = (*verifier)->verify(opts.token);
  if (!id) {
    if (opts.json) {
      std::cout << boost::json::serialize(boost::json::object{{"accepted", false},
                                                              {"error", id.status().message()},
                                                              {"sqlstate", id.status().sqlstate()}})
                << "\n";
    }
    std::cerr << "token refused: " << id.status().message() << "\n";
    return 1;
  }
  if (opts.json) {
    boost::json::object out = identityJson(*id);
    out["accepted"] = true;
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    auto jws = identity::decodeJws(opts.token, settings.max_token_bytes);
    printIdentity(*id, jws ? &*jws : nullptr);
  }
  return 0;
}

void addToken(CLI::App& app) {
  auto* token = app.add_subcommand("token", "Work with OIDC access tokens");
  token->require_subcommand(1);
  auto opts = std::make_shared<InspectOptions>();
  auto* cmd = token->add_subcommand(
      "inspect", "Verify a token against the configuration and print the identity it yields");
  cmd->add_option("token", opts->token, "The access token (default: read from standard input)");
  cmd->add_option("-c,--config", opts->config_file, "Gateway configuration file")->required();
  cmd->add_flag("--json", opts->json, "Print the result as one JSON object");
  cmd->callback([opts] { setExitCode(inspect(*opts)); });
}

}  // namespace

JITGATE_COMMAND(addToken);

}  // namespace jg::cli
