// The authorization half of Session: the policy binding at connect time, just-in-time access
// (grants, session and statement reviews) and the session's upstream credential. Every call
// that reaches the state store runs on the blocking pool, never on the I/O thread.
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/log_fields.h"
#include "core/metrics.h"
#include "proto/pg/encode.h"
#include "server/broker_approvals.h"
#include "server/cancel_relay.h"
#include "server/gateway.h"
#include "server/session.h"

namespace jg::server {

using namespace boost::asio::experimental::awaitable_operators;

namespace {

std::string notApproved(const std::string& review_id, access::ReviewState state,
                        const std::string& reason) {
  return fmt::format("review {} was not approved ({}){}{}", review_id,
                     state == access::ReviewState::kPending ? "timed out" : stateName(state),
                     reason.empty() ? "" : ": ", reason);
}

// The outcome of a wait for a review's decision, delivered on the session's executor.
struct Decided {
  enum class End { kPending, kDecided, kCanceled };
  End end = End::kPending;
  access::ReviewState state = access::ReviewState::kPending;
  std::string reason;
};

// Asks the broker to call back when `review_id` is decided (or times out); the outcome is posted
// to `ex` and wakes `timer`.
std::shared_ptr<access::Waiter> watchDecision(access::Broker& broker, const std::string& review_id,
                                              asio::any_io_executor ex,
                                              std::shared_ptr<asio::steady_timer> timer,
                                              std::shared_ptr<Decided> outcome) {
  return broker.waitForDecision(
      review_id, broker.settings().wait_timeout,
      [ex, timer, outcome](access::ReviewState state, std::string reason) {
        asio::post(ex, [timer, outcome, state, reason = std::move(reason)]() mutable {
          if (outcome->end == Decided::End::kPending) {
            *outcome = {Decided::End::kDecided, state, std::move(reason)};
          }
          timer->cancel();
        });
      });
}

// What a client may send while one of its statements is held, kept for the client pump; beyond
// it the session stops reading until the hold ends (backpressure).
constexpr size_t kMaxHeldInput = 4096;

enum class Watched { kDecided, kClientGone, kSessionEnding };

// Waits until the review is decided or the hold cancelled (`timer` is woken then), reading what
// the client sends meanwhile into `stash`: bytes read as the wait ends are kept too.
asio::awaitable<Watched> waitWatchingClient(ByteStream& client, asio::steady_timer& timer,
                                            const Decided& outcome, std::string& stash) {
  std::array<char, kMaxHeldInput> chunk;
  auto ex = co_await asio::this_coro::executor;
  auto state = co_await asio::this_coro::cancellation_state;
  while (outcome.end == Decided::End::kPending) {
    if (state.cancelled() != asio::cancellation_type::none) {
      co_return Watched::kSessionEnding;
    }
    if (stash.size() >= kMaxHeldInput) {
      co_await timer.async_wait(kNoThrow);
      continue;
    }
    // Named operations: GCC 12 mishandles temporaries in a co_await expression.
    auto read = asio::co_spawn(ex, client.readSome(asio::buffer(chunk)), asio::deferred);
    auto wait = timer.async_wait(asio::deferred);
    auto group = asio::experimental::make_parallel_group(std::move(wait), std::move(read));
    auto [order, waited, failed, got] =
        co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (failed) {  // the read threw: cancelled as the wait ended, or the stream failed
      if (order[0] == 1 && state.cancelled() == asio::cancellation_type::none) {
        co_return Watched::kClientGone;
      }
      continue;
    }
    auto [ec, n] = got;
    stash.append(chunk.data(), n);
    if (ec == asio::error::operation_aborted && order[0] == 1) {
      co_return Watched::kSessionEnding;  // Session::terminate cancelled the read
    }
    if (ec && ec != asio::error::operation_aborted) {
      co_return Watched::kClientGone;
    }
  }
  co_return Watched::kDecided;
}

}  // namespace

// Not a coroutine itself. Callers name the function they pass and the result they get: GCC 12
// destroys non-trivial temporaries of a co_await expression twice.
template <typename T, typename F>
asio::awaitable<T> Session::offThread(const F& fn) {
  return asio::co_spawn(
      services_.blockingPool(), [fn]() mutable -> asio::awaitable<T> { co_return fn(); },
      asio::use_awaitable);
}

asio::awaitable<Status> Session::authorizeSession() {
  if (auto it = rt_->catalogs.find(resource_); it != rt_->catalogs.end()) {
    catalog_ = it->second;
  }
  if (rt_->mask_engine) {
    masker_ = std::make_unique<ResultMasker>(rt_->mask_engine, catalog_);
  }
  binding_ = rt_->config->policy->bind(identity_, resource_, services_.clock().now());
  const auto& d = binding_.session;
  if (const auto& broker = services_.broker()) {
    auto grants = [broker, this] {
      std::vector<std::string> rules;
      for (const auto& g : broker->activeGrants(identity_, resource_)) {
        rules.push_back(g.rule_id);
      }
      return rules;
    };
    std::vector<std::string> rules = co_await offThread<std::vector<std::string>>(grants);
    granted_ = std::move(rules);
  }
  if (d.effect == policy::Effect::kDeny) {
    log::infoWith(id_,
                  {{"user", identity_.display()},
                   {"resource", resource_},
                   {"rule", d.rule_id},
                   {"sqlstate", "42501"}},
                  "session refused by policy: {}", d.message());
    co_return Status::error(Code::kPermissionDenied, d.message(), "42501");
  }
  if (d.effect == policy::Effect::kReview) {
    co_return co_await awaitSessionApproval(d);
  }
  co_return Status::ok();
}

void Session::attachGrant(const gate::GrantInfo& grant) {
  if (grant.expires_at < deadline_) {
    deadline_ = grant.expires_at;
    deadline_reason_ = fmt::format("the grant {} for resource \"{}\" ended at {}", grant.id,
                                   resource_, formatUtc(grant.expires_at));
  }
  if (std::find(granted_.begin(), granted_.end(), grant.rule_id) == granted_.end()) {
    granted_.push_back(grant.rule_id);
  }
  std::weak_ptr<Session> weak = weak_from_this();
  grant_watch_ = services_.broker()->watchGrant(grant.id, [weak](std::string why) {
    if (auto self = weak.lock()) {
      self->terminate("57P01", why);
    }
  });
  log::info(id_, "session admitted under grant {} (rule {}) until {}", grant.id, grant.rule_id,
            formatUtc(grant.expires_at));
}

asio::awaitable<Status> Session::awaitSessionApproval(const policy::Decision& d) {
  const auto& broker = services_.broker();
  if (!broker) {
    co_return Status::error(Code::kPermissionDenied,
                            d.message() + "; this gateway has no store for reviews (set store:)",
                            "42501");
  }
  using Found =
      std::pair<std::optional<gate::GrantInfo>, std::optional<Result<gate::CreatedReview>>>;
  auto lookup = [&]() -> Found {
    BrokerApprovals approvals(*broker, identity_, resource_, id_,
                              access::ClientInfo{client_addr_, application_name_});
    if (auto grant = approvals.activeGrant(d.role)) {
      return {grant, std::nullopt};
    }
    gate::ReviewDraft draft{
        gate::ReviewDraft::Scope::kSession, d.rule_id, d.reason, d.role, d.review, {}, {}};
    return {std::nullopt, approvals.create(draft)};
  };
  Found found = co_await offThread<Found>(lookup);
  if (found.first) {
    attachGrant(*found.first);
    co_return Status::ok();
  }
  if (!*found.second) {
    co_return Status::error(Code::kUnavailable, found.second->status().message(), "XX000");
  }
  const gate::CreatedReview& review = **found.second;
  if (d.review->mode == policy::ReviewSpec::Mode::kFailFast) {
    co_return Status::error(Code::kPermissionDenied,
                            fmt::format("access to resource \"{}\" needs approval: review {} "
                                        "(rule {}); {}",
                                        resource_, review.id, d.rule_id, review.hint),
                            "42501");
  }
  if (Status st = co_await writeNotice(
          fmt::format("waiting for approval of review {}: {}", review.id, review.hint));
      !st) {
    co_return st;
  }
  co_return co_await waitSessionDecision(review.id, d);
}

asio::awaitable<Status> Session::waitSessionDecision(const std::string& review_id,
                                                     const policy::Decision& d) {
  log::info(id_, "waiting for approval of review {}", review_id);
  // The wait is bounded by access.wait_timeout (the broker's waiter), not by timeouts.startup;
  // the rest of startup gets a fresh startup window once the review is decided.
  moveStartupDeadline(std::chrono::steady_clock::time_point::max());
  struct Restart {
    Session& s;
    ~Restart() {
      s.moveStartupDeadline(std::chrono::steady_clock::now() + s.rt_->config->timeouts.startup);
    }
  } restart{*this};
  auto timer = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
  auto outcome = std::make_shared<Decided>();
  auto waiter = watchDecision(*services_.broker(), review_id, ex_, timer, outcome);
  // Meanwhile, a client that goes away ends the wait; what it sends is kept for the client pump.
  Watched watched = co_await waitWatchingClient(*client_, *timer, *outcome, held_input_);
  if (watched != Watched::kDecided) {
    waiter->cancel();
    co_return Status::error(Code::kUnavailable, "client went away while waiting for approval");
  }
  if (outcome->state != access::ReviewState::kApproved) {
    co_return Status::error(Code::kPermissionDenied,
                            notApproved(review_id, outcome->state, outcome->reason), "42501");
  }
  auto lookup = [&] {
    return BrokerApprovals(*services_.broker(), identity_, resource_, id_).activeGrant(d.role);
  };
  std::optional<gate::GrantInfo> grant = co_await offThread<std::optional<gate::GrantInfo>>(lookup);
  if (!grant) {
    co_return Status::error(
        Code::kPermissionDenied,
        fmt::format("review {} was approved but its grant is no longer active", review_id),
        "42501");
  }
  attachGrant(*grant);
  co_return Status::ok();
}

asio::awaitable<void> Session::settle(Gated& g) {
  const auto& broker = services_.broker();
  gate::SqlRequest request{g.classification, sql_ctx_, g.sql, !g.name.empty()};
  auto settleIt = [&] {
    gate::Gate gate(*rt_->config->policy);
    auto now = services_.clock().now();
    if (!broker) {
      return gate.settle(std::move(g.verdict), caller(), request, nullptr, now);
    }
    BrokerApprovals approvals(*broker, identity_, resource_, id_,
                              access::ClientInfo{client_addr_, application_name_});
    return gate.settle(std::move(g.verdict), caller(), request, &approvals, now);
  };
  gate::Verdict settled = co_await offThread<gate::Verdict>(settleIt);
  g.verdict = std::move(settled);
  if (g.verdict.grant) {
    attachGrant(*g.verdict.grant);
  }
  if (!g.verdict.approval.empty()) {
    log::info(id_, "statement runs under approval {}", g.verdict.approval);
  }
}

asio::awaitable<Status> Session::writeNotice(const std::string& message) {
  std::string notice;
  pg::encodeError(notice, "NOTICE", "00000", message, {}, {}, pg::be::kNoticeResponse);
  co_await client_write_.lock();
  auto ec = co_await client_->writeAll(notice);
  client_write_.unlock();
  if (ec) {
    co_return Status::error(Code::kUnavailable, "client disconnected");
  }
  co_return Status::ok();
}

// A key this replica did not hand out: another replica's, through the shared store, if any.
asio::awaitable<void> Session::relayCancel(const pg::CancelRequest& req) {
  CancelRelay* relay = services_.cancelRelay();
  if (relay == nullptr || !relay->active()) {
    log::warn(id_, "cancel request for unknown backend {} ignored", req.process_id);
    co_return;
  }
  auto forward = [relay, req] { return relay->forward(req.process_id, req.secret_key); };
  Status st = co_await offThread<Status>(forward);
  metrics::cancelRelays().add({st ? "relayed" : "dropped"});
  if (!st) {
    log::warn(id_, "cancel request for backend {} not relayed: {}", req.process_id, st.message());
    co_return;
  }
  log::info(id_, "cancel request for backend {} relayed to the other replicas", req.process_id);
}

void Session::cancelHold() {
  auto self = shared_from_this();
  asio::post(ex_, [self] {
    if (self->hold_cancel_) {
      self->hold_cancel_();
    } else if (self->gating_) {
      self->gate_cancelled_ = true;
    }
  });
}

asio::awaitable<Status> Session::holdForApproval(const gate::Verdict& held) {
  const std::string& review_id = held.review_id;
  if (Status st = co_await writeNotice(
          fmt::format("waiting for approval of review {}: {}", review_id, held.approval_hint));
      !st) {
    co_return st;
  }
  log::info(id_, "holding a statement for approval of review {}", review_id);
  auto timer = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
  auto outcome = std::make_shared<Decided>();
  auto waiter = watchDecision(*services_.broker(), review_id, ex_, timer, outcome);
  hold_cancel_ = [timer, outcome] {
    if (outcome->end == Decided::End::kPending) {
      outcome->end = Decided::End::kCanceled;
    }
    timer->cancel();
  };
  if (gate_cancelled_) {
    hold_cancel_();  // cancelled while the review was being asked for
  }
  // The client may go on sending (kept for the client pump), or go away: that ends the wait.
  Watched watched = co_await waitWatchingClient(*client_, *timer, *outcome, held_input_);
  hold_cancel_ = nullptr;
  if (watched != Watched::kDecided) {
    waiter->cancel();
    client_terminated_ = watched == Watched::kClientGone;  // nobody to tell
    co_return Status::error(Code::kUnavailable,
                            "the session ended while a statement waited for approval");
  }
  if (outcome->end == Decided::End::kCanceled) {
    waiter->cancel();
    co_return Status::error(Code::kUnavailable, "canceling statement due to user request", "57014");
  }
  if (outcome->state != access::ReviewState::kApproved) {
    co_return Status::error(Code::kPermissionDenied,
                            notApproved(review_id, outcome->state, outcome->reason), "42501");
  }
  auto consume = [&] {
    return BrokerApprovals(*services_.broker(), identity_, resource_, id_).consume(held.key);
  };
  std::optional<std::string> consumed = co_await offThread<std::optional<std::string>>(consume);
  if (!consumed) {
    co_return Status::error(
        Code::kPermissionDenied,
        fmt::format("review {} was approved but its approval is no longer valid", review_id),
        "42501");
  }
  log::info(id_, "statement runs under approval {}", review_id);
  co_return Status::ok();
}

asio::awaitable<Status> Session::issueCredential(UpstreamCredentials& creds) {
  const auto& issuer = services_.issuer();
  const creds::ResourceCreds* settings = issuer ? issuer->settings(resource_) : nullptr;
  if (settings == nullptr || settings->mode != creds::Mode::kEphemeral) {
    co_return Status::ok();  // static credentials from the resource
  }
  auto not_after = deadline_ != std::chrono::system_clock::time_point::max()
                       ? deadline_
                       : std::chrono::system_clock::now() + settings->max_ttl;
  // Blocking admin SQL on the pool.
  using Issued = std::pair<Status, std::optional<creds::Lease>>;
  auto issue = [issuer, resource = resource_, role = std::string(binding_.session.role), id = id_,
                not_after]() -> Issued {
    auto lease = issuer->issue(resource, role, id, not_after);
    if (!lease) {
      return {lease.status(), std::nullopt};
    }
    return {Status::ok(), std::move(*lease)};
  };
  Issued result = co_await offThread<Issued>(issue);
  if (!result.first) {
    log::warn(id_, "{}", result.first.message());
    co_return result.first;
  }
  lease_ = std::move(result.second);
  creds.user = lease_->user;
  creds.password = lease_->password.reveal();
  if (lease_->valid_until < deadline_) {
    deadline_ = lease_->valid_until;
    deadline_reason_ = fmt::format("the session's upstream credential expired at {}",
                                   formatUtc(lease_->valid_until));
  }
  log::info(id_, "session role {} (member of {}) valid until {}", lease_->role_name,
            lease_->member_of, formatUtc(lease_->valid_until));
  co_return Status::ok();
}

}  // namespace jg::server
