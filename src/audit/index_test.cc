#include "audit/index.h"

#include <gtest/gtest.h>

#include <sstream>

#include "audit/replay.h"
#include "audit/test_util.h"
#include "store/test_backends.h"

namespace jg::audit {
namespace {

// Records one RAG session: connect, auth, a statement returning documents 41 and 42, end.
void recordSession(Recorder& rec, const std::string& sid, const std::string& email,
                   const std::string& group, std::chrono::system_clock::time_point t0) {
  identity::Identity id;
  id.subject = "sub-" + email;
  id.email = email;
  id.groups = {group};
  auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
  ASSERT_TRUE(rec.append(Event{sid, at(0),
                               ConnectEvent{"10.0.0.5:40000", "kb", "postgres", "TLSv1.3",
                                            "TLS_AES_128_GCM_SHA256", "retriever", "pipeline"}})
                  .isOk());
  ASSERT_TRUE(
      rec.append(Event{sid, at(1), AuthEvent{true, "oidc-password", Principal::from(id), ""}})
          .isOk());
  StatementEvent st;
  st.statement_id = 1;
  st.text = "SELECT doc_id, body, author_email FROM public.chunks WHERE doc_id = ANY($1)";
  st.kind = "select";
  st.tables = {"public.chunks"};
  st.decision = "allow";
  st.rule_id = "pipeline-read";
  st.fingerprint = "fp1";
  st.setParams({std::string("{41,42}")});
  ASSERT_TRUE(rec.append(Event{sid, at(2), st}).isOk());
  ASSERT_TRUE(rec.append(Event{sid, at(3),
                               ResultStartEvent{1,
                                                {{"doc_id", 23, "public.chunks", 0},
                                                 {"body", 25, "public.chunks", 0},
                                                 {"author_email", 25, "", 0}}}})
                  .isOk());
  ResultRowsEvent rows;
  rows.statement_id = 1;
  rows.rows = {{std::string("41"), std::string("intro"), std::string("b***@example.com")},
               {std::string("42"), std::string("pricing"), std::nullopt}};
  rows.setRawRows({{std::string("41"), std::string("intro"), std::string("bob@example.com")},
                   {std::string("42"), std::string("pricing"), std::nullopt}});
  rows.document_ids = {"41", "42"};
  ASSERT_TRUE(rec.append(Event{sid, at(4), rows}).isOk());
  ASSERT_TRUE(
      rec.append(Event{sid, at(5), ResultEndEvent{1, "SELECT 2", 2, 120, {{"email", 1}}}}).isOk());
  StatementEvent denied;
  denied.statement_id = 2;
  denied.text = "DELETE FROM public.chunks";
  denied.kind = "delete";
  denied.tables = {"public.chunks"};
  denied.decision = "deny";
  denied.rule_id = "default-deny";
  ASSERT_TRUE(rec.append(Event{sid, at(6), denied}).isOk());
  ASSERT_TRUE(
      rec.append(Event{sid, at(7),
                       ErrorEvent{2, "gateway", "ERROR", "42501", "permission denied by policy"}})
          .isOk());
  ASSERT_TRUE(rec.append(Event{sid, at(1000), SessionEndEvent{"client-closed", 2, 2}}).isOk());
}

class IndexTest : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    store_ = store::testing::openFresh(GetParam(), &skip, &error);
    if (!store_ && error.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_TRUE(store_) << error;
    ASSERT_TRUE(store_->migrate("audit", indexMigrations()).isOk());
    indexer_ = std::make_unique<Indexer>(*store_);
    RecorderOptions opt;
    opt.index = indexer_.get();
    auto rec = Recorder::open(dir_.settings(), opt);
    ASSERT_TRUE(rec.isOk());
    rec_ = std::move(*rec);
    recordSession(*rec_, "s-alice", "alice@example.com", "rag", t0_);
    recordSession(*rec_, "s-bob", "bob@example.com", "analysts", t0_ + std::chrono::hours(1));
    ASSERT_TRUE(indexer_->flush().isOk());
  }

  std::vector<StatementHit> find(SearchQuery q) {
    auto hits = search(*store_, q);
    EXPECT_TRUE(hits.isOk()) << hits.status().message();
    return hits.isOk() ? *hits : std::vector<StatementHit>{};
  }

  testing::TempAuditDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Indexer> indexer_;
  std::unique_ptr<Recorder> rec_;
  std::chrono::system_clock::time_point t0_ = fromMicros(1'780'000'000'000'000);
};

TEST_P(IndexTest, SearchFiltersByIdentityResourceTableKindAndDecision) {
  EXPECT_EQ(find({}).size(), 4u);
  auto alice = find({.user = "alice@example.com"});
  ASSERT_EQ(alice.size(), 2u);
  EXPECT_EQ(alice[0].session_id, "s-alice");
  EXPECT_EQ(alice[0].resource, "kb");
  EXPECT_EQ(find({.user = "sub-bob@example.com"}).size(), 2u);
  EXPECT_EQ(find({.group = "analysts"}).size(), 2u);
  EXPECT_EQ(find({.resource = "kb", .table = "public.chunks"}).size(), 4u);
  EXPECT_EQ(find({.table = "crm.customers"}).size(), 0u);
  auto denied = find({.decision = "deny"});
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_EQ(denied[0].kind, "delete");
  EXPECT_EQ(denied[0].error, "42501: permission denied by policy");
  EXPECT_EQ(find({.kind = "select", .rule = "pipeline-read"}).size(), 2u);
  EXPECT_EQ(find({.fingerprint = "fp1"}).size(), 2u);
  EXPECT_EQ(find({.contains = "ANY($1)"}).size(), 2u);
}

TEST_P(IndexTest, DocumentLineageAnswersWhoRetrievedADocumentAndWhen) {
  auto hits = find({.document = "42"});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].email, "bob@example.com");  // newest first
  EXPECT_EQ(hits[1].email, "alice@example.com");
  EXPECT_EQ(hits[1].rows, 2);
  EXPECT_EQ(hits[1].ts_us, toMicros(t0_ + std::chrono::milliseconds(2)));
  EXPECT_TRUE(find({.document = "43"}).empty());
}

TEST_P(IndexTest, AWholeResultRecordIsIndexedAndReplayedAsItsParts) {
  StatementEvent st;
  st.statement_id = 1;
  st.text = "SELECT doc_id, author_email FROM public.chunks WHERE doc_id = 77";
  st.kind = "select";
  st.tables = {"public.chunks"};
  st.decision = "allow";
  ConnectEvent connect;
  connect.client_addr = "10.0.0.6:1";
  connect.resource = "kb";
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, connect}).isOk());
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, st}).isOk());
  ResultEvent r;
  r.statement_id = 1;
  r.columns = {{"doc_id", 23, "public.chunks", 0}, {"author_email", 25, "", 0}};
  r.rows = {{std::string("77"), std::string("c***@example.com")},
            {std::string("78"), std::nullopt}};
  r.setChangedRawRows({Row{std::string("77"), std::string("carol@example.com")}, std::nullopt});
  r.document_ids = {"77", "78"};
  r.command_tag = "SELECT 2";
  r.bytes = 50;
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, r}).isOk());
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, SessionEndEvent{"client-closed", 1, 2}}).isOk());
  ASSERT_TRUE(indexer_->flush().isOk());
  auto hits = find({.document = "78"});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].session_id, "s-carol");
  EXPECT_EQ(hits[0].rows, 2);

  RawOpener opener;
  opener.addKey(*AeadKey::loadFile(dir_.path("keys/raw.key")));
  std::ostringstream js;
  ASSERT_TRUE(
      renderSession(dir_.auditDir(), "s-carol", std::nullopt, ReplayFormat::kJson, &opener, js)
          .isOk());
  std::vector<std::string> types;
  boost::json::array rows_raw;
  std::istringstream lines(js.str());
  for (std::string line; std::getline(lines, line);) {
    auto v = boost::json::parse(line).as_object();
    types.emplace_back(v["type"].as_string());
    if (v.contains("rows_raw")) {
      rows_raw = v["rows_raw"].as_array();
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"connect", "statement", "result_start", "result_rows",
                                             "result_end", "session_end"}));
  ASSERT_EQ(rows_raw.size(), 2u);
  EXPECT_EQ(rows_raw[0].as_array()[1].as_string(), "carol@example.com");
  EXPECT_TRUE(rows_raw[1].as_array()[1].is_null());  // unchanged by masking: the sent row

  ASSERT_TRUE(rec_->close().isOk());
  auto fresh = store::open("sqlite::memory:");
  ASSERT_TRUE(fresh.isOk());
  ASSERT_TRUE((*fresh)->migrate("audit", indexMigrations()).isOk());
  ASSERT_TRUE(reindex(dir_.auditDir(), **fresh).isOk());
  auto again = search(**fresh, {.document = "77"});
  ASSERT_TRUE(again.isOk());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].rows, 2);
}

TEST_P(IndexTest, TimeWindowsAreHalfOpen) {
  int64_t split = toMicros(t0_ + std::chrono::minutes(30));
  EXPECT_EQ(find({.since_us = split}).size(), 2u);
  EXPECT_EQ(find({.until_us = split}).size(), 2u);
  EXPECT_EQ(find({.since_us = split, .until_us = split}).size(), 0u);
}

TEST_P(IndexTest, IndexHoldsNoRawValuesOrParameters) {
  bool leaked = false;
  for (const char* table : {"audit_sessions", "audit_statements", "audit_documents"}) {
    ASSERT_TRUE(store_
                    ->query(std::string("SELECT * FROM ") + table, {},
                            [&](const store::Row& r) {
                              for (const auto& v : r) {
                                std::string s = store::asString(v);
                                leaked |= s.find("bob@example.com") != std::string::npos &&
                                          std::string(table) != "audit_sessions";
                                leaked |= s.find("{41,42}") != std::string::npos;
                              }
                              return true;
                            })
                    .isOk());
  }
  EXPECT_FALSE(leaked);
}

TEST_P(IndexTest, ReindexRebuildsTheSameRowsIdempotently) {
  ASSERT_TRUE(rec_->close().isOk());
  auto fresh = store::open("sqlite::memory:");
  ASSERT_TRUE(fresh.isOk());
  ASSERT_TRUE((*fresh)->migrate("audit", indexMigrations()).isOk());
  ASSERT_TRUE(reindex(dir_.auditDir(), **fresh).isOk());
  ASSERT_TRUE(reindex(dir_.auditDir(), **fresh).isOk());
  auto hits = search(**fresh, {.document = "41"});
  ASSERT_TRUE(hits.isOk());
  EXPECT_EQ(hits->size(), 2u);
  EXPECT_EQ(search(**fresh, {})->size(), 4u);
}

TEST_P(IndexTest, RemovedSegmentsTakeTheirRowsWithThem) {
  auto loc = findSession(*store_, "s-alice");
  ASSERT_TRUE(loc.isOk());
  ASSERT_TRUE(loc->has_value());
  EXPECT_EQ((*loc)->instance, "gw1");
  ASSERT_TRUE(indexer_->removeSegments("gw1", {(*loc)->segment}).isOk());
  EXPECT_TRUE(find({}).empty());
  EXPECT_FALSE(findSession(*store_, "s-alice")->has_value());
}

TEST_P(IndexTest, ReplayShowsMaskedRowsAndRawOnlyWithTheKey) {
  auto loc = findSession(*store_, "s-alice");
  ASSERT_TRUE(loc.isOk());
  std::ostringstream masked;
  auto n = renderSession(dir_.auditDir(), "s-alice", *loc, ReplayFormat::kText, nullptr, masked);
  ASSERT_TRUE(n.isOk()) << n.status().message();
  EXPECT_EQ(*n, 9u);
  std::string text = masked.str();
  EXPECT_NE(text.find("b***@example.com"), std::string::npos) << text;
  EXPECT_EQ(text.find("bob@example.com"), std::string::npos);
  EXPECT_NE(text.find("<sealed sha256:"), std::string::npos);
  EXPECT_NE(text.find("allow by rule pipeline-read"), std::string::npos);
  EXPECT_NE(text.find("+    1.000s end"), std::string::npos) << text;

  RawOpener opener;
  opener.addKey(*AeadKey::loadFile(dir_.path("keys/raw.key")));
  std::ostringstream raw;
  ASSERT_TRUE(
      renderSession(dir_.auditDir(), "s-alice", std::nullopt, ReplayFormat::kText, &opener, raw)
          .isOk());
  EXPECT_NE(raw.str().find("bob@example.com"), std::string::npos) << raw.str();
  EXPECT_NE(raw.str().find("$1 = '{41,42}'"), std::string::npos) << raw.str();

  std::ostringstream js;
  ASSERT_TRUE(
      renderSession(dir_.auditDir(), "s-alice", *loc, ReplayFormat::kJson, &opener, js).isOk());
  std::istringstream lines(js.str());
  std::string first;
  std::getline(lines, first);
  auto v = boost::json::parse(first).as_object();
  EXPECT_EQ(v["type"].as_string(), "connect");
  EXPECT_NE(js.str().find("\"rows_raw\""), std::string::npos);

  std::ostringstream none;
  EXPECT_EQ(renderSession(dir_.auditDir(), "nope", std::nullopt, ReplayFormat::kText, nullptr, none)
                .status()
                .code(),
            Code::kNotFound);
}

StatementEvent parseOf(uint64_t id, const std::string& decision) {
  StatementEvent p;
  p.statement_id = id;
  p.text = "select chunk_id, body from chunks where doc_id = $1";
  p.kind = "select";
  p.tables = {"public.chunks"};
  p.fingerprint = "fp-rag";
  p.decision = decision;
  p.protocol = "extended";
  return p;
}

StatementEvent bindOf(const StatementEvent& parse, uint64_t id, const std::string& value) {
  StatementEvent b = parse;
  b.statement_id = id;
  b.protocol = "bind";
  b.parse_id = parse.statement_id;
  b.setParams({value});
  b.param_notes = {"binary int4"};
  b.document_ids = {value};
  return b;
}

TEST_P(IndexTest, APreparedStatementIsOneRowPerExecutionCarryingItsParsesDecision) {
  StatementEvent parse = parseOf(1, "allow");
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, parse}).isOk());
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, bindOf(parse, 2, "3")}).isOk());
  ASSERT_TRUE(rec_->append(Event{"s-carol", t0_, bindOf(parse, 3, "4")}).isOk());
  // Closing hands the last records to the index before flush() waits for it.
  ASSERT_TRUE(rec_->close().isOk());
  ASSERT_TRUE(indexer_->flush().isOk());
  auto hits = find({.session = "s-carol"});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].statement_id, 3u);
  EXPECT_EQ(hits[1].statement_id, 2u);
  EXPECT_EQ(hits[1].kind, "select");
  EXPECT_EQ(hits[1].decision, "allow");
  // The WHERE clause's bound document is found without a returned id column.
  auto doc = find({.document = "3"});
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].statement_id, 2u);

  std::ostringstream out;
  ASSERT_TRUE(
      renderSession(dir_.auditDir(), "s-carol", std::nullopt, ReplayFormat::kText, nullptr, out)
          .isOk());
  EXPECT_NE(out.str().find("bind      [2] of [1] select chunk_id"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("(binary int4)"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find(" ? "), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("? allow"), std::string::npos) << out.str();
}

TEST_P(IndexTest, ARefusedParseAndItsBindAreOneRowThatStaysRefused) {
  StatementEvent parse = parseOf(1, "deny");
  ASSERT_TRUE(rec_->append(Event{"s-dave", t0_, parse}).isOk());
  ASSERT_TRUE(
      rec_->append(Event{"s-dave", t0_, ErrorEvent{1, "gateway", "ERROR", "42501", "refused"}})
          .isOk());
  ASSERT_TRUE(rec_->append(Event{"s-dave", t0_, bindOf(parse, 2, "3")}).isOk());
  // Closing hands the last records to the index before flush() waits for it.
  ASSERT_TRUE(rec_->close().isOk());
  ASSERT_TRUE(indexer_->flush().isOk());
  auto hits = find({.session = "s-dave"});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].decision, "deny");
  EXPECT_EQ(hits[0].error, "42501: refused");
  EXPECT_EQ(hits[0].text, parse.text);
}

TEST_P(IndexTest, ARefusedLoginIsFoundByTheUserNameItClaimedAndARefusedSessionByItsIdentity) {
  ConnectEvent c{"10.0.0.9:1", "kb", "postgres", "", "", "psql", "mallory"};
  ASSERT_TRUE(rec_->append(Event{"s-mallory", t0_, c}).isOk());
  ASSERT_TRUE(rec_->append(Event{"s-mallory", t0_,
                                 AuthEvent{false, "static", {}, "password authentication failed"}})
                  .isOk());
  identity::Identity eve;
  eve.subject = "sub-eve";
  ASSERT_TRUE(rec_->append(Event{"s-eve", t0_, c}).isOk());
  ASSERT_TRUE(rec_->append(Event{"s-eve", t0_,
                                 AuthEvent{false, "oidc", Principal::from(eve), "no rule allows"}})
                  .isOk());
  // Closing hands the last records to the index before flush() waits for it.
  ASSERT_TRUE(rec_->close().isOk());
  ASSERT_TRUE(indexer_->flush().isOk());
  auto login = find({.user = "mallory"});
  ASSERT_EQ(login.size(), 1u);
  EXPECT_EQ(login[0].kind, "login");
  EXPECT_EQ(login[0].decision, "deny");
  EXPECT_EQ(login[0].text, "login refused: password authentication failed");
  EXPECT_EQ(login[0].db_user, "mallory");
  auto session = find({.user = "sub-eve"});
  ASSERT_EQ(session.size(), 1u);
  EXPECT_EQ(session[0].kind, "session");
  // A claimed name never stands for an authenticated identity.
  EXPECT_TRUE(find({.user = "pipeline"}).empty());
}

TEST_P(IndexTest, TableNamesResolveAsPolicyResolvesThem) {
  EXPECT_EQ(find({.table = "chunks"}).size(), 4u);
  EXPECT_EQ(find({.table = "public.*"}).size(), 4u);
  EXPECT_EQ(find({.table = "public.chunks"}).size(), 4u);
  EXPECT_TRUE(find({.table = "crm.*"}).empty());
  EXPECT_TRUE(find({.table = "hunks"}).empty());
  EXPECT_TRUE(find({.table = "c%"}).empty());
}

TEST_P(IndexTest, ReplayOfOneStatementShowsOnlyItsRecords) {
  std::ostringstream out;
  auto n =
      renderSession(dir_.auditDir(), "s-alice", std::nullopt, ReplayFormat::kText, nullptr, out, 2);
  ASSERT_TRUE(n.isOk());
  EXPECT_NE(out.str().find("statement [2] DELETE"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("[1]"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("connect"), std::string::npos) << out.str();
  std::ostringstream none;
  EXPECT_EQ(renderSession(dir_.auditDir(), "s-alice", std::nullopt, ReplayFormat::kText, nullptr,
                          none, 99)
                .status()
                .code(),
            Code::kNotFound);
}

TEST_P(IndexTest, ReindexReportsProgressAfterEverySegment) {
  std::vector<Progress> seen;
  auto n = reindex(dir_.auditDir(), *store_, [&](const Progress& p) { seen.push_back(p); });
  ASSERT_TRUE(n.isOk());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().segments_done, seen.back().segments_total);
  EXPECT_EQ(seen.back().records, *n);
}

// Every test runs on SQLite and on PostgreSQL (skipped where PostgreSQL cannot run).
INSTANTIATE_TEST_SUITE_P(Backends, IndexTest,
                         ::testing::Values(store::testing::Backend::kSqlite,
                                           store::testing::Backend::kPostgres),
                         [](const auto& info) { return store::testing::backendName(info.param); });

}  // namespace
}  // namespace jg::audit
