// `jitgate serve --config FILE` and `jitgate check-config FILE`.
#include <iostream>

#include "cli/command.h"
#include "core/log.h"
#include "server/config.h"
#include "server/gateway.h"

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
      std::cout << *file << ": ok (" << (*cfg)->resources.size() << " resources)\n";
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
