// Shared by the audit subcommands (cmd_audit.cc: keygen, verify, search, reindex;
// cmd_replay.cc: replay and sandbox replay): the common flags, loading the audit settings and
// store URL from --config or flags, opening the search index, and error reporting. Main thread
// only.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "audit/settings.h"
#include "core/status.h"
#include "store/store.h"

namespace jg::cli::auditcli {

struct Common {
  std::string config;
  std::string dir;
  std::string store_url;
  std::vector<std::string> public_keys;  // verify
  std::vector<std::string> key_files;    // raw payload keys (replay --raw)
};

struct Loaded {
  audit::Settings settings;
  std::string store_url;
};

void addCommon(CLI::App* cmd, Common& c, bool with_store);
Result<Loaded> load(const Common& c);
// The search index in the configured store, migrated.
Result<std::unique_ptr<store::Store>> openIndex(const Loaded& l);
// Prints "jitgate: message" to stderr and returns `code`.
int fail(const Status& st, int code = 2);
// The OS user running the command (recorded as a replay's actor).
std::string actor();

}  // namespace jg::cli::auditcli
