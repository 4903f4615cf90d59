// `jitgate serve --config FILE` and `jitgate check-config FILE`.
#include <iostream>

#include "cli/command.h"
#include "core/log.h"
#include "server/config.h"
#include "server/gateway.h"
#include "server/http_front.h"

namespace jg::cli {
namespace {

struct ServeOptions {
  std::string config;
  std::string log_format = "text";
  std::string log_level = "info";
};

int serve(const ServeOptions& o) {
  log::setup(o.log_format == "json" ? log::Format::kJson : log::Format::kText, o.log_level);
  auto cfg = server::loadConfig(o.config);
  if (!cfg) {
    std::cerr << "jitgate: invalid configuration:\n" << cfg.status().message() << "\n";
    return 2;
  }
  auto rt = server::makeRuntime(*cfg);
  if (!rt) {
    std::cerr << "jitgate: " << rt.status().message() << "\n";
    return 2;
  }
  server::Gateway gateway(*rt);
  if (auto st = gateway.start(); !st) {
    std::cerr << "jitgate: " << st.message() << "\n";
    return 1;
  }
  return gateway.run();
}

void addServe(CLI::App& app) {
  auto opts = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the gateway");
  cmd->add_option("-c,--config", opts->config, "Configuration file (YAML)")->required();
  cmd->add_option("--log-format", opts->log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd->callback([opts] { setExitCode(serve(*opts)); });
}

// The files the configuration names, as resolved (relative paths are beside the file).
void printPaths(const server::GatewayConfig& c) {
  auto line = [](std::string_view key, const std::string& path) {
    if (!path.empty()) {
      std::cout << "  " << key << ": " << path << "\n";
    }
  };
  line("tls.cert", c.tls.cert_file);
  line("tls.key", c.tls.key_file);
  for (const auto& r : c.resources) {
    if (r.isHttp()) {
      std::cout << "  resources[" << r.name << "]: http " << r.http->mount << " -> "
                << r.http->upstream.url << "\n";
      line("resources[" + r.name + "].upstream.ca_file", r.http->upstream.ca_file);
      continue;
    }
    line("resources[" + r.name + "].upstream.sslrootcert", r.upstream.sslrootcert);
  }
  if (c.masking) {
    line("masking.key_file", c.masking->key_file);
  }
  if (c.audit) {
    line("audit.dir", c.audit->dir);
    line("audit.key_file", c.audit->key_file);
    line("audit.signing_key_file", c.audit->signing_key_file);
  }
  line("store", c.store_url);
  line("upstream_tokens.key_file", c.upstream_token_key_file);
}

void addCheckConfig(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("check-config", "Validate a configuration file and exit");
  cmd->add_option("file", *file, "Configuration file (YAML)")->required();
  cmd->callback([file] {
    auto cfg = server::loadConfig(*file);
    if (cfg) {
      auto rt = server::makeRuntime(*cfg);
      if (!rt) {
        std::cerr << *file << ": " << rt.status().message() << "\n";
        setExitCode(1);
        return;
      }
      if (auto http = server::makeHttpRuntime(*rt, nullptr, false); !http) {
        std::cerr << *file << ": " << http.status().message() << "\n";
        setExitCode(1);
        return;
      }
      std::cout << *file << ": ok (" << (*cfg)->resources.size() << " resources)\n";
      printPaths(**cfg);
      setExitCode(0);
      return;
    }
    std::cerr << cfg.status().message() << "\n";
    setExitCode(1);
  });
}

}  // namespace

JITGATE_COMMAND(addServe);
JITGATE_COMMAND(addCheckConfig);

}  // namespace jg::cli
