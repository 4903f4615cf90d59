#include "server/cancel_relay.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <charconv>

#include "core/log.h"
#include "core/metrics.h"
#include "identity/digest.h"
#include "server/session.h"
#include "server/upstream.h"

namespace jg::server {

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

// The target by value: it lives in the coroutine's frame until the cancel is sent.
boost::asio::awaitable<void> cancelOn(CancelTarget target) {
  co_await sendCancel(target);
}

}  // namespace

CancelRelay::CancelRelay(store::Store& store, CancelRegistry& registry,
                         boost::asio::any_io_executor executor)
    : store_(store), registry_(registry), executor_(std::move(executor)) {}

CancelRelay::~CancelRelay() {
  feed_.reset();
}

Status CancelRelay::start() {
  auto feed = store_.follow([this](const store::StoreEvent& e) { onEvent(e); });
  if (!feed) {
    return feed.status();
  }
  feed_ = std::move(*feed);
  return Status::ok();
}

std::string CancelRelay::ref(int32_t process_id, int32_t secret_key) {
  std::string material = "jitgate-cancel:" + std::to_string(process_id) + ":" +
                         std::to_string(static_cast<uint32_t>(secret_key));
  return std::to_string(process_id) + ":" + hex(identity::sha256(material)).substr(0, 32);
}

bool CancelRelay::admit() {
  std::lock_guard lk(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - window_ >= std::chrono::seconds(1)) {
    window_ = now;
    in_window_ = 0;
  }
  return ++in_window_ <= kForwardsPerSecond;
}

Status CancelRelay::forward(int32_t process_id, int32_t secret_key) {
  if (!admit()) {
    return Status::error(Code::kResourceExhausted,
                         "too many cancel requests for other replicas; this one is dropped");
  }
  std::string r = ref(process_id, secret_key);
  return store_.transaction([&](store::Tx& tx) { return tx.publish(kKind, r); });
}

// On the feed's thread: a cancel for a key of this replica is sent from an I/O thread.
void CancelRelay::onEvent(const store::StoreEvent& e) {
  if (e.kind != kKind) {
    return;
  }
  std::string_view r = e.ref;
  size_t colon = r.find(':');
  int32_t pid = 0;
  if (colon == std::string_view::npos ||
      std::from_chars(r.data(), r.data() + colon, pid).ec != std::errc()) {
    return;
  }
  auto target = registry_.lookupIf(pid, [&](int32_t secret) { return ref(pid, secret) == r; });
  if (!target) {
    return;  // another replica's key, or one that has ended
  }
  metrics::cancelRelays().add({"served"});
  log::info("", "cancel request for backend {} relayed by another replica", pid);
  if (auto session = target->session.lock()) {
    session->cancelHold();
  }
  boost::asio::co_spawn(executor_, cancelOn(std::move(*target)), boost::asio::detached);
}

}  // namespace jg::server
