// Strict base64url (RFC 4648 §5, unpadded) as JWS compact serialization requires it.
//
// Strictness is the point: padding, whitespace, characters outside the URL-safe alphabet and
// non-canonical encodings (stray low bits in the last character) are rejected, so one token has
// exactly one spelling. OpenSSL does the bit work; this layer only enforces the alphabet.
// Stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jg::identity {

// Returns the decoded bytes, or nullopt when `text` is not canonical unpadded base64url.
std::optional<std::string> base64UrlDecode(std::string_view text);
std::string base64UrlEncode(std::string_view bytes);

}  // namespace jg::identity
