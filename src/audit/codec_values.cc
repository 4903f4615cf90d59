// The small value helpers of the record codec: text made valid UTF-8, the associated data that
// binds a sealed raw payload to its record, and the microsecond timestamps records carry.
#include "audit/codec.h"

#include <algorithm>

#include "audit/crypto.h"
#include "audit/json_writer.h"

namespace jg::audit {

std::string toValidUtf8(std::string_view s) {
  if (validUtf8(s)) {
    return std::string(s);
  }
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    // The longest valid sequence starting here (1-4 bytes), else one replacement character.
    size_t n = 0;
    for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
      if (validUtf8(s.substr(i, len))) {
        n = len;
        break;
      }
    }
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

const std::string& RawSealer::keyId() const {
  static const std::string kNone;
  return key_ ? key_->id() : kNone;
}

Result<std::optional<std::string>> RawSealer::seal(const RawBytes& raw,
                                                   std::string_view aad) const {
  if (!key_ || raw.state_ != RawBytes::State::kPlain) {
    return std::optional<std::string>();
  }
  auto sealed = key_->seal(raw.bytes_, aad);
  if (!sealed) {
    return sealed.status();
  }
  return std::optional<std::string>(base64Encode(*sealed));
}

std::string rawAad(std::string_view session_id, std::string_view type, std::string_view field) {
  std::string aad(session_id);
  aad.push_back('\0');
  aad.append(type);
  aad.push_back('\0');
  aad.append(field);
  return aad;
}

int64_t toMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
std::chrono::system_clock::time_point fromMicros(int64_t us) {
  using Tick = std::chrono::system_clock::duration;
  constexpr int64_t kLimit =
      std::chrono::duration_cast<std::chrono::microseconds>(Tick::max()).count();
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<Tick>(std::chrono::microseconds(std::clamp(us, -kLimit, kLimit))));
}

}  // namespace jg::audit
