#include "audit/json_writer.h"

#include <charconv>

namespace jg::audit {
namespace {

// Length of the valid UTF-8 sequence starting with the non-ASCII byte at s[i], or 0.
size_t utf8Sequence(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 2;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 3;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + n >= s.size()) {
    return 0;
  }
  for (size_t k = 1; k <= n; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
      return 0;
    }
  }
  return n + 1;
}

void appendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  size_t run = 0;
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    if (c >= 0x80) {
      size_t n = utf8Sequence(s, i);
      if (n == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD for a byte that is not UTF-8
        n = 1;
      } else {
        out.append(s.data() + i, n);
      }
      i += n;
    } else {
      out.push_back('\\');
      switch (c) {
        case '"':
        case '\\':
          out.push_back(static_cast<char>(c));
          break;
        case '\n':
          out.push_back('n');
          break;
        case '\r':
          out.push_back('r');
          break;
        case '\t':
          out.push_back('t');
          break;
        case '\b':
          out.push_back('b');
          break;
        case '\f':
          out.push_back('f');
          break;
        default:
          out.append("u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
      }
      ++i;
    }
    run = i;
  }
  out.append(s.data() + run, i - run);
  out.push_back('"');
}

template <typename T>
void appendNumber(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8Sequence(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

void JsonWriter::key(std::string_view k) {
  separate();
  appendQuoted(out_, k);
  out_.push_back(':');
  comma_ = false;
}

void JsonWriter::str(std::string_view v) {
  separate();
  appendQuoted(out_, v);
}

void JsonWriter::u64(uint64_t v) {
  separate();
  appendNumber(out_, v);
}

void JsonWriter::i64(int64_t v) {
  separate();
  appendNumber(out_, v);
}

void JsonWriter::boolean(bool v) {
  separate();
  out_.append(v ? "true" : "false");
}

void JsonWriter::null() {
  separate();
  out_.append("null");
}

}  // namespace jg::audit
