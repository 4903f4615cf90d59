// Masking strategies applied to one value: redact, partial, hash, tokenize (null is decided by
// the caller, since only it knows what "null" means in its container).
//
// hash and tokenize are keyed (HMAC-SHA256) so nobody without the key can confirm a guess, and
// deterministic so the same value gives the same output in every session and on every replica:
// joins and GROUP BY over tokenized columns still work. The two use separate keys derived
// from the configured one, so a hash never equals a token. Keyer is immutable; thread-safe.
#pragma once

#include <openssl/sha.h>

#include <string>
#include <string_view>

#include "core/status.h"
#include "mask/settings.h"

namespace jg::mask {

class Keyer {
 public:
  // An empty key is allowed only when no strategy needs one (hash/tokenize then fail).
  explicit Keyer(std::string_view key);

  bool hasKey() const { return has_key_; }
  // 16 lowercase hex characters (64 bits of HMAC-SHA256 under the hash key).
  [[nodiscard]] Status hash(std::string_view value, std::string& out) const;
  // "tok_" + 20 lowercase base32 characters (100 bits of HMAC-SHA256 under the token key).
  [[nodiscard]] Status token(std::string_view value, std::string& out) const;

 private:
  // HMAC-SHA256 under one key, with the key's two padded blocks hashed once: a value costs
  // its own blocks and one more, with no allocation and no algorithm lookup.
  struct Mac {
    SHA256_CTX inner;
    SHA256_CTX outer;
    void init(const unsigned char key[32]);
    void sign(std::string_view data, unsigned char out[32]) const;
  };

  bool has_key_ = false;
  Mac hash_mac_{};
  Mac token_mac_{};
};

// Appends the masked form of `value` to `out`. `label` names what was found ("EMAIL").
// partial keeps the last `keep_last` code points and stars the others (everything when the value
// is not longer than keep_last); it requires valid UTF-8.
// REQUIRES: strategy != kNull.
[[nodiscard]] Status applyStrategy(Strategy strategy, std::string_view value,
                                   std::string_view label, int keep_last, const Keyer& keyer,
                                   std::string& out);

// True if s is well-formed UTF-8.
bool validUtf8(std::string_view s);

}  // namespace jg::mask
