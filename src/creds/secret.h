// Secret: a string that holds a password or key material and says so in its type.
//
// It wipes its bytes when destroyed or reassigned, has no stream or fmt formatter (so it cannot
// end up in a log line by accident), and is read only through reveal(), which makes every use
// easy to audit. Copyable (each copy wipes itself); thread-compatible.
#pragma once

#include <openssl/crypto.h>

#include <string>
#include <string_view>
#include <utility>

namespace jg::creds {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret& other) : value_(other.value_) {}
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      value_ = std::move(other.value_);
      other.wipe();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  bool empty() const { return value_.empty(); }
  // The plaintext. Never log it, put it in an error, or pass it on a command line.
  const std::string& reveal() const { return value_; }

 private:
  void wipe() {
    if (!value_.empty()) {
      OPENSSL_cleanse(value_.data(), value_.size());
    }
    value_.clear();
  }
  std::string value_;
};

}  // namespace jg::creds
