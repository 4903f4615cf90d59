// SCRAM-SHA-256 client (RFC 5802, RFC 7677), sans-I/O, for authenticating to an upstream
// PostgreSQL server, with optional tls-server-end-point channel binding (SCRAM-SHA-256-PLUS).
//
// Flow: clientFirst() → send in SASLInitialResponse; feed the server's SASLContinue data to
// handleServerFirst(), send its result in SASLResponse; feed SASLFinal data to
// verifyServerFinal(). A session owns one ScramClient; not thread-safe. The password and the
// derived keys are wiped on destruction.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace jg::pg {

class ScramClient {
 public:
  // `cert_hash` is the tls-server-end-point hash of the server certificate; empty selects
  // SCRAM-SHA-256 without channel binding ("n,,"; or "y,," when the client supports binding but
  // the connection is not TLS).
  ScramClient(std::string password, std::string cert_hash = {});
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
  std::string password_;
  std::string cert_hash_;
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
