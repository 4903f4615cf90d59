// Cryptography for the audit log, all through OpenSSL 3 EVP: the SHA-256 hash chain, Ed25519
// checkpoint signatures and AES-256-GCM sealing of raw payloads.
//
// Key material stays inside these classes: nothing here formats a key into a string except the
// key generators, which write PEM/hex files with mode 0600. Key ids are public fingerprints
// (hex of the first 8 bytes of a SHA-256), safe to write in the log. All classes are immutable
// after construction and safe to use from several threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jg::audit {

using Hash = std::array<unsigned char, 32>;

// hash_i = SHA-256(hash_{i-1} || u64be(seq) || record bytes).
Hash chainHash(const Hash& prev, uint64_t seq, std::string_view record);
Hash sha256(std::string_view data);
std::string hashHex(const Hash& h);
bool parseHashHex(std::string_view hex, Hash& out);

std::string base64Encode(std::string_view data);
Result<std::string> base64Decode(std::string_view text);

// The bytes a checkpoint or segment anchor signs: a domain tag, the instance, the segment
// number, the sequence number and the chain hash of that record.
std::string checkpointMessage(std::string_view instance, uint64_t segment, uint64_t seq,
                              const Hash& hash);
// The bytes a retention record signs: a domain tag, the instance, the highest segment number
// removed (every lower one is gone too) and the chain position the oldest kept segment starts
// from (its segment_start's prev_seq and prev_hash).
std::string retentionMessage(std::string_view instance, uint64_t removed_upto, uint64_t prev_seq,
                             const Hash& prev_hash);

class PublicKey {
 public:
  // PEM "PUBLIC KEY" or "PRIVATE KEY" file (the public half is derived from a private key).
  static Result<PublicKey> loadPem(const std::string& path);
  const std::string& id() const { return id_; }
  bool verify(std::string_view message, std::string_view signature) const;

 private:
  std::shared_ptr<void> pkey_;  // EVP_PKEY
  std::string id_;
  friend class SigningKey;
};

class SigningKey {
 public:
  // An Ed25519 private key in a PEM file.
  static Result<SigningKey> loadPem(const std::string& path);
  // Writes a new Ed25519 key pair: `private_path` (0600) and, if not empty, `public_path`.
  static Status generate(const std::string& private_path, const std::string& public_path);

  const std::string& id() const { return pub_.id(); }
  const PublicKey& publicKey() const { return pub_; }
  Result<std::string> sign(std::string_view message) const;

 private:
  std::shared_ptr<void> pkey_;
  PublicKey pub_;
};

// An AES-256-GCM key. Sealed format: 12-byte random nonce || ciphertext || 16-byte tag.
class AeadKey {
 public:
  // A file holding 64 hex characters (32 bytes), trailing newline allowed.
  static Result<AeadKey> loadFile(const std::string& path);
  static Status generate(const std::string& path);
  static AeadKey fromBytes(std::string_view key32);

  const std::string& id() const { return id_; }
  // `aad` binds the ciphertext to its place in the log (session id and field name).
  Result<std::string> seal(std::string_view plaintext, std::string_view aad) const;
  Result<std::string> open(std::string_view sealed, std::string_view aad) const;

 private:
  std::shared_ptr<const std::string> key_;
  std::string id_;
  uint64_t serial_ = 0;  // distinct per key loaded: names the key schedule a thread has cached
};

}  // namespace jg::audit
