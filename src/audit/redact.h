// Secret scrubbing for the clear-text fields of audit records (statement text, error messages,
// failure reasons).
//
// The recorder runs every free-text field through a Redactor before writing it. The default,
// scrubSecrets(), replaces values that are secrets by construction: SQL password literals
// (`PASSWORD 'x'`), `key=value` / `"key": "value"` pairs whose key names a secret (password,
// secret, token, api_key, ...), JWTs (`eyJ...`) and PEM private key blocks. The server may
// install a stronger redactor (for example the masking detectors). A keyword also matches as the
// last part of a longer name joined by '_' or '-' (`access_token=`, `x-api-key:`). Pure
// functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace jg::audit {

using Redactor = std::function<std::string(std::string_view)>;

std::string scrubSecrets(std::string_view text);

// HTTP scrubbers (applied before the Redactor to HTTP request records):
// True when a parameter or header name names a secret: it contains one of password, passwd,
// secret, token, api_key / api-key / apikey, access_key, private_key, signature, credential,
// session, cookie, or is "key", "sig", "code" or "authorization" (case-insensitive).
bool isSecretName(std::string_view name);
// A query string (or form body) with the value of every parameter whose name is a secret
// replaced by [redacted]: "access_token=abc&q=1" -> "access_token=[redacted]&q=1".
std::string scrubQuery(std::string_view query);
// A header value, [redacted] when the header name is a secret; for Authorization and
// Proxy-Authorization the scheme is kept ("Bearer [redacted]").
std::string scrubHeaderValue(std::string_view name, std::string_view value);

}  // namespace jg::audit
