// SessionServices: what a session needs from the process, and nothing more.
//
// The Gateway implements it for real sessions; tests implement it to drive a session without
// sockets (session_test.cc): an upstream connection that is a MemoryStream, a policy and a
// broker of their own. A session reaches the process only through this interface.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/thread_pool.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "server/cancel_registry.h"
#include "server/upstream.h"

namespace jg::sql {
class Classifier;
}
namespace jg::access {
class Broker;
}
namespace jg::creds {
class Issuer;
}
namespace jg::audit {
class Recorder;
}

namespace jg::server {

class CancelRelay;

struct Runtime;
class Session;

class SessionServices {
 public:
  virtual ~SessionServices() = default;

  // The configuration snapshot a new session binds to.
  virtual std::shared_ptr<const Runtime> runtime() const = 0;
  virtual sql::Classifier& classifier() = 0;
  // The time policy decisions are taken at (time windows, grants); tests supply their own.
  virtual const Clock& clock() const { return Clock::system(); }
  // Reviews and grants; null when no store is configured. Its calls block: use blockingPool().
  virtual const std::shared_ptr<access::Broker>& broker() const = 0;
  // Mints session roles; null when no resource uses ephemeral credentials.
  virtual const std::shared_ptr<creds::Issuer>& issuer() const = 0;
  // The audit recorder; null when `audit` is not configured.
  virtual const std::shared_ptr<audit::Recorder>& recorder() const = 0;
  // For blocking work (signature checks, store calls, admin SQL) off the I/O threads.
  virtual asio::thread_pool& blockingPool() = 0;
  virtual CancelRegistry& cancels() = 0;
  // CancelRequests for keys of other replicas go through it; null without a shared store.
  virtual CancelRelay* cancelRelay() { return nullptr; }
  // True when the client listener is bound to a loopback address.
  virtual bool listenerIsLoopback() const = 0;
  // Connects and authenticates to a resource's upstream (upstream.h, connectUpstream).
  virtual asio::awaitable<Result<UpstreamConnection>> connectUpstream(
      const ResourceConfig& resource, const UpstreamCredentials& creds, const StartupParams& params,
      ssl::context* tls, std::chrono::milliseconds timeout, size_t max_message) = 0;
  // A statement refused because the audit log cannot be written (for /metrics). Thread-safe.
  virtual void countUnrecordedRefusal() = 0;
  // The session has ended; called once, from the session's thread.
  virtual void sessionEnded(Session* s) = 0;
};

}  // namespace jg::server
