// The authorization half of Session: the policy binding at connect time, just-in-time access
// (grants, session and statement reviews) and the session's upstream credential.
#include <openssl/sha.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/random.h"
#include "proto/pg/encode.h"
#include "server/gateway.h"
#include "server/session.h"

namespace jg::server {

using namespace boost::asio::experimental::awaitable_operators;

asio::awaitable<Status> Session::authorizeSession() {
  if (auto it = rt_->catalogs.find(resource_); it != rt_->catalogs.end()) {
    catalog_ = it->second;
  }
  if (rt_->mask_engine) {
    masker_ = std::make_unique<ResultMasker>(rt_->mask_engine, catalog_);
  }
  const auto& policy = rt_->config->policy;
  binding_ = policy->bind(identity_, resource_, Clock::system().now());
  const auto& d = binding_.session;
  if (const auto& broker = gateway_.broker()) {
    for (const auto& g : broker->activeGrants(identity_, resource_)) {
      granted_.push_back(g.rule_id);
    }
  }
  if (d.effect == policy::Effect::kDeny) {
    log::info(id_, "session refused: {}", d.message());
    co_return Status::error(Code::kPermissionDenied, d.message(), "42501");
  }
  if (d.effect == policy::Effect::kReview) {
    co_return co_await awaitSessionApproval(d);
  }
  co_return Status::ok();
}

void Session::attachGrant(const access::Grant& grant) {
  if (grant.expires_at < deadline_) {
    deadline_ = grant.expires_at;
    deadline_reason_ = fmt::format("the grant {} for resource \"{}\" ended at {}", grant.id,
                                   resource_, formatUtc(grant.expires_at));
  }
  if (std::find(granted_.begin(), granted_.end(), grant.rule_id) == granted_.end()) {
    granted_.push_back(grant.rule_id);
  }
  std::weak_ptr<Session> weak = weak_from_this();
  grant_watch_ = gateway_.broker()->watchGrant(grant.id, [weak](std::string why) {
    if (auto self = weak.lock()) {
      self->terminate("57P01", why);
    }
  });
  log::info(id_, "session admitted under grant {} (rule {}) until {}", grant.id, grant.rule_id,
            formatUtc(grant.expires_at));
}

asio::awaitable<Status> Session::awaitSessionApproval(const policy::Decision& d) {
  const auto& broker = gateway_.broker();
  if (!broker) {
    co_return Status::error(Code::kPermissionDenied,
                            d.message() + "; this gateway has no store for reviews (set store:)",
                            "42501");
  }
  if (auto grant = broker->activeGrant(identity_, resource_, d.role)) {
    attachGrant(*grant);
    co_return Status::ok();
  }
  access::ReviewRequest req;
  req.requester = identity_;
  req.scope = access::Scope::kSession;
  req.resource = resource_;
  req.role = std::string(d.role);
  req.rule_id = std::string(d.rule_id);
  req.reason = std::string(d.reason);
  req.spec = *d.review;
  req.session_id = id_;
  auto review = broker->createReview(req);
  if (!review) {
    co_return Status::error(Code::kUnavailable, review.status().message(), "XX000");
  }
  std::string hint = broker->approvalHint(review->id);
  if (d.review->mode == policy::ReviewSpec::Mode::kFailFast) {
    co_return Status::error(Code::kPermissionDenied,
                            fmt::format("access to resource \"{}\" needs approval: review {} "
                                        "(rule {}); {}",
                                        resource_, review->id, d.rule_id, hint),
                            "42501");
  }
  std::string notice;
  pg::encodeError(notice, "NOTICE", "00000",
                  fmt::format("waiting for approval of review {}: {}", review->id, hint), {}, {},
                  pg::be::kNoticeResponse);
  if (auto ec = co_await client_->writeAll(notice)) {
    co_return Status::error(Code::kUnavailable, ec.message());
  }
  log::info(id_, "waiting for approval of review {}", review->id);
  // The decision arrives on another thread: it posts the outcome here and wakes the timer.
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::hours(24 * 365));
  auto outcome = std::make_shared<std::pair<access::ReviewState, std::string>>(
      access::ReviewState::kPending, "");
  auto waiter = broker->waitForDecision(
      review->id, broker->settings().wait_timeout,
      [ex, timer, outcome](access::ReviewState state, std::string reason) {
        asio::post(ex, [timer, outcome, state, reason = std::move(reason)]() mutable {
          *outcome = {state, std::move(reason)};
          timer->cancel();
        });
      });
  // Meanwhile, a client that goes away ends the wait.
  char probe;
  auto gone = client_->readSome(asio::buffer(&probe, 1));
  auto which = co_await (timer->async_wait(kNoThrow) || std::move(gone));
  if (which.index() == 1) {
    waiter->cancel();
    co_return Status::error(Code::kUnavailable, "client went away while waiting for approval");
  }
  if (outcome->first != access::ReviewState::kApproved) {
    co_return Status::error(Code::kPermissionDenied,
                            fmt::format("review {} was not approved ({}){}{}", review->id,
                                        outcome->first == access::ReviewState::kPending
                                            ? "timed out"
                                            : access::stateName(outcome->first),
                                        outcome->second.empty() ? "" : ": ", outcome->second),
                            "42501");
  }
  auto grant = broker->activeGrant(identity_, resource_, d.role);
  if (!grant) {
    co_return Status::error(Code::kPermissionDenied,
                            fmt::format("review {} was approved but its grant is no longer "
                                        "active",
                                        review->id),
                            "42501");
  }
  attachGrant(*grant);
  co_return Status::ok();
}

bool Session::statementApproved(const policy::Decision& d, const sql::Classification& c,
                                std::string_view sql, std::string& message) {
  const auto& broker = gateway_.broker();
  if (!broker) {
    message = d.message() + "; this gateway has no store for reviews";
    return false;
  }
  std::string fingerprint;
  for (const auto& st : c.statements) {
    fingerprint += fmt::format("{}{:016x}", fingerprint.empty() ? "" : ",", st.fingerprint);
  }
  // Literals are part of "exactly this statement": the fingerprint normalizes them away, so the
  // statement text's digest stands in for the parameters.
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sql.data()), sql.size(), digest);
  const std::string params_hash =
      toHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  if (auto approved =
          broker->consumeStatementApproval(identity_, resource_, fingerprint, params_hash)) {
    log::info(id_, "statement runs under approval {}", *approved);
    return true;
  }
  access::ReviewRequest req;
  req.requester = identity_;
  req.scope = access::Scope::kStatement;
  req.resource = resource_;
  req.rule_id = std::string(d.rule_id);
  req.reason = std::string(d.reason);
  req.spec = *d.review;
  req.statement_text = std::string(sql);
  req.fingerprint = fingerprint;
  req.params_hash = params_hash;
  req.session_id = id_;
  auto review = broker->createReview(req);
  if (!review) {
    message = "cannot create a review: " + review.status().message();
    return false;
  }
  message = fmt::format("{}: review {} created; {}", d.message(), review->id,
                        broker->approvalHint(review->id));
  if (d.review->mode == policy::ReviewSpec::Mode::kWait) {
    hold_review_ = review->id;  // the client pump holds the statement (holdForApproval)
    hold_fingerprint_ = fingerprint;
    hold_params_hash_ = params_hash;
  }
  return false;
}

asio::awaitable<void> Session::waitClientWriteFree() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex);
  while (client_write_busy_) {
    t.expires_after(std::chrono::milliseconds(1));
    co_await t.async_wait(kNoThrow);
  }
}

void Session::cancelHold() {
  auto self = shared_from_this();
  asio::post(client_->socket().get_executor(), [self] {
    if (self->hold_cancel_) {
      self->hold_cancel_();
    }
  });
}

asio::awaitable<Status> Session::holdForApproval() {
  const auto& broker = gateway_.broker();
  const std::string review_id = hold_review_;
  std::string notice;
  pg::encodeError(notice, "NOTICE", "00000",
                  fmt::format("waiting for approval of review {}: {}", review_id,
                              broker->approvalHint(review_id)),
                  {}, {}, pg::be::kNoticeResponse);
  co_await waitClientWriteFree();
  client_write_busy_ = true;
  auto ec = co_await client_->writeAll(notice);
  client_write_busy_ = false;
  if (ec) {
    co_return Status::error(Code::kUnavailable, "client disconnected");
  }
  log::info(id_, "holding a statement for approval of review {}", review_id);
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::hours(24 * 365));
  enum class End { kPending, kDecided, kCanceled };
  auto outcome = std::make_shared<std::tuple<End, access::ReviewState, std::string>>(
      End::kPending, access::ReviewState::kPending, "");
  auto waiter = broker->waitForDecision(
      review_id, broker->settings().wait_timeout,
      [ex, timer, outcome](access::ReviewState state, std::string reason) {
        asio::post(ex, [timer, outcome, state, reason = std::move(reason)]() mutable {
          if (std::get<0>(*outcome) == End::kPending) {
            *outcome = {End::kDecided, state, std::move(reason)};
          }
          timer->cancel();
        });
      });
  hold_cancel_ = [timer, outcome] {
    if (std::get<0>(*outcome) == End::kPending) {
      std::get<0>(*outcome) = End::kCanceled;
    }
    timer->cancel();
  };
  co_await timer->async_wait(kNoThrow);
  hold_cancel_ = nullptr;
  if (std::get<0>(*outcome) == End::kCanceled) {
    waiter->cancel();
    co_return Status::error(Code::kUnavailable, "canceling statement due to user request", "57014");
  }
  if (std::get<1>(*outcome) != access::ReviewState::kApproved) {
    const auto state = std::get<1>(*outcome);
    const std::string& reason = std::get<2>(*outcome);
    co_return Status::error(
        Code::kPermissionDenied,
        fmt::format("review {} was not approved ({}){}{}", review_id,
                    state == access::ReviewState::kPending ? "timed out" : access::stateName(state),
                    reason.empty() ? "" : ": ", reason),
        "42501");
  }
  if (!broker->consumeStatementApproval(identity_, resource_, hold_fingerprint_,
                                        hold_params_hash_)) {
    co_return Status::error(Code::kPermissionDenied,
                            fmt::format("review {} was approved but its approval is no longer "
                                        "valid",
                                        review_id),
                            "42501");
  }
  log::info(id_, "statement runs under approval {}", review_id);
  co_return Status::ok();
}

asio::awaitable<Status> Session::issueCredential(UpstreamCredentials& creds) {
  const auto& issuer = gateway_.issuer();
  const creds::ResourceCreds* settings = issuer ? issuer->settings(resource_) : nullptr;
  if (settings == nullptr || settings->mode != creds::Mode::kEphemeral) {
    co_return Status::ok();  // static credentials from the resource
  }
  auto not_after = deadline_ != std::chrono::system_clock::time_point::max()
                       ? deadline_
                       : std::chrono::system_clock::now() + settings->max_ttl;
  // Blocking admin SQL on the pool; named task and result (see verifyToken()).
  auto task = [issuer, resource = resource_, role = std::string(binding_.session.role), id = id_,
               not_after]() -> asio::awaitable<std::pair<Status, std::optional<creds::Lease>>> {
    auto lease = issuer->issue(resource, role, id, not_after);
    if (!lease) {
      co_return std::make_pair(lease.status(), std::optional<creds::Lease>());
    }
    co_return std::make_pair(Status::ok(), std::optional<creds::Lease>(std::move(*lease)));
  };
  std::pair<Status, std::optional<creds::Lease>> result =
      co_await asio::co_spawn(gateway_.blockingPool(), task, asio::use_awaitable);
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
