#include "access/settings.h"

#include <filesystem>

#include "access/types.h"

namespace jg::access {
namespace {

bool knownEvent(std::string_view name) {
  for (int t = 0; t <= static_cast<int>(AccessEvent::Type::kStatementApprovalUsed); ++t) {
    if (eventName(static_cast<AccessEvent::Type>(t)) == name) {
      return true;
    }
  }
  return false;
}

WebhookSettings parseWebhook(const config::Node& n, config::Errors& errors) {
  WebhookSettings w;
  n.checkKeys(errors,
              {"url", "secret_file", "secret", "format", "events", "timeout", "max_attempts"});
  w.url = n["url"].requiredStr(errors);
  if (!w.url.empty() && !w.url.starts_with("https://") && !w.url.starts_with("http://")) {
    errors.add(n["url"], "must be an http:// or https:// URL");
  }
  if (n.has("secret")) {
    errors.add(n["secret"], "inline secrets are not allowed; use secret_file");
  }
  if (n.has("secret_file")) {
    auto secret = config::readSecretFile(n["secret_file"].path(errors));
    if (!secret) {
      errors.add(n["secret_file"], secret.status().message());
    } else if (secret->size() < 16) {
      errors.add(n["secret_file"], "the webhook secret must be at least 16 bytes");
    } else {
      w.secret = std::move(*secret);
    }
  }
  w.format = n["format"].oneOf(errors, {"generic", "slack"}, "generic") == "slack"
                 ? WebhookSettings::Format::kSlack
                 : WebhookSettings::Format::kGeneric;
  w.events = n["events"].strings(errors);
  for (const auto& e : w.events) {
    if (!knownEvent(e)) {
      errors.add(n["events"], "unknown event '" + e + "'");
    }
  }
  w.timeout = n["timeout"].duration(errors, w.timeout);
  w.max_attempts = static_cast<int>(n["max_attempts"].integer(errors, w.max_attempts, 1, 50));
  return w;
}

std::chrono::seconds seconds(const config::Node& n, config::Errors& errors,
                             std::chrono::seconds def) {
  auto d = n.duration(errors, def);
  if (n.defined() && d < std::chrono::seconds(1)) {
    errors.add(n, "must be at least 1s");
    return def;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(d);
}

}  // namespace

Settings parseSettings(const config::Node& section, config::Errors& errors) {
  Settings s;
  if (!section.defined()) {
    return s;
  }
  if (!section.isMap()) {
    errors.add(section, "expected a mapping");
    return s;
  }
  section.checkKeys(errors, {"pending_expiry", "statement_validity", "wait_timeout", "max_grant",
                             "public_url", "webhooks"});
  s.pending_expiry = seconds(section["pending_expiry"], errors, s.pending_expiry);
  s.statement_validity = seconds(section["statement_validity"], errors, s.statement_validity);
  s.max_grant = seconds(section["max_grant"], errors, s.max_grant);
  s.wait_timeout = section["wait_timeout"].duration(errors, s.wait_timeout);
  if (s.wait_timeout <= std::chrono::milliseconds(0)) {
    errors.add(section["wait_timeout"], "must be positive");
  }
  s.public_url = section["public_url"].str(errors);
  const auto hooks = section["webhooks"];
  if (hooks.defined()) {
    if (!hooks.isSequence()) {
      errors.add(hooks, "expected a list");
    } else {
      for (size_t i = 0; i < hooks.size(); ++i) {
        s.webhooks.push_back(parseWebhook(hooks.at(i), errors));
      }
    }
  }
  return s;
}

}  // namespace jg::access
