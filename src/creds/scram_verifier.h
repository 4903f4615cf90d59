// SCRAM-SHA-256 password verifiers as PostgreSQL stores them, computed on the gateway so that a
// session role's plaintext password never travels to the server (nor into its statement log).
//
// Format (RFC 5803 style, as PostgreSQL's pg_authid.rolpassword):
//   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
// PostgreSQL accepts such a string in CREATE ROLE ... PASSWORD '<verifier>' and stores it as is.
// Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "creds/secret.h"

namespace jg::creds {

// The verifier for `password` with the given salt (raw bytes) and PBKDF2 iteration count.
// REQUIRES: iterations >= 1, !salt.empty(). The password is used as given (no SASLprep), so it
// must be ASCII, as sessionPassword() produces.
Result<std::string> scramVerifier(std::string_view password, std::string_view salt, int iterations);

// A fresh session password: 32 random bytes, hex-encoded (64 ASCII characters).
Secret sessionPassword();

// Standard base64 (with padding), as SCRAM uses it.
std::string base64(std::string_view bytes);

}  // namespace jg::creds
