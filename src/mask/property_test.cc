// Property: for random text with planted values, every planted value is masked and every other
// byte of the text is unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "mask/scanner.h"
#include "mask/test_util.h"
#include "mask/validators.h"

namespace jg::mask {
namespace {

class Gen : public testing::RandomText {
 public:
  using RandomText::RandomText;
  std::string digits(int n) { return run("0123456789", n); }
  std::string num(int v, int width) {
    std::string s = std::to_string(v);
    return std::string(width - s.size(), '0') + s;
  }

  std::string email() {
    return run("abcdefghijklmnopqrstuvwxyz", in(1, 8)) + pick("._+") + run("abcxyz0123", in(1, 6)) +
           "@" + run("abcdefghijklmnopqrstuvwxyz", in(2, 10)) + "." +
           std::string(in(0, 1) ? "com" : "co.uk");
  }
  std::string card() {
    std::string d = "4" + digits(14);
    for (char c = '0'; c <= '9'; ++c) {
      if (luhnValid(d + c)) {
        d.push_back(c);
        break;
      }
    }
    switch (in(0, 2)) {
      case 0:
        return d;
      default: {
        char sep = in(0, 1) ? ' ' : '-';
        return d.substr(0, 4) + sep + d.substr(4, 4) + sep + d.substr(8, 4) + sep + d.substr(12);
      }
    }
  }
  std::string ssn() {
    int area = in(1, 665);
    return num(area, 3) + "-" + num(in(1, 99), 2) + "-" + num(in(1, 9999), 4);
  }
  std::string phone() {
    std::string area = std::to_string(in(2, 9)) + digits(2),
                exch = std::to_string(in(2, 9)) + digits(2);
    switch (in(0, 2)) {
      case 0:
        return "+1 " + area + " " + exch + " " + digits(4);
      case 1:
        return "(" + area + ") " + exch + "-" + digits(4);
      default:
        return area + "." + exch + "." + digits(4);
    }
  }
  std::string iban() {
    std::string bban = digits(18);
    // Check digits: 98 - mod97(BBAN + "DE00" as digits).
    std::string numeric = bban + "131400";
    int rem = 0;
    for (char c : numeric) {
      rem = (rem * 10 + (c - '0')) % 97;
    }
    return "DE" + num(98 - rem, 2) + bban;
  }
  std::string ipv4() {
    return std::to_string(in(1, 255)) + "." + std::to_string(in(0, 255)) + "." +
           std::to_string(in(0, 255)) + "." + std::to_string(in(1, 254));
  }
  std::string ipv6() {
    std::string s = "2001:db8";
    for (int i = 0; i < 6; ++i) {
      s += ":" + run("0123456789abcdef", in(1, 4));
    }
    return s;
  }
  std::string awsKey() { return "AKIA" + run("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16); }
  std::string github() {
    return "ghp_" + run("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 36);
  }
  std::string jwt() {
    std::string b64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    return "eyJ" + run(b64, in(8, 30)) + ".eyJ" + run(b64, in(8, 60)) + "." + run(b64, in(20, 43));
  }
  std::string value() {
    switch (in(0, 10)) {
      case 0:
        return email();
      case 1:
        return card();
      case 2:
        return ssn();
      case 3:
        return phone();
      case 4:
        return iban();
      case 5:
        return ipv4();
      case 6:
        return ipv6();
      case 7:
        return awsKey();
      case 8:
        return github();
      case 9:
        return jwt();
      default:
        return email();
    }
  }
  std::string filler() {
    static constexpr const char* kWords[] = {
        "the",  "model", "reads", "a",     "customer", "record", "and", "then", "answers",
        "with", "care",  "while", "index", "vector",   "search", "ok",  "is",   "of"};
    std::string s;
    for (int i = in(0, 12); i > 0; --i) {
      s += kWords[in(0, std::size(kWords) - 1)];
      s += in(0, 9) == 0 ? ", " : in(0, 9) == 0 ? ". " : " ";
    }
    return s;
  }
};

// Prose that talks about secrets without holding one: keywords without an assignment, colons
// in sentences, URLs without credentials, addresses, times. Every cell is ordinary text a
// reader needs to see; a SECRET or PASSWORD span in it is a false positive.
class SecretProse : public testing::RandomText {
 public:
  using RandomText::RandomText;
  std::string cell() {
    std::string s;
    for (int i = in(1, 4); i > 0; --i) {
      s += sentence() + (in(0, 5) == 0 ? "\n" : " ");
    }
    return s;
  }

 private:
  std::string word() {
    static constexpr const char* kWords[] = {"the",   "model",  "reads", "customer", "record",
                                             "team",  "portal", "login", "account",  "vault",
                                             "admin", "policy", "store", "rotation", "review"};
    return kWords[in(0, std::size(kWords) - 1)];
  }
  std::string keyword() {
    static constexpr const char* kKeys[] = {
        "password", "passwords",   "passphrase", "token",  "tokens",   "secret",       "secrets",
        "key",      "credentials", "auth",       "OAuth",  "bypass",   "compass",      "API key",
        "pwd",      "Password",    "Token",      "Secret", "passcode", "authorization"};
    return kKeys[in(0, std::size(kKeys) - 1)];
  }
  std::string host() { return run("abcdefghijklmnop", in(3, 8)) + (in(0, 1) ? ".com" : ".io"); }
  std::string sentence() {
    std::string k = keyword(), w = word();
    switch (in(0, 15)) {
      case 0:
        return "Reset your " + k + " at the " + w + " portal.";
      case 1:
        return "The " + k + ": a metaphor for " + w + ".";
      case 2:
        return k + ": the one you chose for the " + w + ".";
      case 3:
        return "We discussed the " + k + " policy with the " + w + " team.";
      case 4:
        return "See https://" + host() + ":" + std::to_string(in(80, 9999)) + "/" + w +
               " for details.";
      case 5:
        return "Connect to postgres://" + host() + ":5432/" + w + " or redis://" + host() + "/0.";
      case 6:
        return "Clone git@github.com:" + w + "/repo.git or ssh://" + w + "@" + host() + "/x.";
      case 7:
        return "Write to " + w + "@" + host() + " about the " + k + ".";
      case 8:
        return "Meet at 10:30 or " + std::to_string(in(10, 23)) + ":45, ratio 3:1.";
      case 9:
        return "The " + k + " is stored in the " + w + " vault.";
      case 10:
        return "Forgot your " + k + "? Click here.";
      case 11:
        return "Note: the " + k + " expired, so the " + w + " failed.";
      case 12:
        return "Your " + k + ": see the " + w + " guide.";
      case 13:
        return "A " + k + "-based " + w + " and a " + k + "less " + w + ".";
      case 14:
        return "Field " + k + ": required, " + k + " = none.";
      default:
        return "The " + w + " reads the " + k + " " + w + ", then the " + w + ".";
    }
  }
};

// Random word salad with secret words in it and the punctuation of prose, colons included:
// "... the password: model reads ...". Unlike SecretProse it is not written around the rules
// of validateAssignment, and a colon after a keyword there is ambiguous even to a reader.
class SecretWordSalad : public testing::RandomText {
 public:
  using RandomText::RandomText;
  std::string cell() {
    static constexpr const char* kWords[] = {
        "the",      "model",    "reads",  "a",      "customer", "record",   "and",
        "then",     "answers",  "with",   "care",   "index",    "password", "token",
        "secret",   "key",      "auth",   "pass",   "bypass",   "api_key",  "credentials",
        "sessions", "Password", "Secret", "portal", "of",       "is",       "reset"};
    std::string s;
    for (int i = in(10, 60); i > 0; --i) {
      s += kWords[in(0, std::size(kWords) - 1)];
      int p = in(0, 99);
      s += p < 8 ? ". " : p < 14 ? ", " : p < 17 ? ": " : " ";
    }
    return s;
  }
};

// The share of generated cells in which the secret detectors report a SECRET or PASSWORD span.
template <typename Generator>
double secretFlagRate(uint32_t seed, int cells, std::string* example) {
  auto engine = testing::makeEngine();
  Scanner scanner(engine);
  const Profile& profile = *engine->profile();
  Generator g(seed);
  int hits = 0;
  std::vector<Span> spans;
  for (int i = 0; i < cells; ++i) {
    std::string text = g.cell();
    EXPECT_TRUE(scanner.findSpans(profile, text, spans).isOk());
    auto secret = std::find_if(spans.begin(), spans.end(), [&](const Span& s) {
      return profile.label(s.detector) == "SECRET" || profile.label(s.detector) == "PASSWORD";
    });
    if (secret != spans.end()) {
      ++hits;
      if (example->empty()) {
        *example = text.substr(secret->from, secret->to - secret->from) + " in: " + text;
      }
    }
  }
  return static_cast<double>(hits) / cells;
}

TEST(MaskingProperty, ProseAboutSecretsWithoutAnAssignmentIsNotMasked) {
  std::string example;
  double rate = secretFlagRate<SecretProse>(20240611, 2000, &example);
  std::printf("secret detectors: %.2f%% of secret prose cells flagged\n", 100 * rate);
  EXPECT_EQ(rate, 0.0) << "for one: " << example;
}

// A keyword, a colon and a word is as likely a value as not ("Password: model"), so some salad
// is flagged; the rate must not grow. It was 22.60% with `\bkeyword: word` alone, before
// compound keys (21.75% after).
TEST(MaskingProperty, WordSaladWithSecretWordsIsFlaggedNoMoreThanBefore) {
  std::string example;
  double rate = secretFlagRate<SecretWordSalad>(7, 2000, &example);
  std::printf("secret detectors: %.2f%% of word-salad cells flagged\n", 100 * rate);
  EXPECT_LE(rate, 0.226) << "for one: " << example;
}

TEST(MaskingProperty, PlantedValuesAreMaskedAndTheRestIsUnchanged) {
  auto engine = testing::makeEngine();
  Scanner scanner(engine);
  const Profile& profile = *engine->profile();
  Gen g(20240611);
  for (int iter = 0; iter < 500; ++iter) {
    // text = f0 v1 f1 v2 f2 ... with a space on each side of every value.
    std::vector<std::string> fillers = {g.filler()};
    std::vector<std::string> values;
    std::string text = fillers[0];
    for (int k = g.in(1, 4); k > 0; --k) {
      values.push_back(g.value());
      fillers.push_back(" " + g.filler());
      text += " " + values.back() + fillers.back();
    }
    std::string out;
    Counters c;
    auto r = scanner.maskFreeText(profile, text, out, c);
    ASSERT_TRUE(r.isOk()) << r.status().message();
    ASSERT_EQ(*r, CellResult::kRewritten) << text;
    // Walk the output: each filler verbatim, then one "[LABEL]" per planted value.
    size_t pos = 0;
    for (size_t i = 0; i < fillers.size(); ++i) {
      std::string want = (i == 0 ? fillers[0] : fillers[i]);
      if (i > 0) {
        ASSERT_EQ(out.compare(pos, 1, "["), 0) << "value not masked: " << values[i - 1] << "\n"
                                               << text << "\n"
                                               << out;
        size_t close = out.find(']', pos);
        ASSERT_NE(close, std::string::npos);
        pos = close + 1;
      }
      if (i == 0) {
        ASSERT_EQ(out.compare(pos, want.size(), want), 0) << text << "\n" << out;
        pos += want.size();
        if (!values.empty()) {
          ASSERT_EQ(out.compare(pos, 1, " "), 0) << text << "\n" << out;
          ++pos;
        }
      } else {
        ASSERT_EQ(out.compare(pos, want.size(), want), 0) << text << "\n" << out;
        pos += want.size();
        if (i < values.size()) {
          ASSERT_EQ(out.compare(pos, 1, " "), 0) << text << "\n" << out;
          ++pos;
        }
      }
    }
    ASSERT_EQ(pos, out.size()) << text << "\n" << out;
    EXPECT_EQ(c.values_masked, values.size()) << text << "\n" << out;
  }
}

// Vectorscan's SIMD accelerators have had bugs that drop a match depending on where it falls
// relative to a vector or block boundary (seen with Vectorscan 5.4.9 on AVX-512 VBMI: `@[a-z]+\.`
// alone misses most offsets past 58). Whether a profile is exposed depends on how the whole
// pattern set compiles, so this sweeps every planted value over every offset and alignment, with
// the kinds of text around it that the gateway streams (prose, hex digests, base64, numbers).
// (On such a CPU it fails, for one, if the e-mail prefilter goes back into the Vectorscan set.)
TEST(MaskingProperty, PlantedValuesAreFoundAtEveryOffset) {
  auto engine = testing::makeEngine();
  Scanner scanner(engine);
  const Profile& profile = *engine->profile();
  const char* values[] = {"alice.smith@example.com",
                          "4111 1111 1111 1111",
                          "4111111111111111",
                          "5555-5555-5555-4444",
                          "+1 415 555 2671",
                          "+14155552671",
                          "(415) 555-2671",
                          "212.555.1234",
                          "020 7946 0958",
                          "0049 30 1234 5678",
                          "123-45-6789",
                          "DE89 3704 0044 0532 0130 00",
                          "GB82WEST12345698765432",
                          "10.0.12.7",
                          "2001:db8::8a2e:370:7334",
                          "AKIAIOSFODNN7EXAMPLE",
                          "password=hunter2",
                          "DB_PASSWORD=hunter2xyz",
                          "dbPassword: s3cretvalue",
                          "postgresql://app:s3cret@db/kb",
                          "ghp_1234567890abcdefghijABCDEFGHIJ123456",
                          "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
                          "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"};
  const char* fills[] = {"the customer asked about the invoice ",
                         "0cc175b9c0f1b6a831c399e269772661",
                         "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3", "12.5,300,7,1700000000000,"};
  const std::pair<const char*, const char*> seps[] = {
      {" ", " "}, {",", ","}, {"\"", "\""}, {":", ";"}};
  std::string buf(4096, ' '), out;
  for (const char* value : values) {
    for (const char* fill : fills) {
      std::string f;
      while (f.size() < 400) {
        f += fill;
      }
      for (const auto& [left, right] : seps) {
        for (size_t n = 0; n < 200; ++n) {
          for (size_t tail : {0, 45}) {
            std::string text = f.substr(0, n) + left + value + right + f.substr(0, tail);
            for (size_t align : {0, 13}) {
              buf.replace(align, text.size(), text);
              std::string_view in(buf.data() + align, text.size());
              Counters c;
              auto r = scanner.maskFreeText(profile, in, out, c);
              ASSERT_TRUE(r.isOk()) << r.status().message();
              ASSERT_EQ(*r, CellResult::kRewritten) << "not masked at offset " << n << ": " << text;
              ASSERT_EQ(out.find(value), std::string::npos) << text << "\n" << out;
            }
          }
        }
      }
    }
  }
  // The gateway's large-result workload glues an address to a run of hex.
  for (size_t n = 0; n < 300; ++n) {
    std::string text = std::string(n, 'a') + "ada300@example.com";
    for (size_t k = 0; k < n; ++k) {
      text[k] = "0123456789abcdef"[(k * 7 + n) % 16];
    }
    Counters c;
    auto r = scanner.maskFreeText(profile, text, out, c);
    ASSERT_TRUE(r.isOk()) << r.status().message();
    ASSERT_EQ(*r, CellResult::kRewritten) << "not masked at offset " << n << ": " << text;
    EXPECT_EQ(out.find("@example.com"), std::string::npos) << out;
  }
}

TEST(MaskingProperty, ArbitraryBytesInEveryColumnKindEitherMaskOrFailNeverCrash) {
  auto engine =
      testing::makeEngine(Strategy::kRedact, {{"", "t", "c", Strategy::kTokenize, 4, "C"}});
  Scanner scanner(engine);
  const Profile& profile = *engine->profile();
  const ColumnRule* rule = profile.findRule("s", "t", "c");
  Gen g(7);
  const uint32_t oids[] = {oid::kText,      oid::kJson,      oid::kJsonb,
                           oid::kTextArray, oid::kJsonArray, oid::kJsonbArray,
                           oid::kInt8,      oid::kInt4,      0};
  using namespace std::string_literals;
  std::string alphabet = "{}[]\",:\\ \tNULnul0123456789@.abc-+e\x01\x00\xff"s;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in = g.run(alphabet, g.in(0, 40));
    if (g.in(0, 3) == 0) {
      in = testing::be32(g.in(0, 2)) + testing::be32(g.in(0, 1)) + testing::be32(25) + in;
    }
    for (uint32_t t : oids) {
      for (int16_t fmt : {0, 1}) {
        ColumnPlan plan = planColumn(profile, t, fmt, g.in(0, 1) ? rule : nullptr);
        std::string out;
        Counters c;
        (void)scanner.maskCell(plan, in, out, c);
      }
    }
  }
}

}  // namespace
}  // namespace jg::mask
