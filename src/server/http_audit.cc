#include "server/http_audit.h"

namespace jg::server {

namespace asio = boost::asio;

HttpAudit::HttpAudit(std::shared_ptr<audit::Recorder> recorder, std::string session_id,
                     asio::any_io_executor executor, std::string protocol)
    : recorder_(std::move(recorder)),
      session_id_(std::move(session_id)),
      executor_(std::move(executor)),
      protocol_(std::move(protocol)) {}

void HttpAudit::record(audit::EventBody body) {
  if (!recorder_) {
    return;
  }
  auto ticket = recorder_->submit(audit::Event{.session_id = session_id_, .body = std::move(body)});
  if (!ticket) {
    failure_ = ticket.status();
    return;
  }
  last_ = *ticket;
}

asio::awaitable<Status> HttpAudit::durable() {
  if (!recorder_) {
    co_return Status::ok();
  }
  if (!failure_.isOk()) {
    co_return failure_;
  }
  if (last_ == 0 || recorder_->durableUpto() >= last_) {
    co_return Status::ok();
  }
  auto timer =
      std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
  auto result = std::make_shared<Status>();
  recorder_->whenDurable(last_, [timer, result, ex = executor_](const Status& st) {
    asio::post(ex, [timer, result, st] {
      *result = st;
      timer->cancel();
    });
  });
  auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  if (!result->isOk()) {
    failure_ = *result;
  }
  co_return *result;
}

void ResponseRecord::start(int status, std::vector<std::pair<std::string, std::string>> headers,
                           std::string content_type) {
  head_.request_id = request_id_;
  head_.status = status;
  head_.headers = std::move(headers);
  head_.content_type = std::move(content_type);
}

void ResponseRecord::body(std::string_view sent, std::string_view raw,
                          std::vector<std::string> document_ids) {
  sent_.append(sent);
  raw_.append(raw);
  raw_differs_ = raw_differs_ || raw != sent;
  bytes_ += sent.size();
  for (auto& id : document_ids) {
    ids_.push_back(std::move(id));
  }
  if (sent_.size() >= kChunkBytes || raw_.size() >= kChunkBytes) {
    flush(false);
  }
}

void ResponseRecord::flush(bool final) {
  audit::RawBytes raw = raw_differs_ ? audit::RawBytes::plain(std::move(raw_)) : audit::RawBytes();
  if (!head_written_) {
    head_.body = std::move(sent_);
    head_.raw_body = std::move(raw);
    head_.document_ids = std::move(ids_);
    head_.complete = final;
    head_.bytes = bytes_;
    audit_.record(std::move(head_));
    head_written_ = true;
  } else if (!sent_.empty() || raw_differs_ || !ids_.empty()) {
    audit_.record(audit::HttpBodyEvent{.request_id = request_id_,
                                       .body = std::move(sent_),
                                       .raw_body = std::move(raw),
                                       .document_ids = std::move(ids_)});
  }
  sent_.clear();
  raw_.clear();
  ids_.clear();
  raw_differs_ = false;
}

void ResponseRecord::finish(std::string outcome, const std::map<std::string, uint64_t>& masked,
                            bool unmasked_binary) {
  if (finished_) {
    return;
  }
  finished_ = true;
  if (!head_written_) {
    head_.outcome = std::move(outcome);
    head_.masked_values = masked;
    head_.unmasked_binary = unmasked_binary;
    flush(true);
    return;
  }
  flush(false);
  audit_.record(audit::HttpResponseEndEvent{.request_id = request_id_,
                                            .bytes = bytes_,
                                            .masked_values = masked,
                                            .outcome = std::move(outcome),
                                            .unmasked_binary = unmasked_binary});
}

}  // namespace jg::server
