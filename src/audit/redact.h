// Secret scrubbing for the clear-text fields of audit records (statement text, error messages,
// failure reasons).
//
// The recorder runs every free-text field through a Redactor before writing it. The default,
// scrubSecrets(), replaces values that are secrets by construction: SQL password literals
// (`PASSWORD 'x'`), `key=value` / `"key": "value"` pairs whose key names a secret (password,
// secret, token, api_key, ...), JWTs (`eyJ...`) and PEM private key blocks. The server may
// install a stronger redactor (for example the masking detectors). Pure functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace jg::audit {

using Redactor = std::function<std::string(std::string_view)>;

std::string scrubSecrets(std::string_view text);

}  // namespace jg::audit
