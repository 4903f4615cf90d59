#include "audit/codec.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

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

TEST(Codec, AccessRecordKeepsTheActorsSubjectBesideTheirEmail) {
  AccessEvent e;
  e.action = "console.signed_in";
  e.requester = "bob@corp.example";
  e.actor = "bob@corp.example";
  e.comment = "web console from 127.0.0.1:5000";
  e.actor_subject = "sub-bob";
  auto rec = encodeEvent(Event{"access", fromMicros(1), e}, RawSealer(std::nullopt), scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  EXPECT_NE(rec->find(R"("actor_sub":"sub-bob")"), std::string::npos) << *rec;
  auto back = decodeEvent(boost::json::parse(*rec).as_object());
  ASSERT_TRUE(back.isOk());
  const auto& a = std::get<AccessEvent>(back->body);
  EXPECT_EQ(a.action, "console.signed_in");
  EXPECT_EQ(a.actor, "bob@corp.example");
  EXPECT_EQ(a.actor_subject, "sub-bob");
}

TEST(Codec, ReplayRecordKeepsTheRevealReasonAndOmitsAnEmptyOne) {
  ReplayEvent e{"s-42", true, "rita@corp.example", "ticket SEC-7"};
  auto rec =
      encodeEvent(Event{"replay-1", fromMicros(1), e}, RawSealer(std::nullopt), scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  auto back = decodeEvent(boost::json::parse(*rec).as_object());
  ASSERT_TRUE(back.isOk());
  const auto& r = std::get<ReplayEvent>(back->body);
  EXPECT_EQ(r.replayed_session, "s-42");
  EXPECT_TRUE(r.raw);
  EXPECT_EQ(r.reason, "ticket SEC-7");
  auto cli = encodeEvent(Event{"replay-2", fromMicros(1), ReplayEvent{"s-42", false, "root"}},
                         RawSealer(std::nullopt), scrubSecrets);
  ASSERT_TRUE(cli.isOk());
  EXPECT_EQ(cli->find("reason"), std::string::npos) << *cli;
}

TEST(Codec, AccessRecordWithoutAnActorHasNoSubjectField) {
  AccessEvent e;
  e.action = "grant.expired";
  e.grant_id = "g-1";
  e.requester = "alice";
  auto rec = encodeEvent(Event{"access", fromMicros(1), e}, RawSealer(std::nullopt), scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  EXPECT_EQ(rec->find("actor_sub"), std::string::npos) << *rec;
  auto back = decodeEvent(boost::json::parse(*rec).as_object());
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(std::get<AccessEvent>(back->body).actor_subject, "");
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

TEST(Codec, ResultRecordHoldsAWholeResultAndSplitsIntoItsParts) {
  testing::TempAuditDir dir;
  auto key = AeadKey::loadFile(dir.path("keys/raw.key"));
  ASSERT_TRUE(key.isOk());
  RawSealer sealer(*key);
  ResultEvent r;
  r.statement_id = 4;
  r.columns = {{"id", 23, "crm.customers", 0}, {"email", 25, "crm.customers", 0}};
  r.rows = {{std::string("1"), std::string("a***@example.com")}, {std::string("2"), std::nullopt}};
  r.setChangedRawRows({Row{std::string("1"), std::string("alice@example.com")}, std::nullopt});
  r.document_ids = {"1"};
  r.command_tag = "SELECT 2";
  r.bytes = 64;
  r.masked_cells = {{"email", 1}};
  auto rec = encodeEvent(Event{"s1", fromMicros(5), r}, sealer, scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  EXPECT_EQ(rec->find("alice@example.com"), std::string::npos);
  auto o = boost::json::parse(*rec).as_object();
  EXPECT_EQ(o["type"].as_string(), "result");

  auto back = decodeEvent(o);
  ASSERT_TRUE(back.isOk());
  const auto& res = std::get<ResultEvent>(back->body);
  EXPECT_EQ(res.rows, r.rows);
  EXPECT_EQ(res.command_tag, "SELECT 2");
  auto parts = splitEvent(*back);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(std::get<ResultStartEvent>(parts[0].body).columns.size(), 2u);
  const auto& rows = std::get<ResultRowsEvent>(parts[1].body);
  EXPECT_EQ(rows.document_ids, std::vector<std::string>{"1"});
  const auto& end = std::get<ResultEndEvent>(parts[2].body);
  EXPECT_EQ(end.rows, 2u);
  EXPECT_EQ(end.bytes, 64u);
  EXPECT_EQ(end.masked_cells.at("email"), 1u);

  // Raw rows are sealed as the result_rows field they stand for; unchanged rows are the sent
  // ones.
  RawOpener opener;
  opener.addKey(*key);
  auto plain = opener.open(rows.raw_rows, key->id(), rawAad("s1", "result_rows", "raw_rows"));
  ASSERT_TRUE(plain.isOk()) << plain.status().message();
  auto raw = rawRowsView(*plain, rows.rows);
  ASSERT_TRUE(raw.isOk());
  ASSERT_EQ(raw->size(), 2u);
  EXPECT_EQ((*raw)[0][1], std::optional<std::string>("alice@example.com"));
  EXPECT_EQ((*raw)[1], rows.rows[1]);

  auto records = splitRecord(o);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["type"].as_string(), "result_start");
  EXPECT_EQ(records[1]["type"].as_string(), "result_rows");
  EXPECT_EQ(records[1]["rows"].as_array().size(), 2u);
  EXPECT_TRUE(records[1].contains("raw_rows"));
  EXPECT_EQ(records[2]["type"].as_string(), "result_end");
  EXPECT_EQ(records[2]["rows"].to_number<uint64_t>(), 2u);
  EXPECT_EQ(records[2]["tag"].as_string(), "SELECT 2");
  EXPECT_EQ(records[2]["stmt"].to_number<uint64_t>(), 4u);
}

TEST(Codec, RawRowsNameOnlyRowsThatWereRecorded) {
  EXPECT_FALSE(rawRowsView("[null, null]", {{std::string("1")}}).isOk());
  EXPECT_FALSE(rawRowsView("{}", {}).isOk());
  auto dense = rawRowsView(R"([["x"]])", {{std::string("1")}});
  ASSERT_TRUE(dense.isOk());
  EXPECT_EQ((*dense)[0][0], std::optional<std::string>("x"));
}

TEST(Codec, TextIsEscapedAndAlwaysValidJson) {
  StatementEvent st;
  st.text = std::string("select '\"q\\\n\t\x01' \xff\xfe -- é", 24);
  st.decision = "allow";
  auto rec = encodeEvent(Event{"s1", fromMicros(1), st}, RawSealer(std::nullopt), scrubSecrets);
  ASSERT_TRUE(rec.isOk());
  boost::json::error_code ec;
  auto v = boost::json::parse(*rec, ec);
  ASSERT_FALSE(ec) << *rec;
  EXPECT_EQ(v.as_object()["text"].as_string(),
            "select '\"q\\\n\t\x01' \xEF\xBF\xBD\xEF\xBF\xBD -- é");
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

TEST(Codec, TimestampsBeyondTheClockRangeSaturateInsteadOfOverflowing) {
  EXPECT_EQ(fromMicros(18'000'000'000'000'000), fromMicros(INT64_MAX));  // the year 2540
  EXPECT_GT(fromMicros(INT64_MAX), fromMicros(9'000'000'000'000'000));
  EXPECT_LT(fromMicros(INT64_MIN), fromMicros(0));
  EXPECT_EQ(toMicros(fromMicros(1'800'000'000'000'000)), 1'800'000'000'000'000);
  auto record = boost::json::parse(R"({"type":"connect","ts":18000000000000000,"sid":"s1"})");
  auto ev = decodeEvent(record.as_object());
  ASSERT_TRUE(ev.isOk()) << ev.status().message();
  EXPECT_EQ(ev->time, fromMicros(INT64_MAX));
}

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
