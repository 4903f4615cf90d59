#include "proto/http/target.h"

#include <string>

#include "core/text.h"

namespace jg::http {
namespace {

int hexValue(char c) {
  if (isAsciiDigit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool isControl(unsigned char c) {
  return c < 0x20 || c == 0x7F;
}

// Raw bytes a client must percent-encode: controls, space, non-ASCII, and '\' (which some
// servers read as '/').
std::string_view firstRawDefect(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (isControl(c)) {
      return "a control byte";
    }
    if (c == ' ') {
      return "a space";
    }
    if (c >= 0x80) {
      return "a non-ASCII byte";
    }
    if (c == '\\') {
      return "a '\\'";
    }
  }
  return {};
}

Status refuse(std::string what) {
  return invalidArgument("request target: " + std::move(what));
}

// Checks one decoded path segment; empty when it is acceptable.
std::string segmentDefect(std::string_view decoded) {
  for (const char ch : decoded) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '/') {
      return "an encoded '/' (%2F) inside a path segment is ambiguous; refused";
    }
    if (c == '\\') {
      return "an encoded '\\' (%5C) inside a path segment is ambiguous; refused";
    }
    if (c == 0) {
      return "an encoded NUL (%00) in the path is refused";
    }
    if (isControl(c)) {
      return "an encoded control byte in the path is refused";
    }
  }
  if (decoded == "..") {
    return "a '..' segment is refused; send the resolved path";
  }
  return {};
}

// Decodes and normalizes `raw` (starts with '/') into `out.path`.
Status normalizePath(std::string_view raw, Target& out) {
  std::string segment;
  std::string path;
  size_t pos = 1;
  while (true) {
    const size_t slash = raw.find('/', pos);
    const std::string_view piece =
        raw.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    segment.clear();
    if (!percentDecode(piece, false, segment)) {
      return refuse(
          "invalid percent-encoding in the path (a '%' must be followed by two hex "
          "digits; send '%25' for a literal '%')");
    }
    if (auto defect = segmentDefect(segment); !defect.empty()) {
      return refuse(std::move(defect));
    }
    const bool last = slash == std::string_view::npos;
    if (segment != ".") {
      path += '/';
      path += segment;
    } else if (last) {
      path += '/';
    }
    if (last) {
      break;
    }
    pos = slash + 1;
  }
  if (!isValidUtf8(path)) {
    return refuse("the decoded path is not valid UTF-8");
  }
  out.path = std::move(path);
  return Status::ok();
}

Status parseQuery(std::string_view raw, Target& out) {
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = raw.size();
    }
    const std::string_view piece = raw.substr(pos, amp - pos);
    pos = amp + 1;
    if (piece.empty()) {
      continue;
    }
    if (out.query.size() == kMaxQueryParams) {
      return refuse("more than " + std::to_string(kMaxQueryParams) + " query parameters");
    }
    const size_t eq = piece.find('=');
    std::string key;
    std::string value;
    const bool ok =
        percentDecode(piece.substr(0, eq), true, key) &&
        (eq == std::string_view::npos || percentDecode(piece.substr(eq + 1), true, value));
    if (!ok) {
      return refuse(
          "invalid percent-encoding in the query (a '%' must be followed by two hex "
          "digits; send '%25' for a literal '%')");
    }
    if (!isValidUtf8(key) || !isValidUtf8(value)) {
      return refuse("a decoded query parameter is not valid UTF-8");
    }
    out.query.emplace_back(std::move(key), std::move(value));
  }
  return Status::ok();
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (isAsciiUpper(c)) {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != prefix[i]) {
      return false;
    }
  }
  return true;
}

// Splits "http://authority/path?query" into its authority and the origin-form rest.
Status splitAbsoluteForm(std::string_view target, std::string_view& rest, Target& out) {
  size_t scheme = 0;
  if (startsWithNoCase(target, "http://")) {
    scheme = 7;
  } else if (startsWithNoCase(target, "https://")) {
    scheme = 8;
  } else {
    return refuse("only http and https absolute-form targets are accepted");
  }
  const std::string_view after = target.substr(scheme);
  const size_t end = after.find_first_of("/?");
  const std::string_view authority = after.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return refuse("the absolute-form target needs a host and no user information");
  }
  for (const char c : authority) {
    const bool ok = isAsciiAlnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' ||
                    c == ']' || c == '~' || c == '%';
    if (!ok) {
      return refuse("the host of the absolute-form target is not a host name with a port");
    }
  }
  out.authority = std::string(authority);
  rest = end == std::string_view::npos ? std::string_view("/") : after.substr(end);
  return Status::ok();
}

}  // namespace

bool percentDecode(std::string_view in, bool plus_is_space, std::string& out) {
  out.reserve(out.size() + in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;
      }
      const int hi = hexValue(in[i + 1]);
      const int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return false;
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

Result<Target> parseTarget(std::string_view target) {
  return parseTarget(target, TargetOptions{});
}

Result<Target> parseTarget(std::string_view target, const TargetOptions& options) {
  if (target.empty()) {
    return refuse("empty; send a path such as \"/\"");
  }
  if (target.find('#') != std::string_view::npos) {
    return refuse("a fragment ('#') is never sent to a server; remove it");
  }
  Target out;
  std::string_view rest = target;
  if (target.front() != '/') {
    if (!options.allow_absolute_form) {
      return refuse("not in origin-form; send a path that starts with '/'");
    }
    if (auto s = splitAbsoluteForm(target, rest, out); !s) {
      return s;
    }
  }
  if (auto defect = firstRawDefect(rest); !defect.empty()) {
    return refuse("contains " + std::string(defect) + "; percent-encode it");
  }
  const size_t question = rest.find('?');
  const std::string_view raw_path = rest.substr(0, question);
  if (raw_path.size() > kMaxPathBytes) {
    return refuse("the path is longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  // An absolute-form target may have no path ("http://host?x"): its path is "/".
  out.raw_path = raw_path.empty() ? std::string("/") : std::string(raw_path);
  if (question != std::string_view::npos) {
    out.raw_query = std::string(rest.substr(question + 1));
  }
  if (auto s = normalizePath(out.raw_path, out); !s) {
    return s;
  }
  if (auto s = parseQuery(out.raw_query, out); !s) {
    return s;
  }
  return out;
}

}  // namespace jg::http
