// Cross-checks of a loaded gateway configuration that no single section can make on its own:
// what `jitgate check-config` reports beyond syntax. Problems that break the gateway at startup
// (a state store directory that is missing or not writable) are errors; settings that are
// accepted but cannot take effect (a policy rule naming a resource that does not exist, a role
// the resource does not map) are warnings: the gateway runs and logs them, check-config fails.
// Pure functions over the parsed configuration (plus one access(2) for the store directory);
// used only while loading.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/node.h"
#include "server/config.h"

namespace jg::server {

// Errors that would stop the gateway later: a `sqlite://` store whose directory is missing or
// not writable. Called while loading (loadConfig).
void checkStoreDirectory(const config::Node& root, const GatewayConfig& cfg,
                         config::Errors& errors);

// Warnings about `cfg`, parsed from `root`: one "file:line: key: message" each.
std::vector<std::string> configWarnings(const config::Node& root, const GatewayConfig& cfg);
// configWarnings of the file `cfg` was loaded from (read again); empty when it cannot be read.
std::vector<std::string> configWarnings(const GatewayConfig& cfg);

// The settings that differ between `before` and `after` and take effect only on restart
// (listeners, threads, store, audit directory, instance name), by configuration key.
std::vector<std::string> restartOnlyChanges(const GatewayConfig& before,
                                            const GatewayConfig& after);

// The number of restart-only settings applied reloads have named, process-wide (a metric).
void countRestartOnlyChanges(size_t n);
uint64_t restartOnlyChangesCounted();

}  // namespace jg::server
