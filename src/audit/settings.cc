#include "audit/settings.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace jg::audit {

std::string_view durabilityName(Durability d) {
  switch (d) {
    case Durability::kStrict:
      return "strict";
    case Durability::kBatched:
      return "batched";
    case Durability::kOff:
      return "off";
  }
  return "strict";
}

std::string defaultInstance() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
    return "gateway";
  }
  return buf;
}

std::string defaultInstanceFor(const std::string& dir, std::string_view gateway_instance) {
  std::string name(gateway_instance);
  std::replace_if(
      name.begin(), name.end(),
      [](char c) { return c == '/' || c == '\\' || c == '.' || c == ' '; }, '-');
  if (name.empty()) {
    return defaultInstance();
  }
  std::error_code ec;
  std::string legacy = defaultInstance();
  if (!dir.empty() && !std::filesystem::exists(dir + "/" + name, ec) &&
      std::filesystem::exists(dir + "/" + legacy, ec)) {
    return legacy;
  }
  return name;
}

namespace {

// A list of group names (none empty).
std::vector<std::string> groups(const config::Node& node, config::Errors& errors) {
  std::vector<std::string> out = node.strings(errors);
  for (const auto& g : out) {
    if (g.empty()) {
      errors.add(node, "must not contain an empty group name");
    }
  }
  return out;
}

}  // namespace

Settings parseSettings(const config::Node& section, config::Errors& errors) {
  Settings s;
  if (section.defined() && !section.isMap()) {
    errors.add(section, "must be a mapping");
    return s;
  }
  section.checkKeys(
      errors, {"dir", "instance", "durability", "batch_delay", "checkpoint_every",
               "checkpoint_interval", "retry_interval", "witness", "segment_max_bytes", "retention",
               "raw_payloads", "key_file", "signing_key_file", "zstd_level", "queue_limit",
               "queue_limit_bytes", "auditor_groups", "reveal_groups", "verify_interval"});
  s.dir = section["dir"].requiredPath(errors);
  s.instance_defaulted = !section["instance"].defined();
  s.instance = section["instance"].str(errors, defaultInstance());
  if (s.instance.empty() || s.instance.find_first_of("/\\. ") != std::string::npos) {
    errors.add(section["instance"], "must be a non-empty name without '/', '.', or spaces");
  }
  std::string d = section["durability"].oneOf(errors, {"strict", "batched", "off"}, "strict");
  s.durability = d == "batched" ? Durability::kBatched
                 : d == "off"   ? Durability::kOff
                                : Durability::kStrict;
  s.batch_delay = section["batch_delay"].duration(errors, s.batch_delay);
  s.checkpoint_every =
      static_cast<uint64_t>(section["checkpoint_every"].integer(errors, 1000, 1, 100'000'000));
  s.checkpoint_interval = section["checkpoint_interval"].duration(errors, s.checkpoint_interval);
  s.retry_interval = section["retry_interval"].duration(errors, s.retry_interval);
  s.witness = section["witness"].oneOf(errors, {"none", "syslog"}, "none") == "syslog"
                  ? Witness::kSyslog
                  : Witness::kNone;
  s.segment_max_bytes = static_cast<uint64_t>(
      section["segment_max_bytes"].integer(errors, 64ll << 20, 4096, 1ll << 40));
  s.retention = section["retention"].duration(errors, s.retention);
  s.raw_payloads =
      section["raw_payloads"].oneOf(errors, {"encrypted", "off"}, "encrypted") == "encrypted";
  s.key_file = section["key_file"].path(errors);
  s.signing_key_file = section["signing_key_file"].requiredPath(errors);
  s.zstd_level = static_cast<int>(section["zstd_level"].integer(errors, 1, 1, 19));
  s.queue_limit =
      static_cast<size_t>(section["queue_limit"].integer(errors, 65536, 16, 10'000'000));
  s.queue_limit_bytes = static_cast<size_t>(
      section["queue_limit_bytes"].integer(errors, 8ll << 20, 1ll << 20, 16ll << 30));
  s.auditor_groups = groups(section["auditor_groups"], errors);
  s.reveal_groups = groups(section["reveal_groups"], errors);
  s.verify_interval = section["verify_interval"].duration(errors, s.verify_interval);
  if (s.raw_payloads && s.key_file.empty()) {
    errors.add(section["key_file"], "is required when raw_payloads is encrypted");
  }
  if (s.checkpoint_interval.count() <= 0) {
    errors.add(section["checkpoint_interval"], "must be positive");
  }
  if (s.retry_interval.count() <= 0) {
    errors.add(section["retry_interval"], "must be positive");
  }
  return s;
}

}  // namespace jg::audit
