#include "access/broker.h"

#include <algorithm>

#include "core/log.h"
#include "core/random.h"

namespace jg::access {

struct Waiter::State {
  std::atomic<bool> done{false};
  DecisionCallback cb;
  std::string review_id;
  TimePoint deadline;
  std::chrono::milliseconds timeout{0};
  std::weak_ptr<Broker> broker;

  void fire(ReviewState state, const std::string& reason) {
    if (!done.exchange(true)) {
      cb(state, reason);
      cb = nullptr;
    }
  }
};

struct Subscription::State {
  std::atomic<bool> done{false};
  GrantEndCallback cb;
  std::string grant_id;
  std::weak_ptr<Broker> broker;

  void fire(const std::string& why) {
    if (!done.exchange(true)) {
      cb(why);
      cb = nullptr;
    }
  }
};

namespace {

template <typename T>
void eraseFrom(std::map<std::string, std::vector<std::shared_ptr<T>>>& m, const std::string& key,
               const T* item) {
  auto it = m.find(key);
  if (it == m.end()) {
    return;
  }
  std::erase_if(it->second, [&](const auto& p) { return p.get() == item; });
  if (it->second.empty()) {
    m.erase(it);
  }
}

std::string revokedWhy(const Grant& g) {
  return "access grant " + g.id + " on " + g.resource + " was revoked by " + g.ended_by + " at " +
         formatUtc(g.ended_at) + (g.end_reason.empty() ? "" : ": " + g.end_reason);
}

std::string expiredWhy(const Grant& g) {
  return "access grant " + g.id + " on " + g.resource + " expired at " + formatUtc(g.expires_at);
}

std::string endedWhy(const Grant& g) {
  return g.state == GrantState::kRevoked ? revokedWhy(g) : expiredWhy(g);
}

}  // namespace

bool Waiter::cancel() {
  if (s_->done.exchange(true)) {
    return false;
  }
  if (auto b = s_->broker.lock()) {
    std::lock_guard lk(b->mu_);
    eraseFrom(b->waiters_, s_->review_id, s_.get());
  }
  s_->cb = nullptr;
  return true;
}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    s_ = std::move(other.s_);
  }
  return *this;
}

void Subscription::reset() {
  if (!s_) {
    return;
  }
  s_->done.store(true);
  if (auto b = s_->broker.lock()) {
    std::lock_guard lk(b->mu_);
    eraseFrom(b->watchers_, s_->grant_id, s_.get());
    if (b->watchers_.find(s_->grant_id) == b->watchers_.end()) {
      b->watched_expiry_.erase(s_->grant_id);
    }
  }
  s_.reset();
}

std::string describeDecision(const Review& r) {
  std::string who;
  std::string comment;
  for (const auto& d : r.decisions) {
    if (d.approve == (r.state != ReviewState::kRejected)) {
      who += (who.empty() ? "" : ", ") + d.approver.display();
      if (!d.comment.empty()) {
        comment = d.comment;
      }
    }
  }
  switch (r.state) {
    case ReviewState::kApproved:
      return "review " + r.id + " was approved by " + who;
    case ReviewState::kRejected:
      return "review " + r.id + " was rejected by " + who + (comment.empty() ? "" : ": " + comment);
    case ReviewState::kExpired:
      return "review " + r.id + " expired at " + formatUtc(r.expires_at) + " without a decision";
    case ReviewState::kRevoked:
      return "review " + r.id + " was approved, then its grant was revoked";
    case ReviewState::kPending:
      break;
  }
  return "review " + r.id + " is pending (" + std::to_string(r.approvals()) + " of " +
         std::to_string(r.approver_count) + " approvals)";
}

Result<std::shared_ptr<Broker>> Broker::create(store::Store& store, BrokerOptions options) {
  auto repo = Repository::open(store);
  if (!repo) {
    return repo.status();
  }
  std::shared_ptr<Broker> b(new Broker(std::move(*repo), std::move(options)));
  if (b->options_.follow_store_events) {
    // The feed is stopped in stop() (run by the destructor), so `raw` outlives every call.
    auto feed = store.follow([raw = b.get()](const store::StoreEvent& e) { raw->onStoreEvent(e); });
    if (!feed) {
      return feed.status();
    }
    b->feed_ = std::move(*feed);
  }
  if (b->options_.start_sweeper) {
    b->sweeper_ = std::thread([raw = b.get()] { raw->sweeperLoop(); });
  }
  return b;
}

Broker::Broker(std::unique_ptr<Repository> repo, BrokerOptions options)
    : repo_(std::move(repo)), options_(std::move(options)) {}

Broker::~Broker() {
  stop();
}

void Broker::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sweeper_.joinable()) {
    if (sweeper_.get_id() == std::this_thread::get_id()) {
      sweeper_.detach();  // the last reference went away in a callback run by the sweeper
    } else {
      sweeper_.join();
    }
  }
  feed_.reset();  // joins the feed's thread, unless this runs on it (then it ends by itself)
}

std::optional<Grant> Broker::activeGrant(const identity::Identity& who, std::string_view resource,
                                         std::string_view role) {
  auto g =
      repo_->activeGrant(who.issuer, who.subject, std::string(resource), std::string(role), now());
  if (!g) {
    log::error("", "access: cannot read grants: {}", g.status().message());
    return std::nullopt;
  }
  return *g;
}

std::vector<Grant> Broker::activeGrants(const identity::Identity& who, std::string_view resource) {
  auto g = repo_->activeGrants(who.issuer, who.subject, std::string(resource), now());
  if (!g) {
    log::error("", "access: cannot read grants: {}", g.status().message());
    return {};
  }
  return std::move(*g);
}

std::optional<std::string> Broker::consumeStatementApproval(const identity::Identity& who,
                                                            std::string_view resource,
                                                            std::string_view fingerprint,
                                                            std::string_view params_hash) {
  auto r = repo_->consumeStatement(who.issuer, who.subject, std::string(resource),
                                   std::string(fingerprint), std::string(params_hash), now());
  if (!r) {
    log::error("", "access: cannot read statement approvals: {}", r.status().message());
    return std::nullopt;
  }
  if (!*r) {
    return std::nullopt;
  }
  emit(AccessEvent{
      AccessEvent::Type::kStatementApprovalUsed, now(), Person::from(who), {}, **r, std::nullopt});
  return (*r)->id;
}

Result<Review> Broker::createReview(const ReviewRequest& req) {
  const auto& spec = req.spec;
  if (req.resource.empty()) {
    return invalidArgument("a review needs a resource");
  }
  if (req.scope == Scope::kStatement && req.fingerprint.empty()) {
    return invalidArgument("a statement review needs the statement's fingerprint");
  }
  if (spec.approver_groups.empty() || spec.approver_count < 1) {
    return invalidArgument("rule " + req.rule_id + " names no approvers");
  }
  Review r;
  r.id = "r-" + randomId(12);
  r.scope = req.scope;
  r.requester = Person::from(req.requester);
  r.resource = req.resource;
  r.role = req.role;
  r.rule_id = req.rule_id;
  r.reason = req.reason;
  r.statement_text = req.statement_text;
  r.fingerprint = req.fingerprint;
  r.params_hash = req.params_hash;
  r.session_id = req.session_id;
  r.client = req.client;
  r.approver_groups = spec.approver_groups;
  r.approver_count = spec.approver_count;
  auto duration = std::min(spec.grant, options_.settings.max_grant);
  if (req.duration.count() > 0) {
    duration = std::min(duration, req.duration);
  }
  r.grant_duration = duration;
  r.mode = spec.mode;
  r.created_at = now();
  r.expires_at = r.created_at + options_.settings.pending_expiry;
  auto stored = repo_->insertOrGetPending(r, requestKey(r));
  if (!stored) {
    return stored.status();
  }
  if (stored->id == r.id) {
    emit(AccessEvent{
        AccessEvent::Type::kReviewCreated, r.created_at, std::nullopt, {}, *stored, std::nullopt});
    wakeSweeper();
  }
  return stored;
}

std::shared_ptr<Waiter> Broker::waitForDecision(const std::string& id,
                                                std::chrono::milliseconds timeout,
                                                DecisionCallback done) {
  auto s = std::make_shared<Waiter::State>();
  s->cb = std::move(done);
  s->review_id = id;
  s->timeout = timeout;
  s->deadline = now() + timeout;
  s->broker = weak_from_this();
  {
    std::lock_guard lk(mu_);
    waiters_[id].push_back(s);
  }
  wakeSweeper();
  // Decided before we registered (or unknown): answer now.
  auto r = repo_->review(id);
  if (!r) {
    finishWaiters(id, ReviewState::kPending,
                  "cannot read review " + id + ": " + r.status().message());
  } else if (!*r) {
    finishWaiters(id, ReviewState::kExpired, "no review " + id);
  } else if ((*r)->state != ReviewState::kPending) {
    finishWaiters(id, (*r)->state, describeDecision(**r));
  }
  return std::make_shared<Waiter>(std::move(s));
}

Subscription Broker::watchGrant(const std::string& grant_id, GrantEndCallback on_end) {
  auto s = std::make_shared<Subscription::State>();
  s->cb = std::move(on_end);
  s->grant_id = grant_id;
  s->broker = weak_from_this();
  {
    // Registered before the read, so an end committed after the read reaches this watcher.
    std::lock_guard lk(mu_);
    watchers_[grant_id].push_back(s);
  }
  auto g = repo_->grant(grant_id);
  if (g && *g) {
    std::lock_guard lk(mu_);
    if (watchers_.contains(grant_id)) {
      watched_expiry_[grant_id] = (*g)->expires_at;
    }
  }
  wakeSweeper();
  if (!g) {
    endGrant(grant_id, "cannot read access grant " + grant_id + ": " + g.status().message());
  } else if (!*g) {
    endGrant(grant_id, "no access grant " + grant_id);
  } else if ((*g)->state != GrantState::kActive) {
    endGrant(grant_id, endedWhy(**g));
  } else if ((*g)->expires_at <= now()) {
    // Past its window: expire it (and everything watching it) now, without waiting for the
    // replica whose turn it is to expire.
    expireDue(now());
  }
  return Subscription(std::move(s));
}

Result<Review> Broker::approve(const std::string& id, const identity::Identity& approver,
                               std::string comment) {
  return decide(id, approver, true, std::move(comment));
}

Result<Review> Broker::reject(const std::string& id, const identity::Identity& approver,
                              std::string comment) {
  return decide(id, approver, false, std::move(comment));
}

Result<Review> Broker::decide(const std::string& id, const identity::Identity& who, bool approve,
                              std::string comment) {
  const TimePoint t = now();
  ReviewDecision d{Person::from(who), approve, std::move(comment), t};
  auto out = repo_->decide(id, d, t, options_.settings.statement_validity);
  if (!out) {
    return out.status();
  }
  if (out->expired) {
    emit(AccessEvent{
        AccessEvent::Type::kReviewExpired, t, std::nullopt, {}, out->review, std::nullopt});
    finishWaiters(id, ReviewState::kExpired, describeDecision(out->review));
  }
  if (!out->status) {
    return out->status;
  }
  const Review& r = out->review;
  if (!out->finalized) {
    emit(
        AccessEvent{AccessEvent::Type::kReviewApproval, t, d.approver, d.comment, r, std::nullopt});
    return r;
  }
  emit(
      AccessEvent{approve ? AccessEvent::Type::kReviewApproved : AccessEvent::Type::kReviewRejected,
                  t, d.approver, d.comment, r, std::nullopt});
  if (out->grant) {
    emit(AccessEvent{AccessEvent::Type::kGrantCreated, t, d.approver, {}, r, out->grant});
    wakeSweeper();
  }
  finishWaiters(id, r.state, describeDecision(r));
  return r;
}

Result<Grant> Broker::revokeGrant(const std::string& grant_id, const identity::Identity& by,
                                  std::string reason) {
  const TimePoint t = now();
  auto out = repo_->revoke(grant_id, Person::from(by), reason, t);
  if (!out) {
    return out.status();
  }
  if (out->expired) {
    emit(AccessEvent{AccessEvent::Type::kGrantExpired,
                     out->grant.expires_at,
                     std::nullopt,
                     {},
                     std::nullopt,
                     out->grant});
    endGrant(grant_id, expiredWhy(out->grant));
  }
  if (!out->status) {
    return out->status;
  }
  emit(AccessEvent{AccessEvent::Type::kGrantRevoked, t, Person::from(by), reason, std::nullopt,
                   out->grant});
  endGrant(grant_id, revokedWhy(out->grant));
  return out->grant;
}

Result<std::optional<Review>> Broker::review(const std::string& id) {
  return repo_->review(id);
}

Result<std::optional<Grant>> Broker::grant(const std::string& id) {
  return repo_->grant(id);
}

Result<std::vector<Review>> Broker::listReviews(const ReviewFilter& filter) {
  return repo_->listReviews(filter);
}

Result<std::vector<Grant>> Broker::listGrants(const GrantFilter& filter) {
  return repo_->listGrants(filter);
}

std::string Broker::approvalHint(const std::string& review_id) const {
  std::string hint = "approve with `jitgate review approve " + review_id + "`";
  std::string url = options_.settings.public_url;
  if (!url.empty()) {
    while (url.ends_with('/')) {
      url.pop_back();
    }
    hint += " or at " + url + "/api/v1/reviews/" + review_id;
  }
  return hint;
}

void Broker::emit(AccessEvent event) {
  if (options_.audit) {
    options_.audit(event);
  }
  if (options_.notify) {
    options_.notify(event);
  }
}

void Broker::finishWaiters(const std::string& review_id, ReviewState state,
                           const std::string& reason) {
  std::vector<std::shared_ptr<Waiter::State>> ready;
  {
    std::lock_guard lk(mu_);
    if (auto it = waiters_.find(review_id); it != waiters_.end()) {
      ready = std::move(it->second);
      waiters_.erase(it);
    }
  }
  for (auto& w : ready) {
    w->fire(state, reason);
  }
}

void Broker::endGrant(const std::string& grant_id, const std::string& why) {
  std::vector<std::shared_ptr<Subscription::State>> ready;
  {
    std::lock_guard lk(mu_);
    if (auto it = watchers_.find(grant_id); it != watchers_.end()) {
      ready = std::move(it->second);
      watchers_.erase(it);
    }
    watched_expiry_.erase(grant_id);
  }
  for (auto& w : ready) {
    w->fire(why);
  }
}

void Broker::sweep() {
  sweepPass(true);
}

void Broker::sweepPass(bool poll_remote) {
  const TimePoint t = now();
  // Another replica's turn: its expiries reach the reviews waited on and the grants watched
  // here as store events (or through the poll below), as its decisions do.
  const bool turn = !options_.expiry_turn || options_.expiry_turn();
  expiry_turn_ = turn;
  if (turn) {
    expireDue(t);
  }
  if (poll_remote) {
    pollRemoteChanges();
  }
  timeoutWaiters(t);
}

// Conditional updates: when two replicas expire at once (a lease that changed hands in between),
// each review and grant still expires once, with one event.
void Broker::expireDue(TimePoint t) {
  if (auto reviews = repo_->expirePending(t); reviews) {
    for (const auto& r : *reviews) {
      emit(AccessEvent{AccessEvent::Type::kReviewExpired, t, std::nullopt, {}, r, std::nullopt});
      finishWaiters(r.id, ReviewState::kExpired, describeDecision(r));
    }
  } else {
    log::error("", "access: cannot expire reviews: {}", reviews.status().message());
  }
  if (auto grants = repo_->expireGrants(t); grants) {
    for (const auto& g : *grants) {
      emit(AccessEvent{
          AccessEvent::Type::kGrantExpired, g.expires_at, std::nullopt, {}, std::nullopt, g});
      endGrant(g.id, expiredWhy(g));
    }
  } else {
    log::error("", "access: cannot expire grants: {}", grants.status().message());
  }
}

bool Broker::isWaitedOn(const std::string& review_id) {
  std::lock_guard lk(mu_);
  return waiters_.contains(review_id);
}

bool Broker::isWatched(const std::string& grant_id) {
  std::lock_guard lk(mu_);
  return watchers_.contains(grant_id);
}

// A change another replica (or this one) committed. Only what is waited on or watched here is
// re-read; something already finished here is no longer in the maps, so nothing applies twice.
void Broker::onStoreEvent(const store::StoreEvent& e) {
  if (e.kind == store::kResyncEvent) {
    pollRemoteChanges();
  } else if (e.kind == kReviewEvent && isWaitedOn(e.ref)) {
    auto r = repo_->review(e.ref);
    if (!r) {
      log::error("", "access: cannot read review {}: {}", e.ref, r.status().message());
    } else if (*r && (*r)->state != ReviewState::kPending) {
      finishWaiters(e.ref, (*r)->state, describeDecision(**r));
    }
  } else if (e.kind == kGrantEvent && isWatched(e.ref)) {
    auto g = repo_->grant(e.ref);
    if (!g) {
      log::error("", "access: cannot read grant {}: {}", e.ref, g.status().message());
    } else if (*g && (*g)->state != GrantState::kActive) {
      endGrant(e.ref, endedWhy(**g));
    }
  }
}

// Decisions and revocations made by another replica (or another process on the same store).
void Broker::pollRemoteChanges() {
  std::vector<std::string> reviews;
  std::vector<std::string> grants;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, list] : waiters_) {
      reviews.push_back(id);
    }
    for (const auto& [id, list] : watchers_) {
      grants.push_back(id);
    }
  }
  for (const auto& id : reviews) {
    auto r = repo_->review(id);
    if (r && *r && (*r)->state != ReviewState::kPending) {
      finishWaiters(id, (*r)->state, describeDecision(**r));
    }
  }
  for (const auto& id : grants) {
    auto g = repo_->grant(id);
    if (g && *g && (*g)->state != GrantState::kActive) {
      endGrant(id, endedWhy(**g));
    }
  }
}

void Broker::timeoutWaiters(TimePoint t) {
  std::vector<std::shared_ptr<Waiter::State>> due;
  {
    std::lock_guard lk(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      auto& list = it->second;
      for (auto& w : list) {
        if (w->deadline <= t) {
          due.push_back(w);
        }
      }
      std::erase_if(list, [&](const auto& w) { return w->deadline <= t; });
      it = list.empty() ? waiters_.erase(it) : std::next(it);
    }
  }
  for (auto& w : due) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(w->timeout).count();
    w->fire(ReviewState::kPending, "timed out after " + std::to_string(secs) +
                                       "s waiting for approval of review " + w->review_id);
  }
}

void Broker::wakeSweeper() {
  {
    std::lock_guard lk(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

// Until the earliest local deadline, but at most sweep_interval (store deadlines and other
// replicas' decisions are found by polling). A watched grant past its window is no deadline when
// expiring is another replica's turn: its expiry arrives as an event. Called with mu_ held.
std::chrono::milliseconds Broker::nextWait(TimePoint t) const {
  using std::chrono::milliseconds;
  auto wait = std::chrono::duration_cast<milliseconds>(options_.settings.sweep_interval);
  auto consider = [&](TimePoint deadline) {
    auto d = std::chrono::duration_cast<milliseconds>(deadline - t);
    wait = std::clamp(d, milliseconds(5), wait);
  };
  const bool turn = expiry_turn_;
  for (const auto& [id, end] : watched_expiry_) {
    if (turn || end > t) {
      consider(end);
    }
  }
  for (const auto& [id, list] : waiters_) {
    for (const auto& w : list) {
      consider(w->deadline);
    }
  }
  return wait;
}

void Broker::sweeperLoop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    cv_.wait_for(lk, nextWait(now()), [&] { return stopping_ || wake_; });
    wake_ = false;
    if (stopping_) {
      break;
    }
    lk.unlock();
    // Other replicas' decisions arrive as store events while the feed is live; poll for them
    // only when it is not (or now and then, as a safety net).
    const auto mono = std::chrono::steady_clock::now();
    const bool poll = !feed_ || !feed_->live() || mono - last_remote_poll_ >= kRemotePollFallback;
    if (poll) {
      last_remote_poll_ = mono;
    }
    sweepPass(poll);
    lk.lock();
  }
}

}  // namespace jg::access
