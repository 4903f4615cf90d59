// SCRAM-SHA-256 client (RFC 5802, RFC 7677), sans-I/O, for authenticating to an upstream
// PostgreSQL server, with optional tls-server-end-point channel binding (SCRAM-SHA-256-PLUS).
//
// Flow: clientFirst() → send in SASLInitialResponse; feed the server's SASLContinue data to
// handleServerFirst(), send its result in SASLResponse; feed SASLFinal data to
// verifyServerFinal(). A session owns one ScramClient; not thread-safe. The password and the
// derived keys are wiped on destruction.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace jg::pg {

// SaltedPassword = PBKDF2(password, salt, iterations) is the costly step of SCRAM (~0.8 ms for
// PostgreSQL's 4096 iterations) and a server returns the same salt and iteration count for a
// role every time, so a gateway reconnecting with one upstream credential can derive it once.
// Bounded LRU keyed by SHA-256(password, salt, iterations) — the password is not a key; values
// are password-equivalent and wiped when evicted. Thread-safe.
class SaltedPasswordCache {
 public:
  using Key = std::array<unsigned char, 32>;
  explicit SaltedPasswordCache(size_t capacity = 256) : capacity_(capacity) {}
  ~SaltedPasswordCache();
  bool find(const Key& id, Key& salted);
  void insert(const Key& id, const Key& salted);
  uint64_t hits() const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  mutable std::mutex mu_;
  size_t capacity_;
  std::list<std::pair<Key, Key>> lru_;  // most recent first
  std::unordered_map<Key, std::list<std::pair<Key, Key>>::iterator, KeyHash> index_;
  uint64_t hits_ = 0;
};

class ScramClient {
 public:
  // `cert_hash` is the tls-server-end-point hash of the server certificate; empty selects
  // SCRAM-SHA-256 without channel binding ("n,,"; or "y,," when the client supports binding but
  // the connection is not TLS).
  // `cache` (optional, not owned, must outlive the client) shares SaltedPassword derivations.
  ScramClient(std::string password, std::string cert_hash = {},
              SaltedPasswordCache* cache = nullptr);
  ~ScramClient();
  ScramClient(const ScramClient&) = delete;
  ScramClient& operator=(const ScramClient&) = delete;

  // "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS".
  std::string_view mechanism() const;
  std::string clientFirst();
  Result<std::string> handleServerFirst(std::string_view server_first);
  Status verifyServerFinal(std::string_view server_final);

  // For tests: fixes the client nonce.
  void setNonceForTest(std::string nonce) { nonce_ = std::move(nonce); }

 private:
  // SaltedPassword, from the cache when it has it.
  bool derive(std::string_view salt, int iterations, SaltedPasswordCache::Key& salted);

  std::string password_;
  std::string cert_hash_;
  SaltedPasswordCache* cache_ = nullptr;
  std::string nonce_;
  std::string client_first_bare_;
  std::string server_signature_;  // expected, base64
};

// The tls-server-end-point channel binding hash of a DER certificate (RFC 5929): SHA-256 for
// certificates signed with MD5 or SHA-1 or SHA-256, otherwise the signature's hash.
Result<std::string> tlsServerEndPointHash(std::string_view der_certificate);

// The md5 password response: "md5" + hex(md5(hex(md5(password + user)) + salt)).
std::string md5PasswordResponse(std::string_view user, std::string_view password,
                                std::string_view salt);

}  // namespace jg::pg
