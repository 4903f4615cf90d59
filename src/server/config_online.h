// `jitgate check-config --online`: connects to each PostgreSQL upstream with the resource's own
// credentials (the admin login of minted credentials, else the static login) and checks that
// what the configuration names exists there: the upstream roles of `roles:`, and the schemas,
// tables and columns that policy rules and masking column rules name without globs.
//
// Blocking (libpq); for the CLI only, never on an I/O thread. Stateless.
#pragma once

#include <string>

#include "server/config.h"

namespace jg::server {

// Appends one line per check to `report` ("  ok    ...", "  FAIL  ..."); returns the number of
// failed checks (an unreachable upstream counts as one).
int checkConfigOnline(const GatewayConfig& cfg, std::string& report);

}  // namespace jg::server
