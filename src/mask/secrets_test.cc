#include "mask/secrets.h"

#include <gtest/gtest.h>

#include <string>

namespace jg::mask {
namespace {

// Runs `validate` on a candidate starting at `from` (to the end of `text`); returns the span it
// keeps, or "<rejected>".
std::string kept(bool (*validate)(std::string_view, size_t&, size_t&), std::string_view text,
                 size_t from) {
  size_t to = text.size();
  if (!validate(text, from, to)) {
    return "<rejected>";
  }
  return std::string(text.substr(from, to - from));
}

std::string assignment(std::string_view text, std::string_view keyword = "") {
  size_t from = keyword.empty() ? 0 : text.find(keyword);
  return kept(validateAssignment, text, from);
}

TEST(SecretKeys, KeywordMayEndACompoundKeyInAnyStyle) {
  for (std::string_view key : {"password",
                               "db_password",
                               "DB_PASSWORD",
                               "dbPassword",
                               "PGPASSWORD",
                               "db-password",
                               "spring.datasource.password",
                               "mysql_pwd",
                               "client_secret",
                               "clientSecret",
                               "api_key",
                               "apiKey",
                               "x-api-key",
                               "API.KEY",
                               "access_token",
                               "GITHUB_TOKEN",
                               "aws_access_key",
                               "private_key",
                               "privateKey",
                               "credentials",
                               "basic_auth",
                               "basicAuth",
                               "DB_PASS",
                               "dbPass",
                               "wifi_pass",
                               "passphrase",
                               "Authorization",
                               "sso-creds"}) {
    EXPECT_TRUE(isSecretKey(key)) << key;
  }
}

TEST(SecretKeys, KeywordThatIsNotTheLastComponentOrIsPartOfAWordIsNoSecretKey) {
  for (std::string_view key :
       {"password_hint", "passwordPolicy", "passwords", "tokens",  "token_count",
        "tokenizer",     "secretary",      "bypass",    "compass", "oauth",
        "OAuth",         "OLDPWD",         "author",    "key",     "primary_key",
        "public_key",    "monkey",         "wifi_pw",   "user",    ""}) {
    EXPECT_FALSE(isSecretKey(key)) << key;
  }
}

TEST(SecretKeys, StandInsAreNotSecrets) {
  for (std::string_view v :
       {"*****", "xxxx", "XXXXXXXX", "${DB_PASSWORD}", "{{ token }}", "<password>", "[SECRET]",
        "true", "False", "null", "None", "nil", "undefined", "required", ""}) {
    EXPECT_TRUE(isSecretPlaceholder(v)) << v;
  }
  for (std::string_view v : {"hunter2", "x1", "s3cr3t", "changeme", "[hunter2]", "$ecret"}) {
    EXPECT_FALSE(isSecretPlaceholder(v)) << v;
  }
}

TEST(SecretAssignment, KeepsTheKeyAndMasksTheValue) {
  EXPECT_EQ(assignment("password = \"hunter2\""), "hunter2");
  EXPECT_EQ(assignment("db_password: hunter2xyz", "password"), "hunter2xyz");
  EXPECT_EQ(assignment("x DB_PASSWORD=hunter2xyz; y", "PASSWORD"), "hunter2xyz");
  EXPECT_EQ(assignment("{\"apiKey\":\"abc 123\"}", "Key"), "abc 123");
  EXPECT_EQ(assignment("'password' => 'hunter2'", "password"), "hunter2");
  EXPECT_EQ(assignment("password := \"hunter2\""), "hunter2");
}

TEST(SecretAssignment, QuotedValueRunsToItsClosingQuote) {
  EXPECT_EQ(assignment("pass: \"correct horse\" rest"), "correct horse");
  EXPECT_EQ(assignment("token: 'a\\'b' rest"), "a\\'b");
  EXPECT_EQ(assignment("secret: \"unterminated\nnext"), "unterminated");
}

TEST(SecretAssignment, UnquotedValueOnTheKeysOwnLineRunsToTheEndOfTheLine) {
  EXPECT_EQ(assignment("password: correct horse battery  # comment\nnext"),
            "correct horse battery");
  EXPECT_EQ(assignment("a\n  export DB_PASSWORD=p a s s;\nb", "PASSWORD"), "p a s s");
  EXPECT_EQ(assignment("- DB_PASSWORD=p q", "PASSWORD"), "p q");
  // Mid-line, the value ends at the first space or `"',;&`.
  EXPECT_EQ(assignment("login password=hunter2 ok", "password"), "hunter2");
  EXPECT_EQ(assignment("?user=a&token=abc&x=1", "token"), "abc");
  // An option does not own its line.
  EXPECT_EQ(assignment("--password=abc --host h", "password"), "abc");
}

TEST(SecretAssignment, AuthorizationMasksTheCredentialsAfterTheScheme) {
  EXPECT_EQ(assignment("Authorization: Basic dXNlcjpwdw==\n"), "dXNlcjpwdw==");
  EXPECT_EQ(assignment("h Authorization: Bearer abc.def rest", "Authorization"), "abc.def");
  EXPECT_EQ(assignment("auth: s3cret"), "s3cret");
  EXPECT_EQ(assignment("x authorization: approved", "authorization"), "<rejected>");
}

TEST(SecretAssignment, ProseAndStandInsAreRejected) {
  EXPECT_EQ(assignment("The token: a metaphor", "token"), "<rejected>");
  EXPECT_EQ(assignment("Your password: see the guide", "password"), "<rejected>");
  EXPECT_EQ(assignment("Field token: required, x", "token"), "<rejected>");
  EXPECT_EQ(assignment("token = none.", "token"), "<rejected>");
  EXPECT_EQ(assignment("password=*****"), "<rejected>");
  EXPECT_EQ(assignment("DB_PASSWORD=${DB_PASSWORD}", "PASSWORD"), "<rejected>");
  EXPECT_EQ(assignment("if password == other", "password"), "<rejected>");
  EXPECT_EQ(assignment("x bypass: true", "pass"), "<rejected>");
  // A compound key is a setting even before a prose word.
  EXPECT_EQ(assignment("db_token: the", "token"), "the");
}

TEST(SecretAssignment, KeyOpeningAnIndentedBlockHasNoValueOfItsOwn) {
  EXPECT_EQ(assignment("credentials:\n  user: app\n  password: x"), "<rejected>");
  EXPECT_EQ(assignment("x your new password:\nhunter2", "password"), "hunter2");
}

TEST(SecretAssignment, ValidationOfOverlappingCandidatesIsBounded) {
  std::string text;
  while (text.size() < 100000) {
    text += "pwd=";
  }
  size_t from = 0, to = 4;
  ASSERT_TRUE(validateAssignment(text, from, to));
  EXPECT_EQ(to - from, 4096u);
}

TEST(SecretFlag, OptionValueIsMasked) {
  EXPECT_EQ(kept(validateFlagAssignment, "psql --db-password s3cret -h db", 5), "s3cret");
  EXPECT_EQ(kept(validateFlagAssignment, "run --api-key \"a b\"", 4), "a b");
  EXPECT_EQ(kept(validateFlagAssignment, "--token abc", 0), "abc");
}

TEST(SecretFlag, SwitchesAndGluedDashesAreNotOptions) {
  EXPECT_EQ(kept(validateFlagAssignment, "psql --no-password -h db", 5), "<rejected>");
  EXPECT_EQ(kept(validateFlagAssignment, "a--password x", 1), "<rejected>");
  EXPECT_EQ(kept(validateFlagAssignment, "--password-file /run/pw", 0), "<rejected>");
  EXPECT_EQ(kept(validateFlagAssignment, "--bypass yes", 0), "<rejected>");
}

TEST(UrlPassword, PasswordRunsToTheLastAtOfTheAuthority) {
  std::string_view uri = "postgresql://user:secret@host/db";
  EXPECT_EQ(kept(validateUrlPassword, uri.substr(0, 25), 10), "secret");
  std::string_view at = "postgres://app:p@ss@db/x";
  EXPECT_EQ(kept(validateUrlPassword, at.substr(0, 20), 8), "p@ss");
  std::string_view empty_user = "redis://:pw@host";
  EXPECT_EQ(kept(validateUrlPassword, empty_user.substr(0, 12), 5), "pw");
  std::string_view escaped = R"(redis:\/\/u:pw@host)";
  EXPECT_EQ(kept(validateUrlPassword, escaped.substr(0, 15), 5), "pw");
  std::string_view stand_in = "postgres://u:****@h";
  EXPECT_EQ(kept(validateUrlPassword, stand_in.substr(0, 18), 8), "<rejected>");
}

}  // namespace
}  // namespace jg::mask
