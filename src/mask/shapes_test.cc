#include "mask/shapes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>
#include <vector>

#include "mask/detectors.h"
#include "mask/hs_runtime.h"
#include "mask/test_util.h"

namespace jg::mask {
namespace {

constexpr uint32_t kAll = ~uint32_t{0};

TEST(ShapeTest, CardNumbersNeedAWordBoundaryOnBothSides) {
  for (const char* s : {"4111111111111111", "card 4111111111111111", "card:4111111111111111",
                        "card=4111111111111111;", "\"4111111111111111\"", "(4111-1111-1111-1111)",
                        "x,4111 1111 1111 1111,y", "amex 3782 822463 10005", "#4111111111111111",
                        "card_no:5555555555554444.",
                        "\xc3\xa9"
                        "4111111111111111"}) {
    EXPECT_TRUE(hasShape(s, kShapeCard)) << s;
  }
  for (const char* s :
       {"a4111111111111111", "4111111111111111f", "0cc175b94111111111111111c0f1b6a8",
        "_4111111111111111", "4111111111111111_", "1700000000000", "order 1234567812345670x",
        "8111111111111111", "411111111111", "4111 1111 111", "4111.1111.1111.1111"}) {
    EXPECT_FALSE(hasShape(s, kShapeCard)) << s;
  }
}

TEST(ShapeTest, PhonesSsnsAndAddresses) {
  EXPECT_TRUE(hasShape("call (415) 555-2671", kShapePhoneNanp));
  EXPECT_TRUE(hasShape("tel 212.555.1234", kShapePhoneNanp));
  EXPECT_TRUE(hasShape("1-212-555-1234", kShapePhoneNanp));
  EXPECT_FALSE(hasShape("a212-555-1234", kShapePhoneNanp));
  EXPECT_TRUE(hasShape("+1 415 555 2671", kShapePhoneE164));
  EXPECT_TRUE(hasShape("x+14155552671", kShapePhoneE164));
  EXPECT_FALSE(hasShape("base64+5abc/9Q", kShapePhoneE164));
  EXPECT_TRUE(hasShape("0049 30 1234 5678", kShapePhoneIntl));
  EXPECT_FALSE(hasShape("e0049 30 1234 5678", kShapePhoneIntl));
  EXPECT_TRUE(hasShape("06 12 34 56 78", kShapePhoneTrunk));
  EXPECT_TRUE(hasShape("020 7946 0958", kShapePhoneTrunk));
  EXPECT_FALSE(hasShape("0612345678", kShapePhoneTrunk));
  EXPECT_TRUE(hasShape("ssn 123-45-6789.", kShapeSsn));
  EXPECT_TRUE(hasShape("123 45 6789", kShapeSsn));
  EXPECT_FALSE(hasShape("a123-45-6789", kShapeSsn));
  EXPECT_TRUE(hasShape("ip=10.0.12.7", kShapeIpv4));
  EXPECT_TRUE(hasShape("10.0.12.7:5432", kShapeIpv4));
  EXPECT_FALSE(hasShape("v10.0.12.7", kShapeIpv4));
  EXPECT_FALSE(hasShape("1234.5.6.7 and 1.2.3", kShapeIpv4));
}

TEST(ShapeTest, IbanStartsWithTwoCapitalsAtAWordBoundary) {
  EXPECT_TRUE(hasShape("iban DE89 3704 0044 0532 0130 00", kShapeIban));
  EXPECT_TRUE(hasShape("GB82WEST12345698765432", kShapeIban));
  EXPECT_FALSE(hasShape("xGB82WEST12345698765432", kShapeIban));
  EXPECT_FALSE(hasShape("DE89 37", kShapeIban));
}

TEST(ShapeTest, EmailNeedsALocalPartAndADottedDomain) {
  EXPECT_TRUE(hasShape("mail a@b.c", kShapeEmail));
  EXPECT_TRUE(hasShape("0cc175b9c0f1b6a831c399e269772661ada300@example.com", kShapeEmail));
  EXPECT_FALSE(hasShape("@handle and user@localhost and a@ b.c", kShapeEmail));
}

TEST(ShapeTest, DigitAndHexRunsWithoutABoundaryAreNotCandidates) {
  std::string hex;
  for (int i = 0; i < 64; ++i) {
    hex += "839201a74111111111111111c0f1b6a8";  // digits inside the run only
  }
  EXPECT_FALSE(hasShape(hex, kAll));
  EXPECT_TRUE(hasShape(hex + " 4111111111111111", kAll));
  EXPECT_TRUE(hasShape("4111111111111111 " + hex, kAll));
  EXPECT_TRUE(hasShape(hex.substr(0, 37) + ",4111111111111111," + hex, kAll));
}

// The scan works on 64-byte chunks: a value found at every offset, across chunk edges, and never
// when a word byte is glued to it.
TEST(ShapeTest, ChunkEdgesChangeNothing) {
  const std::pair<const char*, uint32_t> values[] = {{"4111111111111111", kShapeCard},
                                                     {"4111 1111 1111 1111", kShapeCard},
                                                     {"123-45-6789", kShapeSsn},
                                                     {"(415) 555-2671", kShapePhoneNanp},
                                                     {"+14155552671", kShapePhoneE164},
                                                     {"0049 30 1234 5678", kShapePhoneIntl},
                                                     {"020 7946 0958", kShapePhoneTrunk},
                                                     {"10.0.12.7", kShapeIpv4},
                                                     {"GB82WEST12345698765432", kShapeIban}};
  for (const auto& [value, shape] : values) {
    for (size_t n = 0; n < 200; ++n) {
      std::string pad(n, 'a');
      EXPECT_TRUE(hasShape(pad + " " + value + " " + pad, shape)) << n << " " << value;
      EXPECT_TRUE(hasShape(pad + " " + value, shape)) << n << " " << value;
      if (value[0] != '(' && value[0] != '+') {
        EXPECT_FALSE(hasShape(pad + "a" + value + " " + pad, shape)) << n << " " << value;
      }
      // (`0049 30 1234` is a match on its own; the E.164 and IBAN tests stop before the end.)
      if (shape != kShapePhoneIntl && shape != kShapePhoneE164 && shape != kShapeIban) {
        EXPECT_FALSE(hasShape(pad + " " + value + "a" + pad, kAll)) << n << " " << value;
      }
    }
  }
}

TEST(ShapeTest, OnlyTheRequestedShapesCount) {
  EXPECT_FALSE(hasShape("card 4111111111111111", kShapeEmail | kShapeIban));
  EXPECT_FALSE(hasShape("a@b.c", kShapeCard));
  EXPECT_FALSE(hasShape("", kAll));
}

// The contract of shapes.h: wherever the exact expression of a built-in pattern matches, its
// shape is found. std::regex (ECMAScript) reads these expressions the same way Vectorscan does
// (ASCII `\b`, `\d`), and is independent of Vectorscan's own matcher.
class Gen : public testing::RandomText {
 public:
  using RandomText::RandomText;
  // Near-misses and hits: digit groups with separators, capitals with digits, addresses, glued
  // to letters, underscores and punctuation.
  std::string text() {
    static constexpr std::string_view kDigits = "0123456789", kSeps = " -.()",
                                      kGlue = " -.()+,_:@\n\"aZ0";
    std::string s;
    for (int k = in(1, 5); k > 0; --k) {
      switch (in(0, 5)) {
        case 0:
        case 1: {  // digit groups
          char sep = pick(kSeps);
          if (in(0, 3) == 0) {
            s += in(0, 1) ? "+" : "(";
          }
          if (in(0, 2) == 0) {
            s += in(0, 1) ? "00" : "0";  // international and trunk prefixes
          }
          for (int n = in(1, 6); n > 0; --n) {
            s += run(kDigits, in(0, 4) == 0 ? in(1, 19) : in(1, 4));
            if (n > 1) {
              s.push_back(in(0, 4) == 0 ? pick(kSeps) : sep);
              if (in(0, 6) == 0) {
                s.push_back(' ');
              }
            }
          }
          break;
        }
        case 2:  // IBAN-like
          s += run("ABDEGZ", 2) + run(kDigits, 2);
          for (int n = in(0, 5); n > 0; --n) {
            s += (in(0, 1) ? " " : "") + run("ABZ0123456789", in(1, 4));
          }
          break;
        case 3:  // addresses
          s += run("ab1._%+-", in(0, 3)) + "@" + run("ab1-", in(0, 3));
          for (int n = in(0, 2); n > 0; --n) {
            s += "." + run("abc1-", in(0, 3));
          }
          break;
        case 4:
          s += run("aZ_", in(1, 2));
          break;
        default:
          s.push_back(pick(kGlue));
      }
    }
    return s;
  }
};

TEST(ShapeTest, EveryExactMatchOfAShapedPatternIsACandidate) {
  struct Shaped {
    std::string name;
    std::regex re;
    uint32_t shape;
  };
  std::vector<Shaped> shaped;
  for (const DetectorSpec& d : builtinDetectors()) {
    for (size_t i = 0; i < d.patterns.size(); ++i) {
      const PatternSpec& p = d.patterns[i];
      // URI passwords and IPv6 addresses have their own generator (below).
      if (p.shape != 0 && (p.shape & (kShapeUrlPassword | kShapeIpv6)) == 0) {
        ASSERT_EQ(p.flags, 0u) << d.name;  // std::regex below is case-sensitive
        shaped.push_back({d.name + "#" + std::to_string(i), std::regex(p.exact), p.shape});
      }
    }
  }
  ASSERT_GE(shaped.size(), 9u);
  std::map<std::string, int> matched;
  Gen g(20240917);
  for (int iter = 0; iter < 30000; ++iter) {
    std::string s = g.text();
    // Padding moves the text through every position of the 64-byte chunks the scan works on.
    // Neither pad adds a match or takes one away: hex letters, or short numbers between commas
    // (which also make the scan thin out its many candidates with its chunk-wide test).
    std::string pad = g.run("abcdef", g.in(0, 80)) + " ", numbers;
    for (int n = g.in(0, 40); n > 0; --n) {
      numbers += g.run("0123456789", g.in(1, 3)) + (g.in(0, 1) ? "," : ", ");
    }
    for (const Shaped& p : shaped) {
      if (std::regex_search(s, p.re)) {
        ++matched[p.name];
        ASSERT_TRUE(hasShape(s, p.shape)) << p.name << ": [" << s << "]";
        for (const std::string& text : {pad + s, s + " " + pad, numbers + s, s + "," + numbers,
                                        numbers + s + "," + numbers}) {
          ASSERT_TRUE(hasShape(text, p.shape)) << p.name << ": [" << text << "]";
        }
      }
    }
  }
  // The generator must reach every pattern, or this test proves little.
  for (const Shaped& p : shaped) {
    EXPECT_GE(matched[p.name], 20) << p.name;
  }
}

TEST(ShapeTest, UriPasswordNeedsAnAtAfterAColonInTheAuthority) {
  for (const char* s :
       {"postgres://bob:hunter2@db", "x redis://:pw@cache:6379",
        R"({"url":"postgres:\/\/bob:pw@db"})", "amqp://bob:p@ss@mq", "http://u@x:p@h", "ssh://a:b@",
        "FTP://U:P@H", "mail a@b.c then http://u:p@h", "http://u:p@a@b"}) {
    EXPECT_TRUE(hasShape(s, kShapeUrlPassword)) << s;
  }
  for (const char* s : {"http://orders.internal:8080/v1", "http://bob@host:5432/db",
                        "https://host/a:b@c", "http://u:p /x@y", "http://u:p\n@h",
                        "postgres:/bob:pw@db", "bob:pw@db", "user@example.com: hi", "@:://",
                        "http://u:p?q@h", "http://u:p#f@h", "http://\"u:p\"@h", "://@", ""}) {
    EXPECT_FALSE(hasShape(s, kShapeUrlPassword)) << s;
  }
}

// The walk back from an `@` stops at the previous `@` and takes over its run: a `://` that
// begins the run still counts; a space or `/` between cuts it.
TEST(ShapeTest, UriPasswordRunsThroughEarlierAts) {
  EXPECT_TRUE(hasShape("redis://a:b@c@d@e", kShapeUrlPassword));
  EXPECT_TRUE(hasShape("redis://a@b@c:d@e", kShapeUrlPassword));
  EXPECT_TRUE(hasShape("redis://@@:@", kShapeUrlPassword));
  EXPECT_FALSE(hasShape("redis://a@b@c@d", kShapeUrlPassword));
  EXPECT_FALSE(hasShape("redis://a:b c@d@e", kShapeUrlPassword));
  EXPECT_FALSE(hasShape("redis://a:b/c@d@e", kShapeUrlPassword));
  EXPECT_TRUE(hasShape("x@y redis://a:b@c", kShapeUrlPassword));
  EXPECT_TRUE(hasShape("x@y://a:b@c", kShapeUrlPassword));
  EXPECT_FALSE(hasShape("x:y@z://a@c", kShapeUrlPassword));
}

TEST(ShapeTest, Ipv6NeedsADoubleColonOrEightGroups) {
  for (const char* s :
       {"addr 2001:db8::8a2e:370:7334", "fe80:0:0:0:200:f8ff:fe21:67cf", "FE80::1",
        "a::", "[2001:DB8::1]:443", "1:2:3:4:5:6:7:8", "x 1:22:333:4444:a:bb:ccc:dddd y"}) {
    EXPECT_TRUE(hasShape(s, kShapeIpv6)) << s;
  }
  for (const char* s : {"at 10:20:30", "2024-03-05T10:23:45Z", "mac 00:1a:2b:3c:4d:5e",
                        "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6:g:8", "::1", ":: 1",
                        "1:2:3:4:5:6:7 :8", "x:12345:2:3:4:5:6:7", ""}) {
    EXPECT_FALSE(hasShape(s, kShapeIpv6)) << s;
  }
}

TEST(ShapeTest, UriPasswordsAndIpv6AreFoundAtEveryOffset) {
  const std::pair<const char*, uint32_t> values[] = {{"postgres://bob:pw@db", kShapeUrlPassword},
                                                     {"2001:db8::1", kShapeIpv6},
                                                     {"fe80:0:0:0:200:f8ff:fe21:67cf", kShapeIpv6}};
  for (const auto& [value, shape] : values) {
    for (size_t n = 0; n < 200; ++n) {
      std::string pad(n, 'a'), gaps;
      for (size_t k = 0; k < n; ++k) {
        gaps += k % 3 == 0 ? "10:20:30 " : k % 3 == 1 ? "x@y " : "http://h:1/ ";
      }
      EXPECT_TRUE(hasShape(pad + " " + value + " " + pad, shape)) << n << " " << value;
      EXPECT_TRUE(hasShape(gaps + value, shape)) << n << " " << value;
      EXPECT_FALSE(hasShape(gaps, kShapeUrlPassword | kShapeIpv6)) << n;
    }
  }
}

// Every match of `re` (a Vectorscan expression) in `text` that `check` accepts, as Scanner finds
// them: start of match, every end.
class ExactMatches {
 public:
  ExactMatches(const std::string& re, Validator check) : check_(check) {
    const HsRuntime& rt = *hsRuntime();
    hs_compile_error_t* err = nullptr;
    EXPECT_EQ(hs_compile(re.c_str(), HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, rt.platform, &db_, &err),
              HS_SUCCESS);
    EXPECT_EQ(hs_alloc_scratch(db_, &scratch_), HS_SUCCESS);
    scan_ = rt.scan;
  }
  ~ExactMatches() {
    hs_free_scratch(scratch_);
    hs_free_database(db_);
  }
  bool anyIn(std::string_view text) {
    found_.clear();
    scan_(db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch_, onMatch, this);
    return std::any_of(found_.begin(), found_.end(), [&](std::pair<size_t, size_t> m) {
      return check_ == nullptr || check_(text, m.first, m.second);
    });
  }

 private:
  static int onMatch(unsigned, unsigned long long from, unsigned long long to, unsigned,
                     void* self) {
    static_cast<ExactMatches*>(self)->found_.emplace_back(from, to);
    return 0;
  }
  Validator check_;
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
  HsScanFn scan_ = nullptr;
  std::vector<std::pair<size_t, size_t>> found_;
};

// Near-misses and hits of URIs with credentials and of IPv6 addresses: schemes, colons, `@`s,
// hex groups, clock times and the bytes that end a URI's authority.
class UriGen : public testing::RandomText {
 public:
  using RandomText::RandomText;
  std::string text() {
    static constexpr std::string_view kHex = "0123456789abcdefABCDEF",
                                      kGlue = " :@/.?#\"'<>\t\n\\xZ_-[]%";
    std::string s;
    for (int k = in(1, 8); k > 0; --k) {
      switch (in(0, 7)) {
        case 0:
          s += in(0, 3) == 0 ? ":\\/\\/" : "://";
          break;
        case 1:
          s += run("abz", in(0, 3)) + (in(0, 1) ? ":" : "") + run("pw@:", in(0, 3)) + "@";
          break;
        case 2:
        case 3: {  // hex groups, sometimes compressed
          s += run(kHex, in(1, 4));
          for (int n = in(1, 8); n > 0; --n) {
            s += in(0, 5) == 0 ? "::" : ":";
            s += run(kHex, in(0, 6) == 0 ? in(0, 5) : in(1, 4));
          }
          break;
        }
        case 4:
          s += std::to_string(in(0, 23)) + ":" + std::to_string(in(10, 59));
          break;
        default:
          s.push_back(pick(kGlue));
      }
    }
    return s;
  }
};

// The contract of shapes.h for the two shapes: wherever the exact expression matches (for
// IPv6: a span that validateIpv6 accepts), the shape is found. The matches come from Vectorscan
// itself, as the exact scan finds them.
TEST(ShapeTest, EveryValidatedUriPasswordAndIpv6MatchIsACandidate) {
  const DetectorSpec* url = findBuiltinDetector("url_password");
  const DetectorSpec* ipv6 = findBuiltinDetector("ipv6");
  ASSERT_TRUE(url != nullptr && ipv6 != nullptr);
  ASSERT_EQ(url->patterns[0].shape, kShapeUrlPassword);
  ASSERT_EQ(ipv6->patterns[0].shape, kShapeIpv6);
  // The URI pattern without its validator: the shape covers every match of the expression.
  ExactMatches url_matches(url->patterns[0].exact, nullptr);
  ExactMatches ipv6_matches(ipv6->patterns[0].exact, ipv6->patterns[0].validator);
  int url_hits = 0, ipv6_hits = 0, ipv6_times = 0;
  UriGen g(20261207);
  for (int iter = 0; iter < 40000; ++iter) {
    std::string s = g.text();
    std::string pad = g.run("ab@:", g.in(0, 70)) + " ";
    for (const std::string& text : {s, pad + s, s + " " + pad}) {
      if (url_matches.anyIn(text)) {
        ++url_hits;
        ASSERT_TRUE(hasShape(text, kShapeUrlPassword)) << "[" << text << "]";
      }
      if (ipv6_matches.anyIn(text)) {
        ++ipv6_hits;
        ASSERT_TRUE(hasShape(text, kShapeIpv6)) << "[" << text << "]";
      } else if (!hasShape(text, kShapeIpv6)) {
        ++ipv6_times;  // no address, and no candidate either
      }
    }
  }
  // The generator must reach both patterns, and the IPv6 shape must rule text out.
  EXPECT_GE(url_hits, 1000);
  EXPECT_GE(ipv6_hits, 1000);
  EXPECT_GE(ipv6_times, 1000);
}

}  // namespace
}  // namespace jg::mask
