#include "creds/scram_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include <fmt/format.h>

#include "core/random.h"

namespace jg::creds {
namespace {

using Key = std::array<unsigned char, 32>;

std::string_view view(const Key& k) {
  return {reinterpret_cast<const char*>(k.data()), k.size()};
}

bool hmac(const Key& key, std::string_view data, Key& out) {
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
              &len) != nullptr &&
         len == out.size();
}

}  // namespace

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> scramVerifier(std::string_view password, std::string_view salt,
                                  int iterations) {
  if (iterations < 1 || salt.empty()) {
    return invalidArgument("a SCRAM verifier needs a salt and at least one iteration");
  }
  Key salted{}, client_key{}, stored_key{}, server_key{};
  bool ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                              reinterpret_cast<const unsigned char*>(salt.data()),
                              static_cast<int>(salt.size()), iterations, EVP_sha256(),
                              static_cast<int>(salted.size()), salted.data()) == 1 &&
            hmac(salted, "Client Key", client_key) &&
            EVP_Digest(client_key.data(), client_key.size(), stored_key.data(), nullptr,
                       EVP_sha256(), nullptr) == 1 &&
            hmac(salted, "Server Key", server_key);
  std::string out;
  if (ok) {
    out = fmt::format("SCRAM-SHA-256${}:{}${}:{}", iterations, base64(salt),
                      base64(view(stored_key)), base64(view(server_key)));
  }
  for (Key* k : {&salted, &client_key, &stored_key, &server_key}) {
    OPENSSL_cleanse(k->data(), k->size());
  }
  if (!ok) {
    return internalError("SCRAM verifier derivation failed");
  }
  return out;
}

Secret sessionPassword() {
  std::string raw(32, '\0');
  randomBytes(raw.data(), raw.size());
  Secret s(toHex(raw));
  OPENSSL_cleanse(raw.data(), raw.size());
  return s;
}

}  // namespace jg::creds
