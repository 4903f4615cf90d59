// Status and Result: errors as values, cheap on success.
//
// A Status carries a code, an optional PostgreSQL SQLSTATE (so errors can travel to clients
// unchanged) and a message meant for a person. Result<T> holds either a value or a non-ok Status.
// Neither type throws. Both are thread-compatible (const use from many threads is safe).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace jg {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // malformed input from a peer or a user
  kNotFound,
  kPermissionDenied,   // policy or authentication said no
  kUnavailable,        // a dependency (upstream, IdP, disk) cannot be reached
  kResourceExhausted,  // a configured limit was hit
  kProtocol,           // the peer broke the wire protocol
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(Code code, std::string message, std::string sqlstate = {}) {
    Status s;
    s.code_ = code;
    s.message_ = std::move(message);
    s.sqlstate_ = std::move(sqlstate);
    return s;
  }

  bool isOk() const { return code_ == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The SQLSTATE to report to a PostgreSQL client; empty means "derive from code".
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string sqlstate_;
};

inline Status invalidArgument(std::string msg) {
  return Status::error(Code::kInvalidArgument, std::move(msg));
}
inline Status protocolError(std::string msg) {
  return Status::error(Code::kProtocol, std::move(msg), "08P01");
}
inline Status internalError(std::string msg) {
  return Status::error(Code::kInternal, std::move(msg), "XX000");
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.isOk()); }  // NOLINT

  bool isOk() const { return value_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const Status& status() const { return status_; }
  // REQUIRES: isOk().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace jg
