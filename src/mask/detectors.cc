#include "mask/detectors.h"

#include <hs/hs.h>

#include "mask/secrets.h"
#include "mask/shapes.h"

namespace jg::mask {
namespace {

// Notes on the expressions:
// - `\b` is the only assertion Vectorscan supports; context that needs look-behind is checked by
//   the validator, which sees the whole text.
// - Prefilters keep a literal anchor (`:`, `=`, `_`, a keyword) and drop the expensive tails so
//   the all-cells scan stays fast; they must stay supersets of the exact expressions, and must
//   not use `\b` (it costs the whole set its speed on prose).
// - Values that are runs of digits (cards, SSNs, phones, IPv4, IBANs) have no literal to anchor
//   on; their prefilter is a native shape scan (shapes.h) that only looks at digit runs starting
//   at a word boundary, so hex digests, UUIDs and base64 cost nothing. E-mail, URI passwords
//   and IPv6 are shapes too: `://`, `:` and hex around colons are everywhere in log text, where
//   as Vectorscan prefilters they sent every clock time through the exact scan, or slowed the
//   whole set to a fifth of its speed.
//   Each of these exact expressions is mirrored by a test in shapes.cc: edit both together
//   (shapes_test.cc checks the pair against std::regex).
// - The word boundaries the shapes rely on hold in every raw scan of a container, as they do in
//   the exact expressions: JSON and text arrays with a backslash take the slow path, COPY lines
//   only skip when the delimiter is not a word byte and nothing is quoted or escaped, and binary
//   arrays are scanned element by element.
// - The whole prefilter set is tuned together: Vectorscan's literal analysis is global, and two
//   innocent-looking expressions (an optional-space run after a case-insensitive keyword, a
//   leading "0[1-9]") each halved the set's speed. Measure with bench/mask_bench after edits.
std::vector<DetectorSpec> makeBuiltins() {
  std::vector<DetectorSpec> d;
  d.push_back({"private_key",
               "PRIVATE_KEY",
               {{R"(-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY( BLOCK)?-----)", "", 0, extendPemBlock}}});
  d.push_back({"jwt",
               "JWT",
               {{R"(\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*)",
                 R"(eyJ[A-Za-z0-9_\-]{4}[A-Za-z0-9_\-]*\.eyJ)", 0, nullptr}}});
  d.push_back(
      {"aws_access_key",
       "AWS_ACCESS_KEY",
       {{R"(\b(AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z2-7]{16}\b)",
         R"((AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z2-7]{16})", 0, nullptr}}});
  d.push_back(
      {"aws_secret_key",
       "AWS_SECRET_KEY",
       {{R"(aws[A-Za-z0-9_\-. ]{0,20}(secret|sk)[A-Za-z_\-]{0,20}["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+]{40})",
         R"(aws[A-Za-z0-9_\-. ]{0,20}(secret|sk))", HS_FLAG_CASELESS, validateAwsSecret}}});
  d.push_back({"github_token",
               "GITHUB_TOKEN",
               {{R"(\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b)",
                 R"(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})", 0, nullptr}}});
  d.push_back(
      {"slack_token",
       "SLACK_TOKEN",
       {{R"(\bxox[abposr]-[A-Za-z0-9\-]{10,})", R"(xox[abposr]-[A-Za-z0-9\-]{10})", 0, nullptr},
        {R"(https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]{20,})",
         R"(hooks\.slack\.com/services/)", 0, nullptr}}});
  d.push_back({"stripe_key",
               "STRIPE_KEY",
               {{R"(\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{10,}\b)",
                 R"([spr]k_(live|test)_[A-Za-z0-9]{10})", 0, nullptr}}});
  // The user may be empty (`redis://:pw@host`); the password may hold `@` (the longest match,
  // to the last `@` before the path, wins); JSON-escaped slashes count too.
  d.push_back({"url_password",
               "PASSWORD",
               {{R"((://|:\\/\\/)[^\s:/?#"'<>]*:[^\s/?#"'<>]+@)", "", 0, validateUrlPassword,
                 kShapeUrlPassword}}});
  // The keyword may end a compound key (`db_password`, `PGPASSWORD`, `dbPassword`): no `\b`
  // before it; validateAssignment checks the key and finds the value's extent. The exact
  // expressions stop one byte into the value so each candidate is reported once.
  const std::string kw = "(" + secretKeywordExpr() + ")";
  d.push_back(
      {"secret_assignment",
       "SECRET",
       {{kw + R"(["']?\s{0,3}[:=]\s{0,3}(["']\s*[^\s"']|[^\s"',;&]))",
         kw + R"((["']?[:=]|["']?\s{1,3}[:=]))", HS_FLAG_CASELESS, validateAssignment},
        {R"(--[a-z0-9_\-]*)" + kw + R"([ \t]{1,3}(["'][^"'\n]|[^\s"'\-]))",
         R"(--[a-z0-9_\-]*)" + kw + R"([ \t])", HS_FLAG_CASELESS, validateFlagAssignment}}});
  d.push_back({"email",
               "EMAIL",
               {{R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b)", "", 0,
                 validateEmail, kShapeEmail}}});
  d.push_back(
      {"credit_card",
       "CREDIT_CARD",
       // Every network validateCard knows starts with 2-6 and has 13 digits or more.
       {{R"(\b([2-6]\d{12,18}|[2-6]\d{3}([ \-]\d{4}){3}([ \-]\d{1,3})?|[2-6]\d{3}([ \-]\d{4}){2}[ \-]\d{1,3}|[2-6]\d{3}[ \-]\d{6}[ \-]\d{4,5})\b)",
         "", 0, validateCard, kShapeCard}}});
  d.push_back(
      {"us_ssn",
       "US_SSN",
       {{R"(\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b)", "", 0, validateSsn, kShapeSsn}}});
  d.push_back({"iban",
               "IBAN",
               {{R"(\b[A-Z]{2}\d{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,4})?\b)", "", 0, validateIban,
                 kShapeIban}}});
  d.push_back({"phone",
               "PHONE",
               {
                   // E.164 and "+CC ..." international forms.
                   {R"(\+[1-9]([ .\-]?\(?\d\)?){6,14}\b)", "", 0, validatePhone, kShapePhoneE164},
                   // "00CC ..." international dialling prefix.
                   {R"(\b00[1-9]\d{0,2}[ .\-]\d{1,4}([ .\-]\d{2,4}){1,4}\b)", "", 0, validatePhone,
                    kShapePhoneIntl},
                   // NANP: (212) 555-1234, 212-555-1234, 212.555.1234, 1-212-555-1234.
                   {R"((\b1[ .\-])?(\(\d{3}\) ?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b)", "", 0,
                    validateNanpPhone, kShapePhoneNanp},
                   // National trunk-prefix forms: 06 12 34 56 78, 020 7946 0958, 030 1234 5678.
                   {R"(\b0[1-9](( \d{2}){4}|(\.\d{2}){4}|\d{1,3} \d{3,4} \d{3,4})\b)", "", 0,
                    validatePhone, kShapePhoneTrunk},
               }});
  d.push_back({"ipv4",
               "IPV4",
               {{R"(\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)", "", 0, validateIpv4, kShapeIpv4}}});
  d.push_back(
      {"ipv6",
       "IPV6",
       {{R"(\b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{0,4}){2,7})", "", 0, validateIpv6, kShapeIpv6}}});
  return d;
}

}  // namespace

std::span<const DetectorSpec> builtinDetectors() {
  static const std::vector<DetectorSpec> kBuiltins = makeBuiltins();
  return kBuiltins;
}

const DetectorSpec* findBuiltinDetector(std::string_view name) {
  for (const DetectorSpec& d : builtinDetectors()) {
    if (d.name == name) {
      return &d;
    }
  }
  return nullptr;
}

std::vector<std::string> builtinDetectorNames() {
  std::vector<std::string> names;
  for (const DetectorSpec& d : builtinDetectors()) {
    names.push_back(d.name);
  }
  return names;
}

}  // namespace jg::mask
