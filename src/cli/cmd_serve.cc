// `jitgate serve --config FILE` and `jitgate check-config FILE` (or `check-config --config FILE`).
#include <boost/json.hpp>
#include <iostream>

#include "cli/command.h"
#include "cli/output.h"
#include "core/log.h"
#include "core/log_fields.h"
#include "server/config.h"
#include "server/config_lint.h"
#include "server/config_online.h"
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
  log::setNoticeLevel(spdlog::level::warn);
  auto cfg = server::loadConfig(o.config);
  if (!cfg) {
    std::cerr << "jitgate: invalid configuration:\n" << cfg.status().message() << "\n";
    return 2;
  }
  for (const auto& w : server::configWarnings(**cfg)) {
    log::warn("", "configuration: {}", w);
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

// The files the configuration names, as resolved (relative paths are beside the file), in the
// order check-config prints them.
std::vector<std::pair<std::string, std::string>> pathsOf(const server::GatewayConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](std::string key, const std::string& path) {
    if (!path.empty()) {
      out.emplace_back(std::move(key), path);
    }
  };
  add("tls.cert", c.tls.cert_file);
  add("tls.key", c.tls.key_file);
  for (const auto& r : c.resources) {
    if (r.isHttp()) {
      add("resources[" + r.name + "]", "http " + r.http->mount + " -> " + r.http->upstream.url);
      add("resources[" + r.name + "].upstream.ca_file", r.http->upstream.ca_file);
      continue;
    }
    add("resources[" + r.name + "].upstream.sslrootcert", r.upstream.sslrootcert);
  }
  if (c.masking) {
    add("masking.key_file", c.masking->key_file);
  }
  if (c.audit) {
    add("audit.dir", c.audit->dir);
    add("audit.key_file", c.audit->key_file);
    add("audit.signing_key_file", c.audit->signing_key_file);
  }
  add("store", c.store_url);
  add("upstream_tokens.key_file", c.upstream_token_key_file);
  return out;
}

// Loads and checks everything serve would before opening sockets; the error names the problems.
Result<server::ConfigPtr> checkConfig(const std::string& file) {
  auto cfg = server::loadConfig(file);
  if (!cfg) {
    return cfg.status();
  }
  auto rt = server::makeRuntime(*cfg);
  if (!rt) {
    return Status::error(rt.status().code(), file + ": " + rt.status().message());
  }
  if (auto http = server::makeHttpRuntime(*rt, nullptr, false); !http) {
    return Status::error(http.status().code(), file + ": " + http.status().message());
  }
  return *cfg;
}

void printCheckJson(const std::string& file, const Result<server::ConfigPtr>& cfg,
                    const std::vector<std::string>& warning_list) {
  namespace json = boost::json;
  json::object out{{"file", file}, {"ok", cfg.isOk()}};
  if (cfg) {
    out["resources"] = (*cfg)->resources.size();
    json::object paths;
    for (const auto& [key, path] : pathsOf(**cfg)) {
      paths[key] = path;
    }
    out["paths"] = std::move(paths);
    boost::json::array warnings;
    for (const auto& w : warning_list) {
      warnings.emplace_back(w);
    }
    out["ok"] = warnings.empty();
    out["warnings"] = std::move(warnings);
  } else {
    out["errors"] = jsonLines(cfg.status().message());
  }
  std::cout << json::serialize(out) << "\n";
}

struct CheckOptions {
  std::string file;
  std::string config;
  bool json = false;
  bool online = false;
};

// --online: the names the configuration uses, looked up on each PostgreSQL upstream.
int checkOnline(const server::GatewayConfig& cfg) {
  std::string report;
  int failures = server::checkConfigOnline(cfg, report);
  std::cout << report;
  if (failures > 0) {
    std::cerr << cfg.file << ": " << failures << " online check(s) failed\n";
  }
  return failures > 0 ? kExitNo : kExitOk;
}

int runCheckConfig(const CheckOptions& o) {
  if (o.file.empty() == o.config.empty()) {
    throw CLI::ValidationError("check-config",
                               "give the configuration file, as FILE or --config FILE");
  }
  const std::string& file = o.file.empty() ? o.config : o.file;
  auto cfg = checkConfig(file);
  const std::vector<std::string> warnings =
      cfg ? server::configWarnings(**cfg) : std::vector<std::string>{};
  if (o.json) {
    printCheckJson(file, cfg, warnings);
  } else if (cfg && warnings.empty()) {
    std::cout << file << ": ok (" << (*cfg)->resources.size() << " resources)\n";
    for (const auto& [key, path] : pathsOf(**cfg)) {
      std::cout << "  " << key << ": " << path << "\n";
    }
  }
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return kExitNo;
  }
  // Settings the gateway would accept but that cannot take effect: serve runs with them (and
  // logs them); check-config fails so that they are fixed before they matter.
  for (const auto& w : warnings) {
    std::cerr << "warning: " << w << "\n";
  }
  int online = o.online ? checkOnline(**cfg) : kExitOk;
  return warnings.empty() ? online : kExitNo;
}

void addCheckConfig(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand(
      "check-config", "Validate a configuration file and exit: 0 valid, 1 invalid, 2 usage");
  auto* file = cmd->add_option("file", o->file, "Configuration file (YAML)");
  cmd->add_option("-c,--config", o->config, "Configuration file (YAML), instead of FILE")
      ->excludes(file);
  cmd->add_flag("--json", o->json, "Print one JSON object: ok, resources, paths or errors");
  cmd->add_flag("--online", o->online,
                "Also connect to each PostgreSQL upstream and check that the roles, schemas, "
                "tables and columns named by roles, policies and masking exist")
      ->excludes("--json");
  cmd->callback([o] { setExitCode(runCheckConfig(*o)); });
}

}  // namespace

JITGATE_COMMAND(addServe);
JITGATE_COMMAND(addCheckConfig);

}  // namespace jg::cli
