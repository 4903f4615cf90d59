// ChainCheck: the gateway's check of its own audit hash chain, reported by GET /api/v1/health.
// A thread verifies this replica's chain (`<dir>/<instance>`, audit::verifyReplicas, live)
// against the state store's anchors: at start, every `interval` (0: not again) and when asked
// (POST /api/v1/audit/verify). It keeps the latest report; a verification runs at most once at
// a time and a request made while one runs is served by the next.
//
// Thread-safe. The destructor stops the thread (after the verification in progress, if any)
// and joins it. Verifying reads every segment: it never runs on an I/O thread.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "audit/verify.h"
#include "store/store.h"

namespace jg::server {

class ChainCheck {
 public:
  struct Target {
    std::string dir;
    std::string instance;
    std::string signing_key_file;  // its public half verifies the checkpoints
  };
  // The chain to check now (it follows configuration reloads); nullopt: recording is off.
  using TargetSource = std::function<std::optional<Target>()>;

  // `store` (may be null: the end of the chain is then not checked against an anchor) must
  // outlive the ChainCheck.
  ChainCheck(TargetSource target, store::Store* store, std::chrono::milliseconds interval);
  ~ChainCheck();
  ChainCheck(const ChainCheck&) = delete;
  ChainCheck& operator=(const ChainCheck&) = delete;

  // Asks for a verification now. False when one is running or already asked for.
  bool request();
  // {"state": "pending"|"running"|"ok"|"failed", "started_at", "finished_at", "duration_ms",
  //  "anchors_checked", "ok", "absent", "instances": [...], "first_bad": {...}, "error"}
  // ("running" while a check is asked for or under way, with the previous check's fields).
  boost::json::object status() const;

 private:
  void run();
  // One verification; its report as status() shows it.
  boost::json::object verifyOnce(const Target& t) const;

  TargetSource target_;
  store::Store* store_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool asked_ = true;  // the first verification runs at start
  bool running_ = false;
  boost::json::object last_;
  std::thread thread_;
};

}  // namespace jg::server
