#include "mask/shapes.h"

#include <array>
#include <cstring>
#include <utility>

namespace jg::mask {
namespace {

constexpr uint32_t kDigitShapes = kShapeCard | kShapeSsn | kShapePhoneE164 | kShapePhoneIntl |
                                  kShapePhoneNanp | kShapePhoneTrunk | kShapeIpv4;

// Byte classes, one table look-up per byte.
enum : uint8_t {
  kDigitBit = 1,
  kUpperBit = 2,
  kWordBit = 4,   // [A-Za-z0-9_]
  kSpaceBit = 8,  // the separators inside numbers
  kDashBit = 16,
  kDotBit = 32,
  kEmailLocalBit = 64,   // [A-Za-z0-9._%+\-]
  kEmailDomainBit = 128  // [A-Za-z0-9\-]
};
constexpr auto kClass = [] {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    bool digit = b >= '0' && b <= '9', upper = b >= 'A' && b <= 'Z', lower = b >= 'a' && b <= 'z';
    bool alnum = digit || upper || lower;
    c[b] = static_cast<uint8_t>(
        (digit ? kDigitBit : 0) | (upper ? kUpperBit : 0) | (alnum || b == '_' ? kWordBit : 0) |
        (b == ' ' ? kSpaceBit : 0) | (b == '-' ? kDashBit : 0) | (b == '.' ? kDotBit : 0) |
        (alnum || b == '.' || b == '_' || b == '%' || b == '+' || b == '-' ? kEmailLocalBit : 0) |
        (alnum || b == '-' ? kEmailDomainBit : 0));
  }
  return c;
}();

uint8_t cls(char c) {
  return kClass[static_cast<unsigned char>(c)];
}
bool isDigit(char c) {
  return (cls(c) & kDigitBit) != 0;
}

bool digitsAt(std::string_view t, size_t p, size_t n) {
  if (p > t.size() || t.size() - p < n) {
    return false;
  }
  for (size_t i = p; i < p + n; ++i) {
    if (!isDigit(t[i])) {
      return false;
    }
  }
  return true;
}

// The runs of digits from a position, each separated from the next by one space, dash or dot:
// their lengths and the class of the byte after each (0 at the end of the text). An expression
// made of digit groups (`\d{4}[ \-]\d{4}...\b`) matches there only if the lengths fit it, since
// every group is a maximal run.
struct Groups {
  static constexpr int kMax = 6;
  int n = 0;
  int len[kMax] = {};
  uint8_t after[kMax] = {};

  bool boundary(int k) const { return (after[k] & kWordBit) == 0; }
  // Groups 0..k-1 are each followed by a separator of the `seps` classes.
  bool sepsIn(int k, uint8_t seps) const {
    for (int i = 0; i < k; ++i) {
      if ((after[i] & seps) == 0) {
        return false;
      }
    }
    return true;
  }
};
Groups groupsAt(std::string_view t, size_t p) {
  Groups g;
  size_t i = p;
  while (g.n < Groups::kMax) {
    size_t start = i;
    while (i < t.size() && isDigit(t[i])) {
      ++i;
    }
    if (i == start) {
      break;
    }
    g.len[g.n] = static_cast<int>(i - start);
    g.after[g.n++] = i == t.size() ? 0 : cls(t[i]);
    if (i == t.size() || (cls(t[i]) & (kSpaceBit | kDashBit | kDotBit)) == 0) {
      break;
    }
    ++i;
  }
  return g;
}

bool within(int v, int lo, int hi) {
  return v >= lo && v <= hi;
}

// The tests below each mirror one exact expression of detectors.cc, read from its first digit
// (after the `+` or the `(` when there is one). `g` holds the groups from that digit.
constexpr uint8_t kSpaceDash = kSpaceBit | kDashBit, kSpaceDot = kSpaceBit | kDotBit,
                  kAnySep = kSpaceBit | kDashBit | kDotBit;

// \b([2-6]\d{12,18}|[2-6]\d{3}([ \-]\d{4}){3}([ \-]\d{1,3})?|[2-6]\d{3}([ \-]\d{4}){2}[ \-]\d{1,3}
//   |[2-6]\d{3}[ \-]\d{6}[ \-]\d{4,5})\b
bool cardAt(std::string_view t, size_t p, const Groups& g) {
  const int* l = g.len;
  return t[p] >= '2' && t[p] <= '6' &&
         ((within(l[0], 13, 19) && g.boundary(0)) ||
          (l[0] == 4 && l[1] == 4 && l[2] == 4 && within(l[3], 1, 4) && g.sepsIn(3, kSpaceDash) &&
           g.boundary(3)) ||
          (l[0] == 4 && l[1] == 6 && within(l[2], 4, 5) && g.sepsIn(2, kSpaceDash) &&
           g.boundary(2)));
}

// \b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b
bool ssnAt(const Groups& g) {
  return g.len[0] == 3 && g.len[1] == 2 && g.len[2] == 4 && g.sepsIn(2, kSpaceDash) &&
         g.boundary(2);
}

// \+[1-9]([ .\-]?\(?\d\)?){6,14}\b: seven digits or more after the `+`, with nothing but
// separators and parentheses between them.
bool e164At(std::string_view t, size_t p) {
  if (p == 0 || t[p - 1] != '+' || t[p] == '0') {
    return false;
  }
  int digits = 0;
  for (size_t i = p; i < t.size() && digits < 7; ++i) {
    if (isDigit(t[i])) {
      ++digits;
    } else if ((cls(t[i]) & kAnySep) == 0 && t[i] != '(' && t[i] != ')') {
      break;
    }
  }
  return digits >= 7;
}

// \b00[1-9]\d{0,2}[ .\-]\d{1,4}([ .\-]\d{2,4}){1,4}\b
bool intlAt(std::string_view t, size_t p, const Groups& g) {
  if (!(within(g.len[0], 3, 5) && t[p] == '0' && t[p + 1] == '0' && t[p + 2] != '0' &&
        within(g.len[1], 1, 4))) {
    return false;
  }
  for (int k = 2; k < g.n && within(g.len[k], 2, 4); ++k) {
    if (g.boundary(k)) {
      return true;
    }
  }
  return false;
}

// (\b1[ .\-])?(\(\d{3}\) ?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b: a match always holds one without
// the optional `1-`, starting after the `(` or at the three digits.
bool nanpAt(std::string_view t, size_t p, const Groups& g) {
  if (g.len[0] != 3) {
    return false;
  }
  if (g.n >= 3 && g.len[1] == 3 && g.len[2] == 4 && g.boundary(2)) {
    return true;  // the groups are separated by [ .\-]
  }
  size_t i = p + 3;
  if (i == t.size() || t[i] != ')' || p == 0 || t[p - 1] != '(') {
    return false;
  }
  i += i + 1 < t.size() && t[i + 1] == ' ' ? 2 : 1;
  Groups h = groupsAt(t, i);
  return h.len[0] == 3 && h.len[1] == 4 && h.boundary(1);
}

// \b0[1-9](( \d{2}){4}|(\.\d{2}){4}|\d{1,3} \d{3,4} \d{3,4})\b
bool trunkAt(std::string_view t, size_t p, const Groups& g) {
  const int* l = g.len;
  return l[0] >= 2 && t[p] == '0' && t[p + 1] != '0' &&
         ((l[0] == 2 && l[1] == 2 && l[2] == 2 && l[3] == 2 && l[4] == 2 &&
           g.sepsIn(4, kSpaceDot) && g.boundary(4)) ||
          (within(l[0], 3, 5) && within(l[1], 3, 4) && within(l[2], 3, 4) &&
           g.sepsIn(2, kSpaceBit) && g.boundary(2)));
}

// \b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b
bool ipv4At(const Groups& g) {
  return within(g.len[0], 1, 3) && within(g.len[1], 1, 3) && within(g.len[2], 1, 3) &&
         within(g.len[3], 1, 3) && g.sepsIn(3, kDotBit) && g.boundary(3);
}

size_t digitRun(std::string_view t, size_t p) {
  size_t i = p;
  while (i < t.size() && isDigit(t[i])) {
    ++i;
  }
  return i - p;
}

// REQUIRES: t[p] is a digit at a word boundary and t[p, p + len) is its run of digits.
bool digitShapeAt(std::string_view t, size_t p, size_t len, uint32_t shapes) {
  if ((shapes & kShapePhoneE164) && e164At(t, p)) {
    return true;
  }
  // Most numbers are dismissed by their first group: every other expression either is one run of
  // 13-19 digits, or starts with 1-5 digits and a separator (or `(212)`).
  size_t i = p + len;
  bool sep = i < t.size() && (cls(t[i]) & kAnySep) != 0;
  bool paren = len == 3 && i < t.size() && t[i] == ')';
  bool card = len >= 13 && len <= 19 && t[p] >= '2' && t[p] <= '6';
  if (!((sep && len <= 5) || paren || card)) {
    return false;
  }
  if (!paren && !card) {
    // The others have three groups or more, and most numbers with a separator (`12.50,`) have
    // two: the second group must end in a separator too.
    size_t end = i + 1 + digitRun(t, i + 1);
    if (end == i + 1 || end >= t.size() || (cls(t[end]) & kAnySep) == 0) {
      return false;
    }
  }
  Groups g = groupsAt(t, p);
  if (g.n < 3 && !paren && !card) {
    return false;  // the others have three groups or more
  }
  return ((shapes & kShapeCard) && cardAt(t, p, g)) || ((shapes & kShapeSsn) && ssnAt(g)) ||
         ((shapes & kShapePhoneIntl) && intlAt(t, p, g)) ||
         ((shapes & kShapePhoneNanp) && nanpAt(t, p, g)) ||
         ((shapes & kShapePhoneTrunk) && trunkAt(t, p, g)) || ((shapes & kShapeIpv4) && ipv4At(g));
}

// REQUIRES: t[p], t[p+1] are capitals at a word boundary.
// \b[A-Z]{2}\d{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,4})?\b: two groups of four within ten bytes.
bool ibanAt(std::string_view t, size_t p) {
  if (!digitsAt(t, p + 2, 2)) {
    return false;
  }
  int alnum = 0;
  for (size_t i = p + 4; i < t.size() && i < p + 14 && alnum < 8; ++i) {
    if ((cls(t[i]) & (kUpperBit | kDigitBit)) != 0) {
      ++alnum;
    } else if (t[i] != ' ') {
      break;
    }
  }
  return alnum >= 8;
}

// [A-Za-z0-9._%+\-]@[A-Za-z0-9\-]+\.[A-Za-z0-9\-]
bool emailIn(std::string_view t) {
  for (size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
    if (at == 0 || (cls(t[at - 1]) & kEmailLocalBit) == 0) {
      continue;
    }
    size_t i = at + 1;
    while (i < t.size() && (cls(t[i]) & kEmailDomainBit) != 0) {
      ++i;
    }
    if (i > at + 1 && i + 1 < t.size() && t[i] == '.' && (cls(t[i + 1]) & kEmailDomainBit) != 0) {
      return true;
    }
  }
  return false;
}

bool isHex(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The bytes the user information of a URI cannot hold (`[^\s:/?#"'<>]`, `[^\s/?#"'<>]`):
// a walk back from an `@` stops there. Only some of `\s`, which makes the walk longer, never
// shorter, than the expression's.
bool endsUserinfo(char c) {
  switch (c) {
    case '/':
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '?':
    case '#':
    case '"':
    case '\'':
    case '<':
    case '>':
      return true;
    default:
      return false;
  }
}

// `://` or the JSON-escaped `:\/\/` ends at `slash`.
bool schemeEndsAt(std::string_view t, size_t slash) {
  return (slash >= 2 && t.substr(slash - 2, 3) == "://") ||
         (slash >= 4 && t.substr(slash - 4, 5) == ":\\/\\/");
}

// (://|:\\/\\/)[^\s:/?#"'<>]*:[^\s/?#"'<>]+@: an `@` whose run of userinfo bytes (back to a
// `/` or a space) holds a `:` and follows a `://`. The walk from an `@` stops at the previous
// one: the run goes on through it, so it begins where that one's began (its colons do not
// matter: had it held one after a `://`, the scan would have stopped there). Each byte is walked
// once.
bool urlPasswordIn(std::string_view t) {
  size_t prev = std::string_view::npos;
  bool prev_scheme = false;
  for (size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
    size_t floor = prev == std::string_view::npos ? 0 : prev + 1;
    size_t i = at;
    bool colon = false;
    while (i > floor && !endsUserinfo(t[i - 1])) {
      colon = colon || t[i - 1] == ':';
      --i;
    }
    bool scheme = i > floor ? t[i - 1] == '/' && schemeEndsAt(t, i - 1)  // the run ends here
                            : prev != std::string_view::npos && prev_scheme;
    if (scheme && colon) {
      return true;
    }
    prev = at;
    prev_scheme = scheme;
  }
  return false;
}

// A valid address in a match of \b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{0,4}){2,7} (what validateIpv6
// accepts: inet_pton, with no `.` in reach) is either compressed, and holds `[hex]::` (its first
// `::` follows a hex digit), or full, and holds `[hex](:[hex]{1,4}){7}`. A clock time (`10:23:45`)
// is neither.
bool ipv6In(std::string_view t) {
  for (size_t c = t.find(':'); c != std::string_view::npos; c = t.find(':', c + 1)) {
    if (c == 0 || !isHex(t[c - 1])) {
      continue;
    }
    if (c + 1 < t.size() && t[c + 1] == ':') {
      return true;
    }
    int groups = 0;
    for (size_t i = c; groups < 7 && i < t.size() && t[i] == ':'; ++groups) {
      size_t j = i + 1;
      while (j < t.size() && j - i <= 4 && isHex(t[j])) {
        ++j;
      }
      if (j == i + 1) {
        break;  // an empty group: `::`, found above when it follows a hex digit
      }
      i = j;
    }
    if (groups == 7) {
      return true;
    }
  }
  return false;
}

// 64 bytes at a time, as bit masks (bit i for byte i; GCC vector extensions: SSE2 on x86-64,
// NEON on arm64). A candidate is a digit (or two capitals) whose previous byte is not a word
// byte. Digit candidates are then thinned with the masks of the chunk and the next one, which
// decide the first test of digitShapeAt without a branch per number: most numbers in a table
// of figures are dismissed here.
using V = unsigned char __attribute__((vector_size(16)));
using M = signed char __attribute__((vector_size(16)));

uint64_t maskBits(M m) {  // one bit per byte, like SSE2's pmovmskb
#if defined(__SSE2__)
  return static_cast<uint16_t>(
      __builtin_ia32_pmovmskb128((char __attribute__((vector_size(16))))m));
#else
  uint64_t h[2];
  std::memcpy(h, &m, sizeof h);
  constexpr uint64_t kHigh = 0x8080808080808080u, kGather = 0x0002040810204081u;
  return (((h[0] & kHigh) * kGather) >> 56) | ((((h[1] & kHigh) * kGather) >> 56) << 8);
#endif
}

// The masks of 64 bytes. Past the end of the text the bytes read as NUL (withChunk), which every
// test here treats as the end: not a digit, a word byte or a separator.
struct Chunk {
  uint64_t digit = 0, upper = 0, word = 0;
};
struct NumberBits {
  uint64_t sep = 0, close = 0, plus = 0, low = 0;  // [ .\-], ')', '+', [2-6]
};

// REQUIRES: 64 bytes readable at p.
Chunk chunkOf(const char* p) {
  Chunk c;
  for (int k = 0; k < 4; ++k) {
    V v;
    std::memcpy(&v, p + 16 * k, sizeof v);
    M digit = (M)(v - '0' < 10), upper = (M)(v - 'A' < 26);
    M word = digit | upper | (M)(v - 'a' < 26) | (M)(v == '_');
    c.digit |= maskBits(digit) << (16 * k);
    c.upper |= maskBits(upper) << (16 * k);
    c.word |= maskBits(word) << (16 * k);
  }
  return c;
}

NumberBits numberBitsOf(const char* p) {
  NumberBits b;
  for (int k = 0; k < 4; ++k) {
    V v;
    std::memcpy(&v, p + 16 * k, sizeof v);
    b.sep |= maskBits((M)(v == ' ') | (M)(v == '-') | (M)(v == '.')) << (16 * k);
    b.close |= maskBits((M)(v == ')')) << (16 * k);
    b.plus |= maskBits((M)(v == '+')) << (16 * k);
    b.low |= maskBits((M)(v - '2' < 5)) << (16 * k);
  }
  return b;
}

// Calls fn(pointer to the 64 bytes from `base`), NUL-padded at the end of the text.
template <typename Fn>
auto withChunk(std::string_view t, size_t base, Fn fn) {
  if (base < t.size() && t.size() - base >= 64) {
    return fn(t.data() + base);
  }
  char tail[64] = {};
  if (base < t.size()) {
    std::memcpy(tail, t.data() + base, t.size() - base);
  }
  return fn(tail);
}

// Bit i: bit i + k of the 128 bits b:a. REQUIRES: 0 < k < 64.
uint64_t ahead(uint64_t a, uint64_t b, int k) {
  return (a >> k) | (b << (64 - k));
}

// The digits of chunk `c` at `base` that may pass the first test of digitShapeAt: a run of at
// most five digits followed by a separator, `ddd)`, 13 digits or more from [2-6], or a `+`
// before. The masks of the next chunk (`_n`) are exact in the low bits used here.
// The masks of the chunk at `base`.
[[gnu::always_inline]] inline Chunk chunkAt(std::string_view t, size_t base) {
  return base + 64 <= t.size() ? chunkOf(t.data() + base) : withChunk(t, base, chunkOf);
}

// The masks of a chunk and of the next one (`n`, `b`) that the thinning test reads. The scan
// keeps those of the next chunk for its next step.
struct Thinning {
  Chunk n;
  NumberBits a, b;
};

uint64_t numberStarts(std::string_view t, size_t base, const Chunk& c, const Thinning& m) {
  const Chunk& n = m.n;
  const NumberBits &a = m.a, &b = m.b;
  bool plus_before = base > 0 && t[base - 1] == '+';
  uint64_t d = c.digit, dn = n.digit;
  uint64_t end = d & ~ahead(d, dn, 1), end_n = dn & ~(dn >> 1);  // the last digit of a run
  uint64_t es = end & ahead(a.sep, b.sep, 1), es_n = end_n & (b.sep >> 1);
  uint64_t er = end & ahead(a.close, b.close, 1), er_n = end_n & (b.close >> 1);
  uint64_t short_sep =
      es | ahead(es, es_n, 1) | ahead(es, es_n, 2) | ahead(es, es_n, 3) | ahead(es, es_n, 4);
  uint64_t paren = ahead(er, er_n, 2);
  uint64_t x1 = d & ahead(d, dn, 1), x1n = dn & (dn >> 1);       // 2 digits from here
  uint64_t x2 = x1 & ahead(x1, x1n, 2), x2n = x1n & (x1n >> 2);  // 4
  uint64_t x3 = x2 & ahead(x2, x2n, 4), x3n = x2n & (x2n >> 4);  // 8
  uint64_t long13 = x3 & ahead(x3, x3n, 5) & a.low;              // 13
  return short_sep | paren | long13 | (a.plus << 1) | uint64_t{plus_before};
}

// Thinning costs about as much as testing a few candidates one by one: it pays off on tables of
// figures, not on prose or JSON with a number here and there.
constexpr int kThinAbove = 4;

// popcount(x) > kThinAbove. x86-64's baseline has no popcount instruction, and GCC turns
// __builtin_popcountll into a library call there; clearing the lowest bits is a few cycles.
bool manyBits(uint64_t x) {
  for (int i = 0; i < kThinAbove; ++i) {
    x &= x - 1;
  }
  return x != 0;
}

template <bool kDigits, bool kCaps>
bool scanBoundaries(std::string_view t, uint32_t shapes) {
  uint64_t word_before = 0;  // bit 0: the byte before the chunk is a word byte
  Chunk cur = chunkAt(t, 0);
  Thinning m;
  bool have_next = false, have_bits = false;  // m holds the next chunk's masks, this one's bits
  for (size_t base = 0; base < t.size(); base += 64) {
    if (base > 0) {
      cur = have_next ? m.n : chunkAt(t, base);
      if (have_next) {
        m.a = m.b;
      }
      have_bits = std::exchange(have_next, false);
    }
    uint64_t boundary = ~((cur.word << 1) | word_before);
    word_before = cur.word >> 63;
    if constexpr (kDigits) {
      uint64_t cand = cur.digit & boundary;
      if (manyBits(cand)) {
        if (!have_bits) {
          m.a = withChunk(t, base, numberBitsOf);
        }
        m.n = chunkAt(t, base + 64);
        m.b = withChunk(t, base + 64, numberBitsOf);
        have_next = true;
        cand &= numberStarts(t, base, cur, m);
      }
      for (; cand != 0; cand &= cand - 1) {
        int k = __builtin_ctzll(cand);
        size_t p = base + static_cast<size_t>(k);
        uint64_t rest = ~(cur.digit >> k);
        size_t len = rest != 0 ? static_cast<size_t>(__builtin_ctzll(rest)) : 64;
        if (p + len == base + 64) {
          len += digitRun(t, base + 64);
        }
        if (digitShapeAt(t, p, len, shapes)) {
          return true;
        }
      }
    }
    if constexpr (kCaps) {
      uint64_t next_upper = cur.upper >> 1;
      if (base + 64 < t.size() && (cls(t[base + 64]) & kUpperBit) != 0) {
        next_upper |= uint64_t{1} << 63;
      }
      uint64_t cand = cur.upper & next_upper & boundary;
      for (; cand != 0; cand &= cand - 1) {
        if (ibanAt(t, base + static_cast<size_t>(__builtin_ctzll(cand)))) {
          return true;
        }
      }
    }
  }
  return false;
}

}  // namespace

bool hasShape(std::string_view text, uint32_t shapes) {
  if ((shapes & kShapeEmail) && emailIn(text)) {
    return true;
  }
  if ((shapes & kShapeUrlPassword) && urlPasswordIn(text)) {
    return true;
  }
  if ((shapes & kShapeIpv6) && ipv6In(text)) {
    return true;
  }
  bool digits = (shapes & kDigitShapes) != 0, caps = (shapes & kShapeIban) != 0;
  if (digits && caps) {
    return scanBoundaries<true, true>(text, shapes);
  }
  if (digits) {
    return scanBoundaries<true, false>(text, shapes);
  }
  return caps && scanBoundaries<false, true>(text, shapes);
}

}  // namespace jg::mask
