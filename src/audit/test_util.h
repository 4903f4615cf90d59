// Test helpers shared by the audit tests: a temporary directory with generated keys and
// settings pointing at it. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "audit/anchor.h"
#include "audit/crypto.h"
#include "audit/settings.h"
#include "core/random.h"

namespace jg::audit::testing {

class TempAuditDir {
 public:
  TempAuditDir() {
    root_ = std::filesystem::temp_directory_path() / ("jg-audit-" + randomId(10));
    std::filesystem::create_directories(root_ / "keys");
    EXPECT_TRUE(SigningKey::generate(path("keys/sign.pem"), path("keys/sign.pub.pem")).isOk());
    EXPECT_TRUE(AeadKey::generate(path("keys/raw.key")).isOk());
  }
  ~TempAuditDir() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }
  std::string auditDir() const { return path("audit"); }
  std::string instanceDir() const { return path("audit/gw1"); }

  Settings settings() const {
    Settings s;
    s.dir = auditDir();
    s.instance = "gw1";
    s.key_file = path("keys/raw.key");
    s.signing_key_file = path("keys/sign.pem");
    s.retention = std::chrono::milliseconds(0);
    return s;
  }

 private:
  std::filesystem::path root_;
};

// An AnchorSink in memory: keeps the newest anchor of each instance.
class MemoryAnchors final : public AnchorSink {
 public:
  Result<std::optional<Anchor>> latest(const std::string& instance) override {
    std::lock_guard lk(mu_);
    auto it = anchors_.find(instance);
    return it == anchors_.end() ? std::optional<Anchor>() : std::optional<Anchor>(it->second);
  }
  void onCheckpoint(const Anchor& a) override {
    std::lock_guard lk(mu_);
    anchors_[a.instance] = a;
  }
  std::map<std::string, Anchor> all() const {
    std::lock_guard lk(mu_);
    return anchors_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Anchor> anchors_;
};

}  // namespace jg::audit::testing
