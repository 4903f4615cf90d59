#include <unistd.h>

#include <iostream>

#include "audit/index.h"
#include "cli/audit_common.h"
#include "config/node.h"

namespace jg::cli::auditcli {

void addCommon(CLI::App* cmd, Common& c, bool with_store) {
  cmd->add_option("-c,--config", c.config, "Gateway configuration (audit: and store: sections)");
  cmd->add_option("--dir", c.dir, "Audit directory (overrides the configuration)");
  if (with_store) {
    cmd->add_option("--store", c.store_url,
                    "State store URL (sqlite:///x.db, postgresql://u@host/db)");
  }
}

Result<Loaded> load(const Common& c) {
  Loaded l;
  if (!c.config.empty()) {
    auto root = config::Node::loadFile(c.config);
    if (!root) {
      return root.status();
    }
    config::Errors errors;  // only what a command needs is checked below
    l.settings = audit::parseSettings((*root)["audit"], errors);
    if (root->has("store")) {
      l.store_url = store::parseSettings((*root)["store"], errors);
    }
  }
  if (!c.dir.empty()) {
    l.settings.dir = c.dir;
  }
  if (!c.store_url.empty()) {
    l.store_url = c.store_url;
  }
  if (l.settings.dir.empty()) {
    return invalidArgument("no audit directory: pass --config FILE or --dir DIR");
  }
  return l;
}

Result<std::unique_ptr<store::Store>> openIndex(const Loaded& l) {
  if (l.store_url.empty()) {
    return invalidArgument("no state store: pass --config FILE or --store URL");
  }
  auto st = store::open(l.store_url);
  if (!st) {
    return st.status();
  }
  if (Status m = (*st)->migrate("audit", audit::indexMigrations()); !m) {
    return m;
  }
  return st;
}

int fail(const Status& st, int code) {
  std::cerr << "jitgate: " << st.message() << "\n";
  return code;
}

std::string actor() {
  for (const char* var : {"SUDO_USER", "USER", "LOGNAME"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      return v;
    }
  }
  return "uid:" + std::to_string(::getuid());
}

}  // namespace jg::cli::auditcli
