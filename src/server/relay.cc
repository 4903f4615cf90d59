// The relay half of Session: the two pumps and the idle watchdog.
//
// Each pump reads into its buffer, frames every complete message, hands it to its handler, and
// writes the batch on in one gather write (relay_io.h). A pump does not read again until its
// last write completed (backpressure). Handlers are synchronous; a pump awaits only where a
// message needs something that takes time: a review settled in the store, a statement held for
// approval, a catalog lookup for masking, a durability wait in strict recording.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fmt/format.h>

#include <cstring>

#include "core/log.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/config.h"
#include "server/gateway.h"
#include "server/relay_io.h"
#include "server/session.h"

namespace jg::server {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

// The server reports client_encoding and standard_conforming_strings whenever they change
// (GUC_REPORT settings). The gateway pins both at startup and refuses statements that change
// them; a change made where it cannot see one (inside a function body) would make the server
// read the next statements differently from the gateway's parser, so the session ends instead.
Status checkParameterStatus(std::string_view payload) {
  pg::ParameterStatus ps;
  if (!pg::decodeParameterStatus(payload, ps)) {
    return Status::error(Code::kProtocol, "upstream server: malformed ParameterStatus", "08P01");
  }
  if ((ps.name == "client_encoding" && ps.value != "UTF8") ||
      (ps.name == "standard_conforming_strings" && ps.value != "on")) {
    return Status::error(Code::kPermissionDenied,
                         fmt::format("the server's {} changed to \"{}\" where the gateway could "
                                     "not see it; the session ends, since its statements would "
                                     "no longer be read as the gateway reads them",
                                     ps.name, ps.value),
                         "0A000");
  }
  return Status::ok();
}

Status upstreamProtocolError(const Status& s) {
  return Status::error(Code::kProtocol, "upstream server: " + s.message(), "08P01");
}

}  // namespace

asio::awaitable<Status> Session::relay() {
  auto result = co_await (clientPump() || serverPump() || watchdog());
  switch (result.index()) {
    case 0:
      co_return std::get<0>(result);
    case 1:
      co_return std::get<1>(result);
    default:
      co_return std::get<2>(result);
  }
}

// -- client → upstream ----------------------------------------------------------------------

asio::awaitable<Status> Session::clientPump() {
  const size_t max_message = rt_->config->limits.max_message_bytes;
  ReadBuffer in(std::move(pending_client_bytes_));
  Batch batch;
  for (;;) {
    size_t pos = 0;
    bool recorded = false;  // this batch carries statements the audit log must hold first
    while (!client_terminated_) {
      pg::Frame frame;
      std::string error;
      auto st = pg::nextFrame(in.from(pos), max_message, frame, error);
      if (st == pg::FrameStatus::kNeedMore) {
        break;
      }
      if (st == pg::FrameStatus::kError) {
        co_return protocolError(error);
      }
      Gated g;
      if (gated(frame.type)) {
        g = gateMessage(frame);
        if (g.step == Gated::Step::kSettle || g.step == Gated::Step::kHold) {
          if (Status s = co_await awaitGate(frame, g, batch, in, recorded); !s) {
            co_return s;
          }
        }
      }
      Status s = g.step == Gated::Step::kRefuse ? passRefused(g, batch, recorded)
                                                : describeForMasking(frame, batch);
      if (s && g.step != Gated::Step::kRefuse) {
        s = passClient(frame, pos, g, batch, recorded);
      }
      if (!s) {
        co_return s;
      }
      pos += frame.size;
    }
    // Strict durability: a statement is in the log before it reaches the upstream.
    if (Status sent = co_await sendUpstream(batch, in, recorded); !sent) {
      co_return sent;
    }
    if (client_terminated_) {
      co_return Status::ok();
    }
    in.consume(pos);
    if (!held_input_.empty()) {
      takeHeldInput(in);  // read while the connection or a statement was held for approval
      continue;
    }
    auto [ec, n] = co_await client_->readSome(in.space());
    if (ec == asio::error::operation_aborted) {
      co_return Status::ok();  // cancelled: another part of the session is ending it
    }
    if (ec) {
      client_terminated_ = true;  // the client went away; nobody to tell
      co_return fatal_ ? Status::ok() : Status::error(Code::kUnavailable, "client disconnected");
    }
    in.commit(n);
    bytes_from_client_ += n;
    touch();
  }
}

// Moves what the client sent while its connection or a statement was held into the read buffer,
// behind what was there.
void Session::takeHeldInput(ReadBuffer& in) {
  asio::mutable_buffer space = in.space();
  size_t n = std::min(space.size(), held_input_.size());
  std::memcpy(space.data(), held_input_.data(), n);
  held_input_.erase(0, n);
  in.commit(n);
  bytes_from_client_ += n;
}

// The gate's steps that take time: a review settled in the store, then (wait mode) the hold.
// Statements before this one in the batch go on first.
asio::awaitable<Status> Session::awaitGate(const pg::Frame& frame, Gated& g, Batch& batch,
                                           ReadBuffer& in, bool& recorded) {
  struct Gating {
    Session& s;
    explicit Gating(Session& session) : s(session) {
      s.gating_ = true;
      s.gate_cancelled_ = false;
    }
    ~Gating() { s.gating_ = false; }
  } gating{*this};
  if (g.step == Gated::Step::kSettle) {
    co_await settle(g);
    finishStatement(frame, g);
  }
  if (g.step != Gated::Step::kHold) {
    co_return Status::ok();
  }
  if (Status sent = co_await sendUpstream(batch, in, recorded); !sent) {
    co_return sent;
  }
  recorded = false;
  Status held = co_await holdForApproval(g.verdict);
  if (held) {
    g.step = Gated::Step::kForward;
    co_return Status::ok();
  }
  if (held.sqlstate().empty() && held.code() == Code::kUnavailable) {
    co_return held;  // the client went away
  }
  refuse(frame, g.name,
         gate::Verdict::refuse(gate::Refusal::kNeedsApproval, g.verdict.ruleId(), held.message()),
         g, sqlstateFor(held));
  co_return Status::ok();
}

// A refused message: its substitute goes upstream (the tracker follows it as it would the
// original) and the client will get the gateway's error in place of the server's.
Status Session::passRefused(Gated& g, Batch& batch, bool& recorded) {
  batch.add(g.substitute);
  pg::Frame sub;
  std::string ignored;
  (void)pg::nextFrame(g.substitute, g.substitute.size(), sub, ignored);
  if (auto s = tracker_.onFrontend(sub.type, sub.payload); !s) {
    return s;
  }
  tracker_.annotateLast(std::move(g.error));
  if (audit_) {
    tracker_.tagLast(audit_->lastRecord());
  }
  recorded = true;
  return Status::ok();
}

Status Session::passClient(const pg::Frame& frame, size_t pos, const Gated& g, Batch& batch,
                           bool& recorded) {
  if (auto s = tracker_.onFrontend(frame.type, frame.payload); !s) {
    return s;
  }
  if (g.verdict.allowed() && g.verdict.row_limit > 0) {
    tracker_.limitLastRows(g.verdict.row_limit, g.verdict.row_limit_by);
  }
  if (audit_) {
    if (frame.type == pg::fe::kBind) {
      recordBind(frame.payload);
      recorded = true;
    } else if (frame.type == pg::fe::kClose) {
      pg::Close c;
      if (pg::decodeClose(frame.payload, c) && c.target == 'S') {
        audit_->forgetStatement(c.name);
      }
    }
    tagRequest(frame);
  }
  recorded = recorded || frame.type == pg::fe::kQuery || frame.type == pg::fe::kParse;
  batch.forward(pos, frame.size);
  client_terminated_ = frame.type == pg::fe::kTerminate;
  return Status::ok();
}

Status Session::describeForMasking(const pg::Frame& frame, Batch& batch) {
  if (!masker_ || frame.type != pg::fe::kExecute) {
    return Status::ok();
  }
  pg::Execute e;
  if (!pg::decodeExecute(frame.payload, e) || tracker_.portalDescribedForExecute(e.portal)) {
    return Status::ok();  // a malformed Execute is the tracker's to refuse
  }
  std::string describe;
  pg::encodeDescribe(describe, pg::Describe{.target = 'P', .name = e.portal});
  if (auto s = tracker_.onFrontend(pg::fe::kDescribe, std::string_view(describe).substr(5)); !s) {
    return s;
  }
  tracker_.markLastInjected();
  if (audit_) {
    tracker_.tagLast(tracker_.portalTag(e.portal));
  }
  batch.add(describe);
  return Status::ok();
}

// Sends what the client pump collected to the upstream. In strict durability the statements in
// it are in the audit log first.
asio::awaitable<Status> Session::sendUpstream(Batch& batch, const ReadBuffer& in, bool recorded) {
  if (recorded && audit_ && audit_->strict()) {
    if (Status st = co_await audit_->durable(SessionAudit::Need::kBeforeSend); !st) {
      co_return st;
    }
  }
  if (batch.empty()) {
    co_return Status::ok();
  }
  auto [ec, n] = co_await upstream_->write(batch.buffers(in.data()));
  batch.clear();
  if (ec) {
    co_return Status::error(Code::kUnavailable,
                            "lost connection to the upstream server: " + ec.message(), "08006");
  }
  co_return Status::ok();
}

// -- upstream → client ----------------------------------------------------------------------

asio::awaitable<Status> Session::serverPump() {
  const size_t max_message = rt_->config->limits.max_message_bytes;
  ReadBuffer in(std::move(pending_server_bytes_));
  Batch batch;
  bool completes = false;  // the batch ends a result: strict mode waits for its records
  for (;;) {
    size_t pos = 0;
    for (;;) {
      pg::Frame frame;
      std::string error;
      auto st = pg::nextFrame(in.from(pos), max_message, frame, error);
      if (st == pg::FrameStatus::kNeedMore) {
        break;
      }
      if (st == pg::FrameStatus::kError) {
        co_return Status::error(Code::kProtocol, "upstream server: " + error, "08P01");
      }
      uint64_t owner = 0;
      bool learn = masker_ && tracker_.frontInjected() && frame.type == pg::be::kRowDescription;
      Result<bool> passed = onServerFrame(frame, batch, owner);
      if (!passed) {
        co_return passed.status();
      }
      if (learn && !discard_until_ready_) {
        // The gateway's own Describe (describeForMasking): the catalog names for the rows that
        // follow, and the checks of a RowDescription; the client does not see it.
        std::string unused;
        Result<bool> checked = co_await maskRowDescription(frame, unused);
        if (!checked) {
          if (checked.status().code() == Code::kProtocol) {
            co_return checked.status();
          }
          size_t mark;
          withholdMaskingFailure(checked.status(), batch.beginExtra(mark));
          batch.endExtra(mark);
        }
      }
      if (*passed) {
        if (Status s = co_await relayResult(frame, pos, batch, owner, completes); !s) {
          co_return s;
        }
      }
      pos += frame.size;
    }
    bool stop = false;
    if (Status s = co_await flushToClient(batch, in, completes, stop); !s || stop) {
      co_return s;
    }
    if (endIfDrained()) {
      co_return Status::ok();  // shutting down, and the client has every answer: fatal_ says so
    }
    completes = false;
    in.consume(pos);
    auto [ec, n] = co_await upstream_->readSome(in.space());
    if (ec) {
      co_return upstreamEnded(ec);
    }
    in.commit(n);
    bytes_from_server_ += n;
  }
}

// The first look at an upstream message: the substitute's error replaced by the gateway's,
// settings the gateway pins, the tracker, and answers that are being withheld. True when the
// message goes on to relayResult; false when it was dealt with here.
Result<bool> Session::onServerFrame(const pg::Frame& frame, Batch& batch, uint64_t& owner) {
  if (frame.type == pg::be::kErrorResponse) {
    if (const std::string* replacement = tracker_.frontReplacement()) {
      // The server rejected our substitute for a refused statement: the client gets the
      // gateway's error in its place.
      batch.add(*replacement);
      if (auto s = tracker_.onBackend(frame.type, frame.payload); !s) {
        return upstreamProtocolError(s);
      }
      ++messages_from_server_;
      return false;
    }
    pg::ErrorFields f;
    if (pg::decodeErrorFields(frame.payload, f) &&
        (f.get('S') == "FATAL" || f.get('S') == "PANIC")) {
      upstream_sent_fatal_ = true;
    }
  }
  if (frame.type == pg::be::kParameterStatus) {
    if (Status ps = checkParameterStatus(frame.payload); !ps) {
      return ps;
    }
  }
  if (masker_) {
    // Before a request is popped.
    masker_->beforeBackend(frame.type, tracker_.activeSql(), tracker_.answeringQuery());
  }
  owner = audit_ ? tracker_.frontTag() : 0;  // before the tracker pops the request
  // The answer to a Describe the gateway sent for itself (describeForMasking).
  bool own = tracker_.frontInjected() &&
             (frame.type == pg::be::kRowDescription || frame.type == pg::be::kNoData);
  if (auto s = tracker_.onBackend(frame.type, frame.payload); !s) {
    return upstreamProtocolError(s);
  }
  ++messages_from_server_;
  return !withheld(frame, batch) && !own;
}

// True when the message is not for the client: the rest of an answer whose masking failed or
// that went over its row limit (the client already has the error), up to ReadyForQuery.
bool Session::withheld(const pg::Frame& frame, Batch& batch) {
  if (discard_until_ready_) {
    if (frame.type == pg::be::kReadyForQuery) {
      // A transaction block is reported failed, as after any error.
      std::string rfq;
      pg::encodeReadyForQuery(rfq, tracker_.transactionStatus() == 'I' ? 'I' : 'E');
      batch.add(rfq);
      discard_until_ready_ = false;
      result_started_ = false;  // the withheld result's records end with its error
      client_txn_failed_ = tracker_.transactionStatus() == 'T';
    }
    return true;
  }
  if (frame.type == pg::be::kDataRow && tracker_.rowLimitExceeded()) {
    size_t mark;
    withholdOverLimit(batch.beginExtra(mark));
    batch.endExtra(mark);
    return true;
  }
  if (frame.type == pg::be::kReadyForQuery && client_txn_failed_ &&
      tracker_.transactionStatus() != 'T') {
    client_txn_failed_ = false;  // the upstream's transaction has ended or failed too
  }
  return false;
}

// A message of an answer the client gets: recorded, masked, then forwarded or replaced.
asio::awaitable<Status> Session::relayResult(const pg::Frame& frame, size_t pos, Batch& batch,
                                             uint64_t owner, bool& completes) {
  if (audit_) {
    if (frame.type == pg::be::kDataRow && !result_started_) {
      co_await recordResultStart(owner);
    }
    completes = recordBackend(frame, owner) || completes;
  }
  size_t mark = 0;
  Result<bool> masked = false;
  if (masker_) {
    std::string& extra = batch.beginExtra(mark);
    if (needsCatalog(frame.type)) {
      Result<bool> r = co_await maskBackend(frame, extra);  // named: see offThread()
      masked = std::move(r);
    } else {
      masked = maskBackendNow(frame, extra);
    }
  }
  if (!masked) {
    if (masked.status().code() == Code::kProtocol) {
      co_return masked.status();
    }
    batch.dropExtra(mark);
    size_t error_mark;
    withholdMaskingFailure(masked.status(), batch.beginExtra(error_mark));
    batch.endExtra(error_mark);
  } else if (*masked) {
    if (audit_ && frame.type == pg::be::kDataRow) {
      audit_->row(batch.extraFrom(mark + 5), frame.payload);
    }
    batch.endExtra(mark);
  } else {
    if (masker_) {
      batch.dropExtra(mark);
    }
    if (audit_ && frame.type == pg::be::kDataRow) {
      audit_->row(frame.payload, {});
    }
    batch.forward(pos, frame.size);
  }
  co_return Status::ok();
}

asio::awaitable<Status> Session::flushToClient(Batch& batch, const ReadBuffer& in, bool completes,
                                               bool& stop) {
  if (completes && audit_ && audit_->strict()) {
    // Strict durability: a result completes for the client only once it is in the log.
    if (Status st = co_await audit_->durable(); !st) {
      co_return st;
    }
  }
  if (batch.empty()) {
    co_return Status::ok();
  }
  if (!client_write_.tryLock()) {
    co_await client_write_.lock();  // a notice of a statement held for approval is being sent
  }
  auto [ec, n] = co_await client_->write(batch.buffers(in.data()));
  client_write_.unlock();
  batch.clear();
  stop = ec == asio::error::operation_aborted;  // another part of the session is ending it
  if (ec && !stop) {
    client_terminated_ = true;
    co_return Status::error(Code::kUnavailable, "client disconnected");
  }
  co_return Status::ok();
}

Status Session::upstreamEnded(const error_code& ec) {
  if (fatal_) {
    return Status::ok();
  }
  if (upstream_sent_fatal_) {
    client_terminated_ = true;  // the client already has the server's FATAL
    return Status::error(Code::kUnavailable, "upstream server ended the session");
  }
  return Status::error(
      Code::kUnavailable,
      fmt::format("lost connection to the upstream server for resource \"{}\": {}", resource_,
                  ec == asio::error::eof ? "server closed the connection" : ec.message()),
      "08006");
}

}  // namespace jg::server
