// Secrets named by their context: a value assigned to a secret key (`db_password=...`,
// `"apiKey": "..."`, `export PGPASSWORD=...`, `--db-password ...`) and the password of a URI
// (`scheme://user:password@host`).
//
// One keyword table (password, secret, token, api_key, ...) is the source of the detector
// expressions (detectors.cc), of the span validators below and of the key test the JSON masker
// applies to object members (cell.cc), so the three cannot drift apart. A keyword counts when it
// is the last component of the key: `db_password`, `DB_PASSWORD`, `spring.datasource.password`,
// `dbPassword` and `PGPASSWORD` are secret keys; `password_hint` and `passwords` are not. Short
// keywords (`pass`, `pwd`, `auth`, `creds`) must start a component, so `bypass` and `oauth`
// are not.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jg::mask {

// The keyword alternation for a Vectorscan expression (caseless), e.g. `password|api[_.\-]?key`.
std::string secretKeywordExpr();

// True if `key` (a whole key name, such as a decoded JSON member name) ends with a secret
// keyword under the component rule above.
bool isSecretKey(std::string_view key);

// True if `value` is a stand-in rather than a secret: `*****`, `xxxx`, `${DB_PASSWORD}`,
// `{{ token }}`, `<password>`, `true`, `null`, `none`, ...
bool isSecretPlaceholder(std::string_view value);

// Span validators of the `secret_assignment` and `url_password` detectors. Each moves the span
// onto the secret, keeping the key (or the scheme and user) visible.
//  - validateAssignment: `key[:=]value` in text, JSON, YAML, .env and properties styles. A
//    quoted value runs to its closing quote; an unquoted one to the next space or `"',;&`, or to
//    the end of the line when the key starts its line (YAML, .env, properties). A bare keyword
//    followed by `: ` and a function word ("the token: a metaphor") is prose, not a value.
//  - validateFlagAssignment: `--db-password value` on a command line.
//  - validateUrlPassword: `scheme://user:password@` (also JSON-escaped `:\/\/`); the password
//    runs to the last `@` of the authority.
bool validateAssignment(std::string_view text, size_t& from, size_t& to);
bool validateFlagAssignment(std::string_view text, size_t& from, size_t& to);
bool validateUrlPassword(std::string_view text, size_t& from, size_t& to);

}  // namespace jg::mask
