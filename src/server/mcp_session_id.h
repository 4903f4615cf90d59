// McpSessionIds: stateless MCP session ids (the Mcp-Session-Id header of Streamable HTTP).
//
// An id is base64url(issued-at (8 bytes, big-endian seconds) || nonce (16 bytes) ||
// HMAC-SHA256(key, "jitgate-mcp-session/1" || subject || issued-at || nonce)). Nothing is kept
// per session: any replica holding the same key accepts an id another minted, so the MCP
// endpoint can sit behind a load balancer. The subject is bound into the MAC, not carried in
// the id: an id presented with another caller's token does not verify. Without a configured
// key each process draws its own random one (ids then stay valid only on the process that
// minted them, and not across restarts). Immutable after construction; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace jg::server {

class McpSessionIds {
 public:
  static constexpr size_t kNonceBytes = 16;
  static constexpr size_t kIdBytes = 8 + kNonceBytes + 32;

  // `key` empty: a random key for this process.
  explicit McpSessionIds(std::string key);

  std::string mint(std::string_view subject, std::chrono::system_clock::time_point now) const;
  // True when `id` was minted with this key for `subject`.
  bool verify(std::string_view id, std::string_view subject) const;

 private:
  std::string mac(std::string_view subject, std::string_view stamp_and_nonce) const;

  std::string key_;
};

}  // namespace jg::server
