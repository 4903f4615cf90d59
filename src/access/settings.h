// Access settings: the `access:` section of the gateway configuration.
//
//   access:
//     pending_expiry: 1h          # a review nobody decided expires after this
//     statement_validity: 10m     # an approved statement may run once within this
//     wait_timeout: 5m            # how long a `mode: wait` client is held by default
//     max_grant: 12h              # no grant window is ever longer (rules' `grant` is capped)
//     public_url: https://jitgate.example/   # shown to waiting clients and in notifications
//     webhooks:
//       - url: https://hooks.example/jitgate
//         secret_file: secrets/webhook     # HMAC-SHA256 key for the X-Jitgate-Signature header
//         format: generic                  # generic | slack
//         events: [review.created, review.approved, grant.revoked]   # default: all
//         timeout: 5s
//         max_attempts: 6
//
// Plain values, immutable after loading; safe to share between threads.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/node.h"

namespace jg::access {

struct WebhookSettings {
  enum class Format { kGeneric, kSlack };
  std::string url;
  std::string secret;  // read from secret_file; empty = unsigned (allowed only without a file)
  Format format = Format::kGeneric;
  std::vector<std::string> events;  // empty: every event
  std::chrono::milliseconds timeout{5000};
  int max_attempts = 6;
};

struct Settings {
  std::chrono::seconds pending_expiry{3600};
  std::chrono::seconds statement_validity{600};
  std::chrono::milliseconds wait_timeout{300'000};
  std::chrono::seconds max_grant{12 * 3600};
  std::string public_url;
  std::vector<WebhookSettings> webhooks;
  // Not in the file: how often the Broker looks for expired reviews and grants, and for
  // decisions made by other gateway replicas.
  std::chrono::milliseconds sweep_interval{250};
};

Settings parseSettings(const config::Node& section, config::Errors& errors);

}  // namespace jg::access
