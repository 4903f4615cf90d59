#include "audit/codec.h"

#include <gtest/gtest.h>

#include "audit/test_util.h"

namespace jg::audit {
namespace {

Event statementEvent() {
  StatementEvent st;
  st.statement_id = 3;
  st.text = "SELECT * FROM crm.customers WHERE email = $1";
  st.kind = "select";
  st.tables = {"crm.customers"};
  st.decision = "allow";
  st.rule_id = "pipeline-read";
  st.setParams({std::string("alice@example.com"), std::nullopt});
  return Event{"s1", fromMicros(1'700'000'000'000'000), st};
}

TEST(Codec, StatementRoundTripsWithSealedParameters) {
  testing::TempAuditDir dir;
  auto key = AeadKey::loadFile(dir.path("keys/raw.key"));
  ASSERT_TRUE(key.isOk());
  RawSealer sealer(*key);
  auto rec = encodeEvent(statementEvent(), sealer, scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  EXPECT_EQ(rec->find("alice@example.com"), std::string::npos);
  EXPECT_NE(rec->find(sha256Hex("alice@example.com")), std::string::npos);

  auto back = decodeEvent(boost::json::parse(*rec).as_object());
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(back->session_id, "s1");
  EXPECT_EQ(toMicros(back->time), 1'700'000'000'000'000);
  const auto& st = std::get<StatementEvent>(back->body);
  EXPECT_EQ(st.statement_id, 3u);
  EXPECT_EQ(st.tables, std::vector<std::string>{"crm.customers"});
  EXPECT_EQ(st.rule_id, "pipeline-read");
  ASSERT_EQ(st.params.state(), RawBytes::State::kSealed);

  RawOpener opener;
  opener.addKey(*key);
  auto params = opener.open(st.params, key->id(), rawAad("s1", "statement", "params"));
  ASSERT_TRUE(params.isOk()) << params.status().message();
  auto rows = rowsFromJson(*params);
  ASSERT_TRUE(rows.isOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], std::optional<std::string>("alice@example.com"));
  EXPECT_EQ((*rows)[0][1], std::nullopt);
}

TEST(Codec, RawPayloadsAreNotStoredWhenOff) {
  RawSealer off(std::nullopt);
  ResultRowsEvent rows;
  rows.statement_id = 1;
  rows.rows = {{std::string("a***@example.com")}};
  rows.setRawRows({{std::string("alice@example.com")}});
  auto rec = encodeEvent(Event{"s1", fromMicros(1), rows}, off, scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  EXPECT_EQ(rec->find("alice"), std::string::npos);
  EXPECT_EQ(rec->find("raw_rows"), std::string::npos);
  EXPECT_NE(rec->find("a***@example.com"), std::string::npos);
  auto st = statementEvent();
  auto srec = encodeEvent(st, off, scrubSecrets);
  ASSERT_TRUE(srec.isOk());
  EXPECT_EQ(srec->find("\"params\""), std::string::npos);
}

TEST(Codec, SecretLiteralsInTextAreScrubbed) {
  RawSealer off(std::nullopt);
  StatementEvent st;
  st.text = "ALTER ROLE app PASSWORD 'hunter2'";
  ErrorEvent err;
  err.message = "bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc";
  for (EventBody body : {EventBody(st), EventBody(err)}) {
    auto rec = encodeEvent(Event{"s1", fromMicros(1), body}, off, scrubSecrets);
    ASSERT_TRUE(rec.isOk());
    EXPECT_EQ(rec->find("hunter2"), std::string::npos);
    EXPECT_EQ(rec->find("eyJ"), std::string::npos);
  }
}

TEST(Codec, PrincipalCarriesNoTokenMaterial) {
  identity::Identity id;
  id.subject = "u1";
  id.email = "u1@example.com";
  id.groups = {"rag"};
  id.token_hash = "deadbeefcafef00d";
  AuthEvent auth{true, "oidc-password", Principal::from(id), ""};
  auto rec = encodeEvent(Event{"s1", fromMicros(1), auth}, RawSealer(std::nullopt), scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  EXPECT_EQ(rec->find("deadbeef"), std::string::npos);
  auto back = decodeEvent(boost::json::parse(*rec).as_object());
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(std::get<AuthEvent>(back->body).principal.groups, std::vector<std::string>{"rag"});
}

TEST(Codec, InvalidUtf8CellsAreHexEncodedAndRoundTrip) {
  std::vector<Row> rows = {{std::string("ok"), std::string("\xff\x00\x01", 3), std::nullopt}};
  std::string json = rowsToJson(rows);
  EXPECT_NE(json.find("\"hex\":\"ff0001\""), std::string::npos);
  auto back = rowsFromJson(json);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(*back, rows);
}

}  // namespace
}  // namespace jg::audit

namespace jg::audit {
namespace {

TEST(ToValidUtf8, KeepsValidTextAndReplacesEachInvalidByte) {
  EXPECT_EQ(toValidUtf8("héllo"), "héllo");
  EXPECT_EQ(toValidUtf8(std::string_view("a\xff"
                                         "b",
                                         3)),
            "a\xEF\xBF\xBD"
            "b");
  // A truncated two-byte sequence and an overlong encoding are replaced byte by byte.
  EXPECT_EQ(toValidUtf8(std::string_view("\xc3", 1)), "\xEF\xBF\xBD");
  EXPECT_EQ(toValidUtf8(std::string_view("\xc0\xaf", 2)), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace jg::audit
