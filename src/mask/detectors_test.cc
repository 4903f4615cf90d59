#include "mask/detectors.h"

#include <gtest/gtest.h>

#include "mask/engine.h"
#include "mask/scanner.h"

namespace jg::mask {
namespace {

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Settings s;
    s.defaults.detectors = builtinDetectorNames();
    auto e = Engine::create(s, "");
    ASSERT_TRUE(e.isOk()) << e.status().message();
    engine_ = new std::shared_ptr<const Engine>(*e);
  }
  static void TearDownTestSuite() { delete engine_; }

  // The labels found in `text`, space-separated, in order.
  std::string labels(std::string_view text) {
    Scanner scanner(*engine_);
    std::vector<Span> spans;
    Status s = scanner.findSpans(*(*engine_)->profile(), text, spans);
    EXPECT_TRUE(s.isOk()) << s.message();
    std::string out;
    for (const Span& sp : spans) {
      out += (out.empty() ? "" : " ") + (*engine_)->profile()->label(sp.detector);
    }
    return out;
  }
  // The masked text with the default strategy (redact).
  std::string masked(std::string_view text) {
    Scanner scanner(*engine_);
    std::string out;
    Counters c;
    auto r = scanner.maskFreeText(*(*engine_)->profile(), text, out, c);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    return r.isOk() && *r == CellResult::kRewritten ? out : std::string(text);
  }

  static std::shared_ptr<const Engine>* engine_;
};
std::shared_ptr<const Engine>* DetectorTest::engine_ = nullptr;

TEST_F(DetectorTest, CatalogueHasAtLeastFourteenDetectors) {
  EXPECT_GE(builtinDetectors().size(), 14u);
}

TEST_F(DetectorTest, Email) {
  EXPECT_EQ(masked("mail alice.smith+rag@mail.example.co.uk now"), "mail [EMAIL] now");
  EXPECT_EQ(masked("<bob@example.com>"), "<[EMAIL]>");
  EXPECT_EQ(labels("user@localhost or @handle or a@b"), "");
  EXPECT_EQ(labels("version 1.2.3@latest"), "");
}

TEST_F(DetectorTest, Phone) {
  EXPECT_EQ(masked("call +1 415 555 2671 today"), "call [PHONE] today");
  EXPECT_EQ(masked("call +14155552671"), "call [PHONE]");
  EXPECT_EQ(masked("tel (212) 555-1234."), "tel [PHONE].");
  EXPECT_EQ(masked("tel 212-555-1234"), "tel [PHONE]");
  EXPECT_EQ(masked("tel 1-212-555-1234"), "tel [PHONE]");
  EXPECT_EQ(masked("Paris +33 1 42 68 53 00"), "Paris [PHONE]");
  EXPECT_EQ(masked("London 020 7946 0958"), "London [PHONE]");
  EXPECT_EQ(masked("mobile 06 12 34 56 78"), "mobile [PHONE]");
  EXPECT_EQ(masked("Berlin 0049 30 1234 5678"), "Berlin [PHONE]");
}

TEST_F(DetectorTest, PhoneHardNegatives) {
  EXPECT_EQ(labels("order 2023-10-12 10:20:30"), "");
  EXPECT_EQ(labels("order #1234567890 shipped"), "");
  EXPECT_EQ(labels("price $1,234.56 or 1 234 567.89 EUR"), "");
  EXPECT_EQ(labels("id 550e8400-e29b-41d4-a716-446655440000"), "");
  EXPECT_EQ(labels("version 10.2.3 build 2024.01.15"), "");
  EXPECT_EQ(labels("ts 1700000000000 and 20231012103045"), "");
  EXPECT_EQ(labels("range 123-456-7890"), "");  // area code cannot start with 1
  EXPECT_EQ(labels("C++11 and 3+4=7"), "");
}

TEST_F(DetectorTest, CreditCard) {
  EXPECT_EQ(masked("card 4111 1111 1111 1111 ok"), "card [CREDIT_CARD] ok");
  EXPECT_EQ(masked("card 4111-1111-1111-1111"), "card [CREDIT_CARD]");
  EXPECT_EQ(masked("card 5555555555554444"), "card [CREDIT_CARD]");
  EXPECT_EQ(masked("amex 3782 822463 10005"), "amex [CREDIT_CARD]");
  EXPECT_EQ(labels("bad 4111 1111 1111 1112"), "");    // Luhn
  EXPECT_EQ(labels("mixed 4111 1111-1111 1111"), "");  // separators
}

TEST_F(DetectorTest, CreditCardHardNegatives) {
  EXPECT_EQ(labels("order 1234567812345670"), "");  // Luhn-valid, unknown network
  EXPECT_EQ(labels("ts 20231012103045123"), "");
  EXPECT_EQ(labels("hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), "");
  EXPECT_EQ(labels("uuid 4111-1111-1111-1111-111111111111"), "");
  EXPECT_EQ(labels("price 4111.11 and 1,111,111.11"), "");
}

TEST_F(DetectorTest, UsSsn) {
  EXPECT_EQ(masked("ssn 123-45-6789."), "ssn [US_SSN].");
  EXPECT_EQ(labels("ssn 666-45-6789 or 000-12-3456 or 123-00-4567"), "");
  EXPECT_EQ(labels("date 2023-10-12, part 123-45-6789-0"), "");
}

TEST_F(DetectorTest, Iban) {
  EXPECT_EQ(masked("iban DE89 3704 0044 0532 0130 00."), "iban [IBAN].");
  EXPECT_EQ(masked("iban GB82WEST12345698765432"), "iban [IBAN]");
  EXPECT_EQ(labels("iban DE89370400440532013001"), "");
}

TEST_F(DetectorTest, Ipv4) {
  EXPECT_EQ(masked("from 10.0.12.7:5432"), "from [IPV4]:5432");
  EXPECT_EQ(labels("bad 256.1.1.1, version 1.2.3.4.5, 1.2.3"), "");
}

TEST_F(DetectorTest, Ipv6) {
  EXPECT_EQ(masked("addr 2001:db8::8a2e:370:7334 end"), "addr [IPV6] end");
  EXPECT_EQ(masked("addr fe80:0:0:0:200:f8ff:fe21:67cf"), "addr [IPV6]");
  EXPECT_EQ(labels("at 10:20:30, mac 00:1a:2b:3c:4d:5e, std::string"), "");
}

TEST_F(DetectorTest, AwsKeys) {
  EXPECT_EQ(masked("id AKIAIOSFODNN7EXAMPLE"), "id [AWS_ACCESS_KEY]");
  EXPECT_EQ(masked("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "aws_secret_access_key = [AWS_SECRET_KEY]");
  EXPECT_EQ(labels("AKIA lowercase akiaiosfodnn7example"), "");
}

TEST_F(DetectorTest, Tokens) {
  EXPECT_EQ(masked("gh ghp_1234567890abcdefghijABCDEFGHIJ123456"), "gh [GITHUB_TOKEN]");
  EXPECT_EQ(masked("slack xoxb-1234567890-abcdefghij"), "slack [SLACK_TOKEN]");
  EXPECT_EQ(masked("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc"), "stripe [STRIPE_KEY]");
  EXPECT_EQ(labels("ghp_short xoxb- sk_live_"), "");
}

TEST_F(DetectorTest, Jwt) {
  std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
      "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
  EXPECT_EQ(masked("Bearer " + jwt), "Bearer [JWT]");
  EXPECT_EQ(labels("eyJ alone"), "");
}

TEST_F(DetectorTest, PrivateKeyBlockIsMaskedWhole) {
  EXPECT_EQ(masked("k=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE "
                   "KEY-----\nrest"),
            "k=[PRIVATE_KEY]\nrest");
  EXPECT_EQ(masked("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn"), "[PRIVATE_KEY]");
  EXPECT_EQ(labels("-----BEGIN CERTIFICATE-----"), "");
}

TEST_F(DetectorTest, SecretAssignments) {
  EXPECT_EQ(masked("login password=hunter2 ok"), "login password=[SECRET] ok");
  EXPECT_EQ(masked("{\"api_key\": \"abc123\"}"), "{\"api_key\": \"[SECRET]\"}");
  EXPECT_EQ(masked("Secret: s3cr3t;"), "Secret: [SECRET];");
  EXPECT_EQ(masked("db postgres://app:Sup3r@db.internal/kb"),
            "db postgres://app:[PASSWORD]@db.internal/kb");
  EXPECT_EQ(labels("the password is long; a secret meeting; password=*****"), "");
}

TEST_F(DetectorTest, CompoundSecretKeysInPlainTextKeepTheKeyAndMaskTheValue) {
  EXPECT_EQ(masked("db_password: hunter2xyz"), "db_password: [SECRET]");
  EXPECT_EQ(masked("DB_PASSWORD=hunter2xyz"), "DB_PASSWORD=[SECRET]");
  EXPECT_EQ(masked("mysql_pwd=s3cretvalue"), "mysql_pwd=[SECRET]");
  EXPECT_EQ(masked("PGPASSWORD=s3cretvalue"), "PGPASSWORD=[SECRET]");
  EXPECT_EQ(masked("set db-password = s3cretvalue;"), "set db-password = [SECRET];");
  EXPECT_EQ(masked("conn host=db user=app password=s3cret sslmode=require"),
            "conn host=db user=app password=[SECRET] sslmode=require");
  EXPECT_EQ(masked("Server=db;User Id=app;Password=s3cret;"),
            "Server=db;User Id=app;Password=[SECRET];");
  EXPECT_EQ(masked("GET /cb?state=x&access_token=abc123&n=1"),
            "GET /cb?state=x&access_token=[SECRET]&n=1");
  EXPECT_EQ(masked("log: client_secret=abc stripe.apiKey=def x-api-key: ghi"),
            "log: client_secret=[SECRET] stripe.apiKey=[SECRET] x-api-key: [SECRET]");
}

TEST_F(DetectorTest, CamelCaseSecretKeysAreMasked) {
  EXPECT_EQ(masked("cfg dbPassword=s3cret clientSecret: abc"),
            "cfg dbPassword=[SECRET] clientSecret: [SECRET]");
  EXPECT_EQ(masked("x basicAuth=u:p privateKey=k1 dbPass=k2"),
            "x basicAuth=[SECRET] privateKey=[SECRET] dbPass=[SECRET]");
}

TEST_F(DetectorTest, KeysThatOnlyContainAKeywordAreNotSecrets) {
  EXPECT_EQ(labels("password_hint=dog passwordPolicy=strict passwords=3 tokens=512"), "");
  EXPECT_EQ(labels("token_count=5 tokenizer=bpe secretary=Ann primary_key=id"), "");
  EXPECT_EQ(labels("bypass=true compass: north oauth=enabled OAuth: on OLDPWD=x author: Ann"), "");
}

TEST_F(DetectorTest, JsonTextValuesUnderSecretKeysAreMasked) {
  EXPECT_EQ(masked(R"({"db_password": "value", "user": "app"})"),
            R"({"db_password": "[SECRET]", "user": "app"})");
  EXPECT_EQ(masked(R"({"apiKey":"a b c","n":1})"), R"({"apiKey":"[SECRET]","n":1})");
  EXPECT_EQ(masked(R"({"token": "a\"b"})"), R"({"token": "[SECRET]"})");
  EXPECT_EQ(labels(R"({"password": "", "secret": null, "token": "*****"})"), "");
}

TEST_F(DetectorTest, YamlValuesUnderSecretKeysAreMaskedQuotedOrNot) {
  EXPECT_EQ(masked("db:\n  db_password: hunter2xyz\n  user: app\n"),
            "db:\n  db_password: [SECRET]\n  user: app\n");
  EXPECT_EQ(masked("db:\n  password: 'it is long'  # rotated\n"),
            "db:\n  password: '[SECRET]'  # rotated\n");
  EXPECT_EQ(masked("db:\n  password: correct horse battery staple # old\n"),
            "db:\n  password: [SECRET] # old\n");
  EXPECT_EQ(masked("credentials:\n  user: app\n  password: \"x y\"\n"),
            "credentials:\n  user: app\n  password: \"[SECRET]\"\n");
  EXPECT_EQ(labels("auth:\n  enabled: true\n  password: ${DB_PASSWORD}\n"), "");
}

TEST_F(DetectorTest, DotenvAssignmentsAreMasked) {
  EXPECT_EQ(masked("export DB_PASSWORD=\"value\"\nexport DB_USER=app\n"),
            "export DB_PASSWORD=\"[SECRET]\"\nexport DB_USER=app\n");
  EXPECT_EQ(masked("STRIPE_SECRET=abc def\nDEBUG=1"), "STRIPE_SECRET=[SECRET]\nDEBUG=1");
  EXPECT_EQ(masked("  - REDIS_PASS=p4ss\n"), "  - REDIS_PASS=[SECRET]\n");
}

TEST_F(DetectorTest, JavaPropertiesAreMasked) {
  EXPECT_EQ(masked("spring.datasource.password=s3cretvalue"),
            "spring.datasource.password=[SECRET]");
  EXPECT_EQ(masked("spring.datasource.url=jdbc:h2:mem\nmail.smtp.auth.password = a b\n"),
            "spring.datasource.url=jdbc:h2:mem\nmail.smtp.auth.password = [SECRET]\n");
}

TEST_F(DetectorTest, CommandLineSecretOptionsAreMasked) {
  EXPECT_EQ(masked("pg_dump --db-password s3cret -h db"), "pg_dump --db-password [SECRET] -h db");
  EXPECT_EQ(masked("run --password=s3cret --user app"), "run --password=[SECRET] --user app");
  EXPECT_EQ(masked("cli --api-key 'k e y' --verbose"), "cli --api-key '[SECRET]' --verbose");
  EXPECT_EQ(labels("psql --no-password -h db; tool --password-file /run/pw --token-ttl 5"), "");
}

TEST_F(DetectorTest, AuthorizationHeadersKeepTheScheme) {
  EXPECT_EQ(masked("Authorization: Basic dXNlcjpwYXNz\nHost: x"),
            "Authorization: Basic [SECRET]\nHost: x");
  EXPECT_EQ(masked("req authorization: Token abc123 ok"), "req authorization: Token [SECRET] ok");
  EXPECT_EQ(labels("pending authorization: approved by the manager"), "");
}

TEST_F(DetectorTest, ProseMentioningSecretsIsNotMasked) {
  EXPECT_EQ(labels("Reset your password at the portal."), "");
  EXPECT_EQ(labels("The token: a metaphor for trust."), "");
  EXPECT_EQ(labels("Your password: see the guide. Forgot your password? Click here."), "");
  EXPECT_EQ(labels("Password: required. Secret: none. token = null."), "");
  EXPECT_EQ(labels("a password-based login, a passwordless one, a secret meeting"), "");
  EXPECT_EQ(labels("meet at 10:30, ratio 3:1, see http://example.com:8080/"), "");
  EXPECT_EQ(labels("if password == expected: return; withCredentials: true"), "");
}

TEST_F(DetectorTest, UriPasswordsAreMaskedForAnyScheme) {
  EXPECT_EQ(masked("postgresql://user:secret@host/db"), "postgresql://user:[PASSWORD]@host/db");
  EXPECT_EQ(masked("mysql://user:secret@host/db"), "mysql://user:[PASSWORD]@host/db");
  EXPECT_EQ(masked("mongodb+srv://user:secret@cluster0.example.net/db"),
            "mongodb+srv://user:[PASSWORD]@cluster0.example.net/db");
  EXPECT_EQ(masked("redis://user:secret@host:6379/0"), "redis://user:[PASSWORD]@host:6379/0");
  EXPECT_EQ(masked("amqp://user:secret@host/vhost"), "amqp://user:[PASSWORD]@host/vhost");
  EXPECT_EQ(masked("https://user:pass@host"), "https://user:[PASSWORD]@host");
  EXPECT_EQ(masked("jdbc:postgresql://u:p@h:5432/db"), "jdbc:postgresql://u:[PASSWORD]@h:5432/db");
  EXPECT_EQ(masked("x_svc://u:p@h"), "x_svc://u:[PASSWORD]@h");
}

TEST_F(DetectorTest, UriPasswordWithAnEmptyUserOrAnAtIsMaskedWhole) {
  EXPECT_EQ(masked("redis://:s3cret@cache:6379"), "redis://:[PASSWORD]@cache:6379");
  EXPECT_EQ(masked("postgres://app:p@ss@db/x"), "postgres://app:[PASSWORD]@db/x");
  EXPECT_EQ(masked("postgres://u:p!ss@db.example.com/x"),
            "postgres://u:[PASSWORD]@db.example.com/x");
}

TEST_F(DetectorTest, JsonEscapedUriPasswordIsMasked) {
  EXPECT_EQ(masked(R"({"url":"postgresql:\/\/user:secret@host\/db"})"),
            R"({"url":"postgresql:\/\/user:[PASSWORD]@host\/db"})");
}

TEST_F(DetectorTest, UrisWithoutAPasswordAreLeftAlone) {
  EXPECT_EQ(labels("scheme://host and postgres://db.internal:5432/app"), "");
  EXPECT_EQ(labels("http://example.com:8080/ and https://example.com:443/@alice"), "");
  EXPECT_EQ(labels("ssh://user@host/x and user@host and http://[::1]:8080/x"), "");
  EXPECT_EQ(labels("https://example.com/path?x=a:b@c"), "");
  EXPECT_EQ(labels("postgres://u:****@h/db"), "");
}

// Digit-run values are found at word boundaries (the `\b` of their expressions, which the
// native prefilter relies on): any non-word byte or the edge of the value on each side.
TEST_F(DetectorTest, DigitValuesAfterPunctuationAreMasked) {
  EXPECT_EQ(masked("card:4111111111111111"), "card:[CREDIT_CARD]");
  EXPECT_EQ(masked("x,4111111111111111,y"), "x,[CREDIT_CARD],y");
  EXPECT_EQ(masked("{\"pan\":\"4111111111111111\"}"), "{\"pan\":\"[CREDIT_CARD]\"}");
  EXPECT_EQ(masked("4111111111111111"), "[CREDIT_CARD]");
  EXPECT_EQ(masked("#4111-1111-1111-1111."), "#[CREDIT_CARD].");
  EXPECT_EQ(masked("call (415) 555-2671!"), "call [PHONE]!");
  EXPECT_EQ(masked("tel:+14155552671"), "tel:[PHONE]");
  EXPECT_EQ(masked("ip=10.0.12.7"), "ip=[IPV4]");
  EXPECT_EQ(masked("ssn=123-45-6789"), "ssn=[US_SSN]");
  EXPECT_EQ(masked("iban:DE89370400440532013000"), "iban:[IBAN]");
  EXPECT_EQ(masked("\xc3\xa9"
                   "4111111111111111"),
            "\xc3\xa9"
            "[CREDIT_CARD]");
}

TEST_F(DetectorTest, DigitRunsInsideHexOrIdentifiersAreNotValues) {
  // A Luhn-valid Visa number glued to hex digits on either side is part of a digest.
  EXPECT_EQ(labels("0cc175b94111111111111111c0f1b6a8"), "");
  EXPECT_EQ(labels("a4111111111111111"), "");
  EXPECT_EQ(labels("4111111111111111f"), "");
  EXPECT_EQ(labels("x123-45-6789 and 10.0.12.7b"), "");
  std::string hex;
  for (int i = 0; i < 64; ++i) {
    hex += "5f4dcc3b5aa765d61d8327deb882cf99";
  }
  EXPECT_EQ(labels(hex), "");
  EXPECT_EQ(masked(hex + " 4111111111111111"), hex + " [CREDIT_CARD]");
}

TEST_F(DetectorTest, EmailInHexHeavyTextIsMasked) {
  std::string hex;
  for (int i = 0; i < 64; ++i) {
    hex += "5f4dcc3b5aa765d61d8327deb882cf99";
  }
  EXPECT_EQ(masked(hex + " alice@example.com " + hex), hex + " [EMAIL] " + hex);
  // Glued to the hex (as `md5 || 'ada1@example.com'` produces): the whole run is the local part.
  EXPECT_EQ(masked(hex + "ada1@example.com"), "[EMAIL]");
}

TEST_F(DetectorTest, ProfilesWithOnlyNativePrefiltersWork) {
  for (std::vector<std::string> names :
       {std::vector<std::string>{"credit_card"}, {"email"}, {"iban", "phone", "ipv4"}}) {
    Settings s;
    s.defaults.detectors = names;
    auto e = Engine::create(s, "");
    ASSERT_TRUE(e.isOk()) << e.status().message();
    Scanner scanner(*e);
    std::string out;
    Counters c;
    auto r = scanner.maskFreeText(*(*e)->profile(),
                                  "card 4111111111111111, a@example.com, tel +1 415 555 2671, "
                                  "ip 10.0.12.7, GB82WEST12345698765432",
                                  out, c);
    ASSERT_TRUE(r.isOk()) << r.status().message();
    EXPECT_EQ(*r, CellResult::kRewritten) << names[0];
    EXPECT_EQ(c.values_masked, names.size() == 3 ? 3u : 1u) << names[0] << ": " << out;
    r = scanner.maskFreeText(*(*e)->profile(), "nothing to see, 42 and 1.5", out, c);
    ASSERT_TRUE(r.isOk());
    EXPECT_EQ(*r, CellResult::kUnchanged);
  }
}

}  // namespace
}  // namespace jg::mask
