#include "audit/anchor.h"

#include <syslog.h>

#include "core/log.h"

namespace jg::audit {
namespace {

using store::Value;

Value i64(uint64_t v) {
  return Value{static_cast<int64_t>(v)};
}

constexpr std::string_view kColumns =
    "instance, segment, seq, hash, upto_seq, upto_hash, key_id, sig, ts_us";

bool rowToAnchor(const store::Row& row, Anchor& a) {
  a.instance = store::asString(row[0]);
  a.segment = static_cast<uint64_t>(store::asInt(row[1]));
  a.seq = static_cast<uint64_t>(store::asInt(row[2]));
  a.upto_seq = static_cast<uint64_t>(store::asInt(row[4]));
  a.key = store::asString(row[6]);
  a.sig = store::asString(row[7]);
  a.ts_us = store::asInt(row[8]);
  return parseHashHex(store::asString(row[3]), a.hash) &&
         parseHashHex(store::asString(row[5]), a.upto_hash);
}

Result<std::vector<Anchor>> queryAnchors(store::Store& store, const std::string& where,
                                         const std::vector<Value>& params) {
  std::vector<Anchor> out;
  bool bad = false;
  Status st = store.query("SELECT " + std::string(kColumns) + " FROM audit_anchors" + where, params,
                          [&](const store::Row& row) {
                            Anchor a;
                            bad = bad || !rowToAnchor(row, a);
                            out.push_back(std::move(a));
                            return true;
                          });
  if (!st) {
    return st;
  }
  if (bad) {
    return Status::error(Code::kInternal, "audit_anchors holds a row with a malformed hash");
  }
  return out;
}

}  // namespace

std::string anchorToken(const Anchor& a) {
  return a.instance + ":" + std::to_string(a.seq) + ":" + hashHex(a.hash);
}

bool parseAnchorToken(std::string_view text, Anchor& out) {
  auto last = text.rfind(':');
  if (last == std::string_view::npos || last == 0) {
    return false;
  }
  auto mid = text.rfind(':', last - 1);
  if (mid == std::string_view::npos || mid == 0) {
    return false;
  }
  std::string seq(text.substr(mid + 1, last - mid - 1));
  if (seq.empty() || seq.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  out = Anchor{};
  out.instance = std::string(text.substr(0, mid));
  out.seq = std::stoull(seq);
  return parseHashHex(text.substr(last + 1), out.hash);
}

const std::vector<store::Migration>& anchorMigrations() {
  static const std::vector<store::Migration> kMigrations = {
      {1,
       "newest anchored checkpoint per audit instance",
       {"CREATE TABLE audit_anchors (instance TEXT PRIMARY KEY, segment INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, hash TEXT NOT NULL, upto_seq INTEGER NOT NULL, "
        "upto_hash TEXT NOT NULL, key_id TEXT NOT NULL, sig TEXT NOT NULL, "
        "ts_us INTEGER NOT NULL)"}},
  };
  return kMigrations;
}

Result<std::map<std::string, Anchor>> loadAnchors(store::Store& store) {
  auto rows = queryAnchors(store, "", {});
  if (!rows) {
    return rows.status();
  }
  std::map<std::string, Anchor> out;
  for (auto& a : *rows) {
    std::string name = a.instance;
    out.emplace(std::move(name), std::move(a));
  }
  return out;
}

Status saveAnchor(store::Store& store, const Anchor& a) {
  return store.transaction([&](store::Tx& tx) {
    return tx.exec("INSERT INTO audit_anchors (" + std::string(kColumns) +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance) DO UPDATE SET "
                       "segment = excluded.segment, seq = excluded.seq, hash = excluded.hash, "
                       "upto_seq = excluded.upto_seq, upto_hash = excluded.upto_hash, "
                       "key_id = excluded.key_id, sig = excluded.sig, ts_us = excluded.ts_us "
                       "WHERE excluded.seq > audit_anchors.seq",
                   {a.instance, i64(a.segment), i64(a.seq), hashHex(a.hash), i64(a.upto_seq),
                    hashHex(a.upto_hash), a.key, a.sig, Value{a.ts_us}});
  });
}

StoreAnchors::StoreAnchors(store::Store* store, Witness witness)
    : store_(store), witness_(witness), thread_([this] { run(); }) {
  if (witness_ == Witness::kSyslog) {
    ::openlog("jitgate", LOG_PID | LOG_NDELAY, LOG_AUTH);
  }
}

StoreAnchors::~StoreAnchors() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<std::optional<Anchor>> StoreAnchors::latest(const std::string& instance) {
  if (store_ == nullptr) {
    return std::optional<Anchor>();
  }
  auto rows = queryAnchors(*store_, " WHERE instance = ?", {instance});
  if (!rows) {
    return rows.status();
  }
  if (rows->empty()) {
    return std::optional<Anchor>();
  }
  return std::optional<Anchor>(std::move(rows->front()));
}

void StoreAnchors::onCheckpoint(const Anchor& anchor) {
  {
    std::lock_guard lk(mu_);
    pending_[anchor.instance] = anchor;  // a newer checkpoint supersedes one not yet written
  }
  cv_.notify_one();
}

void StoreAnchors::run() {
  std::unique_lock lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) {
      return;  // stop_ and drained
    }
    std::map<std::string, Anchor> items;
    items.swap(pending_);
    busy_ = true;
    lk.unlock();
    for (const auto& [instance, a] : items) {
      write(a);
    }
    lk.lock();
    busy_ = false;
    idle_.notify_all();
  }
}

void StoreAnchors::write(const Anchor& a) {
  Status st = store_ != nullptr ? saveAnchor(*store_, a) : Status::ok();
  if (witness_ == Witness::kSyslog) {
    ::syslog(LOG_NOTICE, "audit checkpoint anchor %s segment %llu", anchorToken(a).c_str(),
             static_cast<unsigned long long>(a.segment));
  }
  std::lock_guard lk(mu_);
  if (!st) {
    ++stats_.failures;
    if (error_.isOk()) {
      error_ = st;
    }
    log::error("", "audit log: anchoring checkpoint seq {} of {} in the state store failed: {}",
               a.seq, a.instance, st.message());
    return;
  }
  ++stats_.written;
  stats_.last_seq = std::max(stats_.last_seq, a.seq);
}

Status StoreAnchors::flush() {
  std::unique_lock lk(mu_);
  idle_.wait(lk, [&] { return pending_.empty() && !busy_; });
  Status st = error_;
  error_ = Status::ok();
  return st;
}

AnchorStats StoreAnchors::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

}  // namespace jg::audit
