#include "proto/pg/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <charconv>
#include <cstring>
#include <memory>

#include "core/random.h"

// Notes on the choices made here:
// - The username in client-first-message is empty ("n=,"): PostgreSQL takes the role from the
//   StartupMessage and ignores this field, as libpq does.
// - No SASLprep is applied to the password. ASCII passwords are unaffected; a non-ASCII password
//   is used as its raw UTF-8 bytes, which PostgreSQL also accepts (it falls back to the raw bytes
//   whenever SASLprep fails, and the gateway's ephemeral passwords are ASCII anyway).
// - The iteration count is bounded (kMaxIterations) so a hostile upstream cannot pin a core.

namespace jg::pg {
namespace {

constexpr size_t kNonceBytes = 18;
constexpr size_t kKeySize = SHA256_DIGEST_LENGTH;
constexpr long kMaxIterations = 10'000'000;
constexpr std::string_view kGs2Binding = "p=tls-server-end-point,,";
constexpr std::string_view kGs2NoBinding = "n,,";

using Key = std::array<unsigned char, kKeySize>;

std::string base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Strict base64: whole quads, alphabet only, '=' only as final padding. EVP_DecodeBlock itself
// skips whitespace and reports padding as zero bytes, so both are checked here first.
bool base64Decode(std::string_view in, std::string& out) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > (1u << 20)) {
    return false;
  }
  size_t pad = 0;
  if (in.back() == '=') {
    pad = in[in.size() - 2] == '=' ? 2 : 1;
  }
  for (size_t i = 0; i < in.size() - pad; ++i) {
    if (!isBase64Char(in[i])) {
      return false;
    }
  }
  out.assign(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) {
    return false;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return true;
}

bool hmac(const Key& key, std::string_view data, Key& out) {
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
              &len) != nullptr &&
         len == kKeySize;
}

std::string_view asView(const Key& k) {
  return {reinterpret_cast<const char*>(k.data()), k.size()};
}

// Splits "a=x,b=y,..." and returns the value of attribute `name` at position `index`.
bool attribute(std::string_view msg, size_t index, char name, std::string_view& value) {
  for (size_t i = 0; i < index; ++i) {
    size_t comma = msg.find(',');
    if (comma == std::string_view::npos) {
      return false;
    }
    msg.remove_prefix(comma + 1);
  }
  size_t comma = msg.find(',');
  std::string_view attr = msg.substr(0, comma);
  if (attr.size() < 2 || attr[0] != name || attr[1] != '=') {
    return false;
  }
  value = attr.substr(2);
  return true;
}

size_t attributeCount(std::string_view msg) {
  size_t n = 1;
  for (char c : msg) {
    n += c == ',' ? 1 : 0;
  }
  return n;
}

// Nonces are printable ASCII except ',' (RFC 5802, section 7).
bool validNonce(std::string_view nonce) {
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') {
      return false;
    }
  }
  return true;
}

struct ServerFirst {
  std::string_view nonce;
  std::string salt;
  int iterations = 0;
};

Status parseServerFirst(std::string_view msg, std::string_view client_nonce, ServerFirst& out) {
  std::string_view salt_b64, iter;
  if (!msg.empty() && msg[0] == 'm') {
    return protocolError("SCRAM server requires an unsupported extension");
  }
  if (attributeCount(msg) != 3 || !attribute(msg, 0, 'r', out.nonce) ||
      !attribute(msg, 1, 's', salt_b64) || !attribute(msg, 2, 'i', iter)) {
    return protocolError("malformed SCRAM server-first-message");
  }
  if (!validNonce(out.nonce) || out.nonce.size() <= client_nonce.size() ||
      out.nonce.substr(0, client_nonce.size()) != client_nonce) {
    return protocolError("SCRAM server nonce does not extend the client nonce");
  }
  if (!base64Decode(salt_b64, out.salt) || out.salt.empty()) {
    return protocolError("SCRAM salt is not valid base64");
  }
  long n = 0;
  auto [end, ec] = std::from_chars(iter.data(), iter.data() + iter.size(), n);
  if (ec != std::errc() || end != iter.data() + iter.size() || iter.empty() || iter[0] == '+' ||
      n < 1 || n > kMaxIterations) {
    return protocolError("SCRAM iteration count is invalid or out of range");
  }
  out.iterations = static_cast<int>(n);
  return Status::ok();
}

}  // namespace

SaltedPasswordCache::~SaltedPasswordCache() {
  for (auto& [id, salted] : lru_) {
    OPENSSL_cleanse(salted.data(), salted.size());
  }
}

size_t SaltedPasswordCache::KeyHash::operator()(const Key& k) const {
  size_t h;
  std::memcpy(&h, k.data(), sizeof h);  // the key is a SHA-256 digest
  return h;
}

bool SaltedPasswordCache::find(const Key& id, Key& salted) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  salted = it->second->second;
  ++hits_;
  return true;
}

void SaltedPasswordCache::insert(const Key& id, const Key& salted) {
  std::lock_guard lock(mu_);
  if (capacity_ == 0 || index_.count(id) != 0) {
    return;
  }
  lru_.emplace_front(id, salted);
  index_.emplace(id, lru_.begin());
  while (lru_.size() > capacity_) {
    OPENSSL_cleanse(lru_.back().second.data(), lru_.back().second.size());
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

uint64_t SaltedPasswordCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

ScramClient::ScramClient(std::string password, std::string cert_hash, SaltedPasswordCache* cache)
    : password_(std::move(password)), cert_hash_(std::move(cert_hash)), cache_(cache) {}

ScramClient::~ScramClient() {
  OPENSSL_cleanse(password_.data(), password_.size());
  OPENSSL_cleanse(server_signature_.data(), server_signature_.size());
}

std::string_view ScramClient::mechanism() const {
  return cert_hash_.empty() ? "SCRAM-SHA-256" : "SCRAM-SHA-256-PLUS";
}

std::string ScramClient::clientFirst() {
  if (nonce_.empty()) {
    unsigned char raw[kNonceBytes];
    randomBytes(raw, sizeof raw);
    nonce_ = base64Encode({reinterpret_cast<const char*>(raw), sizeof raw});
  }
  client_first_bare_ = "n=,r=" + nonce_;
  server_signature_.clear();
  return std::string(cert_hash_.empty() ? kGs2NoBinding : kGs2Binding) + client_first_bare_;
}

bool ScramClient::derive(std::string_view salt, int iterations, Key& salted) {
  SaltedPasswordCache::Key id{};
  if (cache_ != nullptr) {
    std::string iter = std::to_string(iterations);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool hashed = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
    // Length-prefixed fields, so no two (password, salt, iterations) triples hash alike.
    for (std::string_view part : {std::string_view(password_), salt, std::string_view(iter)}) {
      uint64_t n = part.size();
      hashed = hashed && EVP_DigestUpdate(ctx, &n, sizeof n) == 1 &&
               EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
    }
    hashed = hashed && EVP_DigestFinal_ex(ctx, id.data(), nullptr) == 1;
    EVP_MD_CTX_free(ctx);
    if (hashed && cache_->find(id, salted)) {
      return true;
    }
    if (!hashed) {
      cache_ = nullptr;
    }
  }
  if (PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(salted.size()), salted.data()) != 1) {
    return false;
  }
  if (cache_ != nullptr) {
    cache_->insert(id, salted);
  }
  return true;
}

Result<std::string> ScramClient::handleServerFirst(std::string_view server_first) {
  if (client_first_bare_.empty()) {
    return internalError("SCRAM server-first-message before client-first-message");
  }
  ServerFirst sf;
  if (Status s = parseServerFirst(server_first, nonce_, sf); !s) {
    return s;
  }

  Key salted{}, client_key{}, stored_key{}, client_sig{}, server_key{}, server_sig{};
  auto wipe = [&] {
    for (Key* k : {&salted, &client_key, &stored_key, &client_sig, &server_key, &server_sig}) {
      OPENSSL_cleanse(k->data(), k->size());
    }
  };
  std::string gs2(cert_hash_.empty() ? kGs2NoBinding : kGs2Binding);
  std::string final_without_proof =
      "c=" + base64Encode(gs2 + cert_hash_) + ",r=" + std::string(sf.nonce);
  std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + final_without_proof;

  bool ok = derive(sf.salt, sf.iterations, salted) && hmac(salted, "Client Key", client_key) &&
            EVP_Digest(client_key.data(), client_key.size(), stored_key.data(), nullptr,
                       EVP_sha256(), nullptr) == 1 &&
            hmac(stored_key, auth_message, client_sig) && hmac(salted, "Server Key", server_key) &&
            hmac(server_key, auth_message, server_sig);
  if (!ok) {
    wipe();
    return internalError("SCRAM key derivation failed");
  }
  Key proof;
  for (size_t i = 0; i < proof.size(); ++i) {
    proof[i] = client_key[i] ^ client_sig[i];
  }
  server_signature_ = base64Encode(asView(server_sig));
  std::string result = final_without_proof + ",p=" + base64Encode(asView(proof));
  wipe();
  OPENSSL_cleanse(proof.data(), proof.size());
  return result;
}

Status ScramClient::verifyServerFinal(std::string_view server_final) {
  if (server_signature_.empty()) {
    return internalError("SCRAM server-final-message before server-first-message");
  }
  if (server_final.starts_with("e=")) {
    return Status::error(
        Code::kPermissionDenied,
        "upstream rejected SCRAM authentication: " + std::string(server_final.substr(2)), "28P01");
  }
  std::string_view v;
  if (attributeCount(server_final) != 1 || !attribute(server_final, 0, 'v', v)) {
    return protocolError("malformed SCRAM server-final-message");
  }
  bool match = v.size() == server_signature_.size() &&
               CRYPTO_memcmp(v.data(), server_signature_.data(), v.size()) == 0;
  if (!match) {
    return Status::error(Code::kPermissionDenied,
                         "upstream server signature is invalid: the server does not know the "
                         "password",
                         "28P01");
  }
  return Status::ok();
}

Result<std::string> tlsServerEndPointHash(std::string_view der_certificate) {
  const auto* p = reinterpret_cast<const unsigned char*>(der_certificate.data());
  const unsigned char* end = p + der_certificate.size();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(der_certificate.size())), &X509_free);
  if (!cert || p != end) {
    return invalidArgument("server certificate is not valid DER");
  }
  int md_nid = NID_undef;
  if (X509_get_signature_info(cert.get(), &md_nid, nullptr, nullptr, nullptr) != 1) {
    return invalidArgument("cannot determine the server certificate's signature algorithm");
  }
  if (md_nid == NID_md5 || md_nid == NID_sha1) {
    md_nid = NID_sha256;  // RFC 5929, section 4.1
  }
  const EVP_MD* md = EVP_get_digestbynid(md_nid);
  if (md == nullptr) {
    return invalidArgument("server certificate signature has no hash usable for channel binding");
  }
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), md, buf, &len) != 1) {
    return internalError("cannot hash the server certificate");
  }
  return std::string(reinterpret_cast<const char*>(buf), len);
}

std::string md5PasswordResponse(std::string_view user, std::string_view password,
                                std::string_view salt) {
  auto md5Hex = [](std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) != 1) {
      return std::string();
    }
    return toHex({reinterpret_cast<const char*>(digest), len});
  };
  std::string inner = std::string(password) + std::string(user);
  std::string inner_hex = md5Hex(inner);
  OPENSSL_cleanse(inner.data(), inner.size());
  std::string outer = md5Hex(inner_hex + std::string(salt));
  return outer.empty() ? std::string() : "md5" + outer;
}

}  // namespace jg::pg
