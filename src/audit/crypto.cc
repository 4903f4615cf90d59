#include "audit/crypto.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "config/node.h"
#include "core/random.h"

namespace jg::audit {
namespace {

void freePkey(void* p) {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(p));
}
EVP_PKEY* pk(const std::shared_ptr<void>& p) {
  return static_cast<EVP_PKEY*>(p.get());
}

// Algorithms are fetched from the provider once (an implicit fetch per call costs a lock and a
// lookup), and each thread reuses one context per algorithm.
const EVP_MD* sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
const EVP_CIPHER* aesGcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
};

// A thread's AES-GCM context with the key schedule of the key it last used, and its nonces: 8
// random bytes drawn once (and again when the counter wraps) followed by a 32-bit counter. A
// seal then costs no call into the random generator, which profiled as most of sealing a bind
// parameter; two seals under one key can share a nonce only if two threads draw the same
// 64-bit prefix (fewer collisions than 96 random bits per seal, for any realistic count).
struct GcmCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  uint64_t key_serial = 0;
  unsigned char prefix[8] = {};
  uint32_t counter = 0;
  bool drawn = false;
  ~GcmCtx() { EVP_CIPHER_CTX_free(ctx); }

  void nextNonce(unsigned char* out) {
    if (!drawn || counter == UINT32_MAX) {
      randomBytes(prefix, sizeof prefix);
      counter = 0;
      drawn = true;
    }
    ++counter;
    std::memcpy(out, prefix, sizeof prefix);
    for (int i = 0; i < 4; ++i) {
      out[8 + i] = static_cast<unsigned char>(counter >> (24 - 8 * i));
    }
  }
};

std::atomic<uint64_t> gKeySerial{0};

std::string fingerprint(std::string_view tag, std::string_view material) {
  Hash h{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, tag.data(), tag.size());
  EVP_DigestUpdate(ctx, material.data(), material.size());
  EVP_DigestFinal_ex(ctx, h.data(), &len);
  EVP_MD_CTX_free(ctx);
  return toHex(std::string_view(reinterpret_cast<const char*>(h.data()), 8));
}

Result<std::string> readWholeFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::error(Code::kNotFound, "cannot open key file " + path);
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
  }
  std::fclose(f);
  return out;
}

Status writePrivateFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return Status::error(Code::kUnavailable, "cannot create key file " + path + " (exists?)");
  }
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  return ok ? Status::ok() : Status::error(Code::kUnavailable, "cannot write key file " + path);
}

std::string pemOf(EVP_PKEY* key, bool priv) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (priv) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, key);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string rawPublic(EVP_PKEY* key) {
  unsigned char buf[64];
  size_t len = sizeof buf;
  if (EVP_PKEY_get_raw_public_key(key, buf, &len) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(buf), len);
}

}  // namespace

Hash chainHash(const Hash& prev, uint64_t seq, std::string_view record) {
  unsigned char seqbe[8];
  for (int i = 0; i < 8; ++i) {
    seqbe[i] = static_cast<unsigned char>(seq >> (56 - 8 * i));
  }
  Hash out{};
  unsigned int len = 0;
  thread_local MdCtx md;
  EVP_DigestInit_ex(md.ctx, sha256Md(), nullptr);
  EVP_DigestUpdate(md.ctx, prev.data(), prev.size());
  EVP_DigestUpdate(md.ctx, seqbe, sizeof seqbe);
  EVP_DigestUpdate(md.ctx, record.data(), record.size());
  EVP_DigestFinal_ex(md.ctx, out.data(), &len);
  return out;
}

Hash sha256(std::string_view data) {
  Hash out{};
  unsigned int len = 0;
  thread_local MdCtx md;
  EVP_DigestInit_ex(md.ctx, sha256Md(), nullptr);
  EVP_DigestUpdate(md.ctx, data.data(), data.size());
  EVP_DigestFinal_ex(md.ctx, out.data(), &len);
  return out;
}

std::string hashHex(const Hash& h) {
  return toHex(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

bool parseHashHex(std::string_view hex, Hash& out) {
  if (hex.size() != 64) {
    return false;
  }
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]);
    int lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

std::string base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return invalidArgument("bad base64 length");
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return invalidArgument("bad base64");
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

namespace {

std::string signedMessage(std::string_view tag, std::string_view instance, uint64_t segment,
                          uint64_t seq, const Hash& hash) {
  std::string m(tag);
  m.push_back('\0');
  m.append(instance);
  m.push_back('\0');
  for (uint64_t v : {segment, seq}) {
    for (int i = 0; i < 8; ++i) {
      m.push_back(static_cast<char>(v >> (56 - 8 * i)));
    }
  }
  m.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  return m;
}

}  // namespace

std::string checkpointMessage(std::string_view instance, uint64_t segment, uint64_t seq,
                              const Hash& hash) {
  return signedMessage("jitgate-audit-checkpoint-v1", instance, segment, seq, hash);
}

std::string retentionMessage(std::string_view instance, uint64_t removed_upto, uint64_t prev_seq,
                             const Hash& prev_hash) {
  return signedMessage("jitgate-audit-retention-v1", instance, removed_upto, prev_seq, prev_hash);
}

Result<PublicKey> PublicKey::loadPem(const std::string& path) {
  auto text = readWholeFile(path);
  if (!text) {
    return text.status();
  }
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  if (key == nullptr) {
    BIO_free(bio);
    bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
    key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  }
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return invalidArgument("not an Ed25519 PEM key: " + path);
  }
  std::string raw = rawPublic(key);
  EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  EVP_PKEY_free(key);
  PublicKey out;
  out.pkey_ = std::shared_ptr<void>(pub, freePkey);
  out.id_ = fingerprint("jitgate-ed25519", raw);
  return out;
}

bool PublicKey::verify(std::string_view message, std::string_view signature) const {
  if (!pkey_) {
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pk(pkey_)) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Result<SigningKey> SigningKey::loadPem(const std::string& path) {
  auto text = config::readSecretFile(path);
  if (!text) {
    return text.status();
  }
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return invalidArgument("not an Ed25519 private key in PEM: " + path);
  }
  SigningKey out;
  out.pkey_ = std::shared_ptr<void>(key, freePkey);
  std::string raw = rawPublic(key);
  EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  out.pub_.pkey_ = std::shared_ptr<void>(pub, freePkey);
  out.pub_.id_ = fingerprint("jitgate-ed25519", raw);
  return out;
}

Status SigningKey::generate(const std::string& private_path, const std::string& public_path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) {
    return internalError("Ed25519 key generation failed");
  }
  Status st = writePrivateFile(private_path, pemOf(key, true));
  if (st && !public_path.empty()) {
    st = writePrivateFile(public_path, pemOf(key, false));
    if (st) {
      ::chmod(public_path.c_str(), 0644);
    }
  }
  EVP_PKEY_free(key);
  return st;
}

Result<std::string> SigningKey::sign(std::string_view message) const {
  std::string sig(64, '\0');
  size_t len = sig.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pk(pkey_)) == 1 &&
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    return internalError("Ed25519 signing failed");
  }
  sig.resize(len);
  return sig;
}

AeadKey AeadKey::fromBytes(std::string_view key32) {
  AeadKey k;
  k.key_ = std::make_shared<const std::string>(key32);
  k.id_ = fingerprint("jitgate-aes256gcm", key32);
  k.serial_ = ++gKeySerial;
  return k;
}

Result<AeadKey> AeadKey::loadFile(const std::string& path) {
  auto text = config::readSecretFile(path);
  if (!text) {
    return text.status();
  }
  Hash bytes{};
  if (!parseHashHex(*text, bytes)) {
    return invalidArgument("key file " + path + " must hold 64 lowercase hex characters");
  }
  return fromBytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Status AeadKey::generate(const std::string& path) {
  std::string key(32, '\0');
  randomBytes(key.data(), key.size());
  return writePrivateFile(path, toHex(key) + "\n");
}

Result<std::string> AeadKey::seal(std::string_view plaintext, std::string_view aad) const {
  std::string out(12 + plaintext.size() + 16, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  thread_local GcmCtx gcm;
  gcm.nextNonce(o);
  bool ok = true;
  if (gcm.key_serial != serial_) {
    // The key schedule is computed once per thread and key; each seal only sets the nonce.
    ok =
        EVP_EncryptInit_ex2(gcm.ctx, aesGcm(), reinterpret_cast<const unsigned char*>(key_->data()),
                            nullptr, nullptr) == 1;
    gcm.key_serial = ok ? serial_ : 0;
  }
  int len = 0;
  int fin = 0;
  ok = ok && EVP_EncryptInit_ex2(gcm.ctx, nullptr, nullptr, o, nullptr) == 1 &&
       EVP_EncryptUpdate(gcm.ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                         static_cast<int>(aad.size())) == 1 &&
       EVP_EncryptUpdate(gcm.ctx, o + 12, &len,
                         reinterpret_cast<const unsigned char*>(plaintext.data()),
                         static_cast<int>(plaintext.size())) == 1 &&
       EVP_EncryptFinal_ex(gcm.ctx, o + 12 + len, &fin) == 1 &&
       EVP_CIPHER_CTX_ctrl(gcm.ctx, EVP_CTRL_GCM_GET_TAG, 16, o + 12 + plaintext.size()) == 1;
  if (!ok) {
    gcm.key_serial = 0;
    return internalError("AES-256-GCM sealing failed");
  }
  return out;
}

Result<std::string> AeadKey::open(std::string_view sealed, std::string_view aad) const {
  if (sealed.size() < 28) {
    return invalidArgument("sealed value too short");
  }
  size_t n = sealed.size() - 28;
  std::string out(n, '\0');
  auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string tag(sealed.substr(12 + n));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  int fin = 0;
  bool ok =
      EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key_->data()), in) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, in + 12,
                        static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    return Status::error(Code::kPermissionDenied,
                         "cannot decrypt raw payload (wrong key or tampered data)");
  }
  return out;
}

}  // namespace jg::audit
