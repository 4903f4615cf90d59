// Gateway startup of everything around the sessions: the state store and the cancel relay, the
// replica coordinator, the audit recorder, the access broker with its notifier, and the admin
// listener (REST API, web console, token keys, metrics, audit API).
#include <fmt/format.h>

#include "access/broker.h"
#include "access/notifier.h"
#include "audit/anchor.h"
#include "audit/codec.h"
#include "audit/index.h"
#include "audit/recorder.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/random.h"
#include "creds/token_issuer.h"
#include "identity/verifier.h"
#include "server/admin_api.h"
#include "server/admin_config.h"
#include "server/audit_api.h"
#include "server/chain_check.h"
#include "server/console_routes.h"
#include "server/gateway.h"
#include "server/server_tls.h"
#include "store/store.h"

namespace jg::server {

namespace {

std::string personName(const access::Person& p) {
  return p.email.empty() ? p.subject : p.email;
}

audit::AccessEvent accessRecord(const access::AccessEvent& e) {
  audit::AccessEvent r;
  r.action = std::string(access::eventName(e.type));
  if (e.review) {
    r.review_id = e.review->id;
    r.resource = e.review->resource;
    r.rule_id = e.review->rule_id;
    r.requester = personName(e.review->requester);
  }
  if (e.grant) {
    r.grant_id = e.grant->id;
    r.resource = e.grant->resource;
    r.rule_id = e.grant->rule_id;
    r.requester = personName(e.grant->grantee);
  }
  if (e.actor) {
    r.actor = personName(*e.actor);
    r.actor_subject = e.actor->subject;
  }
  r.comment = audit::toValidUtf8(e.comment);
  return r;
}

// Console sign-in and sign-out, recorded like the access events (pseudo-session "access").
// Reveals of raw values (a replay record of its own) and refused reveals (an access record),
// written durably into the gateway's log.
RevealRecorder revealRecorder(std::shared_ptr<audit::Recorder> recorder) {
  return [recorder](audit::EventBody e) {
    if (!recorder) {
      return Status::error(Code::kUnavailable, "recording is off");
    }
    std::string sid = std::holds_alternative<audit::AccessEvent>(e) ? std::string("access")
                                                                    : "replay-" + randomId(12);
    return recorder->append(audit::Event{std::move(sid), {}, std::move(e)});
  };
}

ConsoleAudit consoleAudit(std::shared_ptr<audit::Recorder> recorder) {
  if (!recorder) {
    return {};
  }
  return
      [recorder](std::string_view action, const identity::Identity& who, std::string_view client) {
        audit::AccessEvent r;
        r.action = std::string(action);
        r.requester = who.display();
        r.actor = who.display();
        r.actor_subject = who.subject;
        r.comment = audit::toValidUtf8("web console from " + std::string(client));
        recorder->appendAsync(audit::Event{"access", {}, std::move(r)}, {});
      };
}

}  // namespace

Status Gateway::startAccess() {
  const auto& cfg = *runtime()->config;
  if (!cfg.store_url.empty()) {
    auto store = store::open(cfg.store_url);
    if (!store) {
      return store.status();
    }
    store_ = std::move(*store);
    cancel_relay_ = std::make_unique<CancelRelay>(*store_, cancels_, contexts_[0]->get_executor());
    if (auto st = cancel_relay_->start(); !st) {
      return st;
    }
    auto coordinator = ReplicaCoordinator::start(*store_, cfg.instance, cfg.replicas);
    if (!coordinator) {
      return coordinator.status();
    }
    coordinator_ = std::move(*coordinator);
  }
  if (auto st = startRecorder(); !st) {
    return st;
  }
  if (auto st = startBroker(); !st) {
    return st;
  }
  return cfg.listen_admin.port != 0 ? startAdmin() : Status::ok();
}

Status Gateway::startBroker() {
  if (!store_) {
    return Status::ok();
  }
  const auto& cfg = *runtime()->config;
  access::NotifierOptions notify;
  notify.webhooks = cfg.access.webhooks;
  notify.public_url = cfg.access.public_url;
  notifier_ = std::make_shared<access::Notifier>(std::move(notify));
  access::BrokerOptions options;
  options.settings = cfg.access;
  options.notify = [n = notifier_](const access::AccessEvent& e) {
    metrics::reviewEvents().add({access::eventName(e.type)});
    n->notify(e);
  };
  if (recorder_) {
    // Who asked, who approved, what was revoked: into the audit log, without blocking.
    options.audit = [recorder = recorder_](const access::AccessEvent& e) {
      recorder->appendAsync(audit::Event{"access", {}, accessRecord(e)}, {});
    };
  }
  if (coordinator_) {
    // One replica at a time expires reviews and grants. The gateway stops the broker (joining
    // its sweeper) before coordinator_ is destroyed.
    options.expiry_turn = [c = coordinator_.get(), every = cfg.access.sweep_interval] {
      return c->expiryTurn(every);
    };
  }
  auto broker = access::Broker::create(*store_, std::move(options));
  if (!broker) {
    return broker.status();
  }
  broker_ = *broker;
  return Status::ok();
}

Status Gateway::startAdmin() {
  const auto& cfg = *runtime()->config;
  AdminApiOptions ao;
  ao.listen = cfg.listen_admin;
  ao.broker = broker_;
  ao.authenticate = [this](std::string_view token) -> Result<identity::Identity> {
    auto rt = runtime();
    if (!rt->verifier) {
      return Status::error(Code::kUnavailable, "no identity issuer is configured");
    }
    return rt->verifier->verify(token);
  };
  ao.policy = [this] { return runtime()->config->policy; };
  const AdminConfig admin = adminConfigOf(cfg);
  if (admin.tls.enabled()) {
    auto tls = makeServerTls(admin.tls.cert_file, admin.tls.key_file);
    if (!tls) {
      return Status::error(tls.status().code(), "listen.admin: " + tls.status().message());
    }
    ao.tls = *tls;
  }
  std::shared_ptr<Console> console;  // kept alive by the admin listener's routes
  if (admin.console && cfg.identity) {
    auto created =
        Console::create(*admin.console, *cfg.identity, ao.authenticate, consoleAudit(recorder_));
    if (!created) {
      return created.status();
    }
    console = *created;
    ao.authenticate_request = [console](const AdminRequest& req) {
      return console->authenticate(req);
    };
  }
  auto api = AdminApi::start(*contexts_[0], std::move(ao));
  if (!api) {
    return api.status();
  }
  admin_ = std::move(*api);
  if (console) {
    console->registerRoutes(*admin_);
  }
  if (auto st = publishTokenKeys(); !st) {
    return st;
  }
  registerOpsRoutes();
  admin_->addRoute(
      boost::beast::http::verb::get, "/metrics",
      [this](const AdminRequest&) {
        return AdminResponse{200, "text/plain; version=0.0.4", metricsText(), {}};
      },
      /*authenticated=*/false);
  if (cfg.audit) {
    registerAuditRoutes(
        *admin_, store_.get(),
        [this] { return runtime()->config->audit.value_or(audit::Settings{}); },
        revealRecorder(recorder_));
  }
  return Status::ok();
}

// The keys of the gateway-signed upstream tokens, at /.well-known/jwks.json.
Status Gateway::publishTokenKeys() {
  const auto& cfg = *runtime()->config;
  if (cfg.upstream_token_key_file.empty()) {
    return Status::ok();
  }
  auto issuer = creds::TokenIssuer::load(cfg.upstream_token_key_file, cfg.upstream_token_issuer,
                                         Clock::system());
  if (!issuer) {
    return issuer.status();
  }
  token_issuer_ = std::move(*issuer);
  admin_->addRoute(
      boost::beast::http::verb::get, "/.well-known/jwks.json",
      [issuer = token_issuer_](const AdminRequest&) {
        AdminResponse r;
        r.content_type = "application/jwk-set+json";
        r.body = issuer->jwksJson();
        r.headers.emplace_back("Cache-Control", "max-age=300");
        return r;
      },
      /*authenticated=*/false);
  return Status::ok();
}

// The recorder, its index and its anchors (all in the state store when there is one).
Status Gateway::startRecorder() {
  const auto& cfg = *runtime()->config;
  if (!cfg.audit) {
    return Status::ok();
  }
  audit::RecorderOptions options;
  if (store_) {
    if (auto st = store_->migrate("audit", audit::indexMigrations()); !st) {
      return st;
    }
    if (auto st = store_->migrate("audit_anchors", audit::anchorMigrations()); !st) {
      return st;
    }
    indexer_ = std::make_unique<audit::Indexer>(*store_);
    options.index = indexer_.get();
  }
  if (store_ || cfg.audit->witness != audit::Witness::kNone) {
    anchors_ = std::make_unique<audit::StoreAnchors>(store_.get(), cfg.audit->witness);
    options.anchors = anchors_.get();
  }
  auto recorder = audit::Recorder::open(*cfg.audit, options);
  if (!recorder) {
    return recorder.status();
  }
  recorder_ = std::move(*recorder);
  log::info("", "recording sessions to {} ({} durability)", cfg.audit->dir,
            audit::durabilityName(cfg.audit->durability));
  auto target = [this]() -> std::optional<ChainCheck::Target> {
    const auto& a = runtime()->config->audit;
    if (!a || !recorder_) {
      return std::nullopt;
    }
    return ChainCheck::Target{a->dir, recorder_->instance(), a->signing_key_file};
  };
  chain_check_ = std::make_unique<ChainCheck>(target, store_.get(), cfg.audit->verify_interval);
  return Status::ok();
}

}  // namespace jg::server
