#include "server/mcp_session_id.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/random.h"
#include "identity/base64url.h"

namespace jg::server {
namespace {

constexpr std::string_view kLabel = "jitgate-mcp-session/1";

}  // namespace

McpSessionIds::McpSessionIds(std::string key) : key_(std::move(key)) {
  if (key_.empty()) {
    key_.resize(32);
    randomBytes(key_.data(), key_.size());
  }
}

std::string McpSessionIds::mac(std::string_view subject, std::string_view stamp_and_nonce) const {
  // The subject is length-prefixed so that no two (subject, stamp) pairs share an input.
  std::string input(kLabel);
  uint32_t len = static_cast<uint32_t>(subject.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    input.push_back(static_cast<char>((len >> shift) & 0xff));
  }
  input.append(subject);
  input.append(stamp_and_nonce);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &out_len);
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

std::string McpSessionIds::mint(std::string_view subject,
                                std::chrono::system_clock::time_point now) const {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::string raw;
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw.push_back(static_cast<char>((static_cast<uint64_t>(secs) >> shift) & 0xff));
  }
  std::string nonce(kNonceBytes, '\0');
  randomBytes(nonce.data(), nonce.size());
  raw += nonce;
  raw += mac(subject, raw);
  return identity::base64UrlEncode(raw);
}

bool McpSessionIds::verify(std::string_view id, std::string_view subject) const {
  if (id.size() > 2 * kIdBytes) {
    return false;
  }
  auto raw = identity::base64UrlDecode(id);
  if (!raw || raw->size() != kIdBytes) {
    return false;
  }
  std::string_view body(raw->data(), 8 + kNonceBytes);
  std::string expected = mac(subject, body);
  return CRYPTO_memcmp(expected.data(), raw->data() + body.size(), expected.size()) == 0;
}

}  // namespace jg::server
