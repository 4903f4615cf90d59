#include "mask/settings.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "mask/engine.h"
#include "mask/scanner.h"

namespace jg::mask {
namespace {

Settings parse(std::string_view yaml, config::Errors& errors) {
  auto node = config::Node::parse(yaml, "gateway.yaml");
  EXPECT_TRUE(node.isOk());
  return parseSettings((*node)["masking"], errors);
}

TEST(MaskSettings, MissingSectionEnablesEveryBuiltinDetector) {
  config::Errors errors;
  Settings s = parse("other: 1\n", errors);
  EXPECT_TRUE(errors.empty()) << errors.joined();
  EXPECT_EQ(s.defaults.detectors, builtinDetectorNames());
  EXPECT_EQ(s.defaults.detector_strategy, Strategy::kRedact);
}

TEST(MaskSettings, ParsesColumnsCustomDetectorsAndProfiles) {
  config::Errors errors;
  Settings s = parse(R"(
masking:
  key_file: /etc/jitgate/mask.key
  detectors: [email, employee_id]
  strategy: hash
  custom:
    - { name: employee_id, label: employee_id, pattern: 'EMP-\d{6}', context: [Employee] }
  columns:
    - { table: crm.customers, column: email, strategy: tokenize }
    - { schema: hr, table: staff, column: iban, strategy: partial, keep_last: 2 }
  profiles:
    strict: { strategy: null }
)",
                     errors);
  ASSERT_TRUE(errors.empty()) << errors.joined();
  EXPECT_EQ(s.key_file, "/etc/jitgate/mask.key");
  EXPECT_EQ(s.defaults.detectors, (std::vector<std::string>{"email", "employee_id"}));
  EXPECT_EQ(s.defaults.detector_strategy, Strategy::kHash);
  ASSERT_EQ(s.custom.size(), 1u);
  EXPECT_EQ(s.custom[0].label, "EMPLOYEE_ID");
  ASSERT_EQ(s.defaults.columns.size(), 2u);
  EXPECT_EQ(s.defaults.columns[0].schema, "crm");
  EXPECT_EQ(s.defaults.columns[0].table, "customers");
  EXPECT_EQ(s.defaults.columns[0].label, "EMAIL");
  EXPECT_EQ(s.defaults.columns[1].keep_last, 2);
  ASSERT_EQ(s.profiles.count("strict"), 1u);
  EXPECT_EQ(s.profiles["strict"].detector_strategy, Strategy::kNull);
  EXPECT_EQ(s.profiles["strict"].columns.size(), 2u);  // inherited
}

TEST(MaskSettings, ErrorsNameTheLineAndKey) {
  config::Errors errors;
  parse(R"(
masking:
  detectors: [email, nosuch]
  strategy: shred
  on_error: pass_through
  custom:
    - { name: bad, pattern: '(unclosed' }
    - { name: empty, pattern: 'a*' }
    - { name: v, pattern: 'x\d', validator: nosuch }
  columns:
    - { table: t, column: c, strategy: tokenize }
)",
        errors);
  std::string all = errors.joined();
  EXPECT_NE(all.find("unknown detector 'nosuch'"), std::string::npos) << all;
  EXPECT_NE(all.find("masking.strategy"), std::string::npos) << all;
  EXPECT_NE(all.find("masking.on_error"), std::string::npos) << all;
  EXPECT_NE(all.find("invalid pattern"), std::string::npos) << all;
  EXPECT_NE(all.find("empty string"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown validator"), std::string::npos) << all;
  EXPECT_NE(all.find("key_file"), std::string::npos) << all;
  EXPECT_NE(all.find("gateway.yaml:"), std::string::npos) << all;
}

TEST(MaskSettings, CustomDetectorWithContextWordsOnlyMatchesInContext) {
  config::Errors errors;
  Settings s = parse(R"(
masking:
  detectors: [employee_id]
  custom:
    - { name: employee_id, pattern: 'EMP-\d{6}', context: [employee, staff] }
)",
                     errors);
  ASSERT_TRUE(errors.empty()) << errors.joined();
  auto engine = Engine::create(s, "");
  ASSERT_TRUE(engine.isOk()) << engine.status().message();
  Scanner scanner(*engine);
  std::string out;
  Counters c;
  auto r = scanner.maskFreeText(*(*engine)->profile(), "Staff member EMP-123456 left", out, c);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(out, "Staff member [EMPLOYEE_ID] left");
  r = scanner.maskFreeText(*(*engine)->profile(), "part EMP-123456", out, c);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(*r, CellResult::kUnchanged);
}

TEST(MaskSettings, CustomDetectorValidatorConfirmsMatches) {
  Settings s;
  s.custom.push_back({"acct", "ACCT", R"(\bA\d{8}\b)", "luhn", {}, false});
  s.defaults.detectors = {"acct"};
  auto engine = Engine::create(s, "");
  ASSERT_TRUE(engine.isOk()) << engine.status().message();
  Scanner scanner(*engine);
  std::string out;
  Counters c;
  // The Luhn validator sees the whole span "A12345674", which is not all digits: rejected.
  auto r = scanner.maskFreeText(*(*engine)->profile(), "id A12345674", out, c);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(*r, CellResult::kUnchanged);
}

TEST(MaskSettings, EngineRefusesAShortKeyWhenHashingAndReadsKeyFiles) {
  Settings s;
  s.defaults.detectors = {"email"};
  s.defaults.detector_strategy = Strategy::kTokenize;
  EXPECT_FALSE(Engine::create(s, "short").isOk());
  std::string path = ::testing::TempDir() + "/mask.key";
  {
    std::ofstream f(path);
    f << "0123456789abcdef0123456789abcdef\n";
  }
  s.key_file = path;
  auto e = Engine::createFromSettings(s);
  ASSERT_TRUE(e.isOk()) << e.status().message();
  s.key_file = path + ".missing";
  EXPECT_FALSE(Engine::createFromSettings(s).isOk());
  std::remove(path.c_str());
}

TEST(MaskSettings, ProfilesAreCompiledAndSelectedByName) {
  Settings s;
  s.defaults.detectors = {"email"};
  s.profiles["ips"].detectors = {"ipv4"};
  auto e = Engine::create(s, "");
  ASSERT_TRUE(e.isOk());
  ASSERT_NE((*e)->profile("ips"), nullptr);
  EXPECT_EQ((*e)->profile("nosuch"), nullptr);
  Scanner scanner(*e);
  std::vector<Span> spans;
  ASSERT_TRUE(scanner.findSpans(*(*e)->profile("ips"), "a@example.com 10.0.0.1", spans).isOk());
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].from, 14u);
}

TEST(MaskSettings, ColumnRulesSayWhatHappensToValuesComputedFromTheirColumn) {
  config::Errors errors;
  Settings s = parse(R"(
masking:
  columns:
    - { table: crm.customers, column: note }
    - table: crm.customers
      column: owner
      through_expressions: refuse
      functions: [lower, length, "||"]
    - { table: crm.customers, column: card, functions: [] }
)",
                     errors);
  ASSERT_TRUE(errors.empty()) << errors.joined();
  const auto& cols = s.defaults.columns;
  EXPECT_EQ(cols[0].through_expressions, ThroughExpressions::kMask);
  EXPECT_FALSE(cols[0].functions.has_value());
  EXPECT_TRUE(cols[0].allows("md5"));
  EXPECT_EQ(cols[1].through_expressions, ThroughExpressions::kRefuse);
  EXPECT_TRUE(cols[1].allows("||"));
  EXPECT_FALSE(cols[1].allows("substr"));
  EXPECT_FALSE(cols[2].allows("lower"));  // an empty list allows no function at all
}

TEST(MaskSettings, UnknownThroughExpressionsValueIsAnError) {
  config::Errors errors;
  parse("masking:\n  columns:\n    - { table: t, column: c, through_expressions: pass }\n", errors);
  EXPECT_NE(errors.joined().find("through_expressions"), std::string::npos) << errors.joined();
}

TEST(MaskSettings, StricterStrategiesHideMore) {
  auto rule = [](Strategy s) {
    ColumnRule r;
    r.strategy = s;
    return r;
  };
  ColumnRule partial = rule(Strategy::kPartial), token = rule(Strategy::kTokenize),
             hash = rule(Strategy::kHash), redact = rule(Strategy::kRedact),
             null = rule(Strategy::kNull);
  EXPECT_EQ(stricter(&partial, &token), &token);
  EXPECT_EQ(stricter(&token, &hash), &token);  // a tie keeps the first
  EXPECT_EQ(stricter(&hash, &redact), &redact);
  EXPECT_EQ(stricter(&null, &redact), &null);
  EXPECT_EQ(stricter(nullptr, &partial), &partial);
  EXPECT_EQ(stricter(nullptr, nullptr), nullptr);
}

}  // namespace
}  // namespace jg::mask
