#include "proto/pg/tracker.h"

#include <gtest/gtest.h>

#include "proto/pg/encode.h"
#include "proto/pg/framer.h"

namespace jg::pg {
namespace {

// Feeds every message in `bytes` to the tracker in the given direction; returns the first error.
Status feed(Tracker& t, const std::string& bytes, bool frontend) {
  std::string_view rest(bytes);
  while (!rest.empty()) {
    Frame f;
    std::string err;
    if (nextFrame(rest, 1 << 20, f, err) != FrameStatus::kReady) {
      return protocolError("bad frame in test: " + err);
    }
    Status s = frontend ? t.onFrontend(f.type, f.payload) : t.onBackend(f.type, f.payload);
    if (!s) {
      return s;
    }
    rest.remove_prefix(f.size);
  }
  return Status::ok();
}

std::string rowDescription(std::vector<std::pair<std::string, uint32_t>> cols) {
  RowDescription rd;
  for (auto& [name, oid] : cols) {
    rd.fields.push_back(FieldDescription{name, 16384, 1, oid, -1, -1, 0});
  }
  std::string out;
  encodeRowDescription(out, rd);
  return out;
}

std::string empty(char type) {
  std::string out;
  encodeEmpty(out, type);
  return out;
}

TEST(Tracker, SimpleQueryTiesRowsToRowDescription) {
  Tracker t;
  std::string q;
  encodeQuery(q, "select email from customers");
  ASSERT_TRUE(feed(t, q, true));
  ASSERT_TRUE(feed(t, rowDescription({{"email", 25}}), false));
  std::string row;
  encodeDataRow(row, {{"a@b.c", false}});
  ASSERT_TRUE(feed(t, row, false));
  ASSERT_TRUE(t.currentColumns());
  EXPECT_EQ(t.currentColumns()->at(0).name, "email");
  std::string done;
  encodeCommandComplete(done, "SELECT 1");
  encodeReadyForQuery(done, 'I');
  ASSERT_TRUE(feed(t, done, false));
  EXPECT_FALSE(t.busy());
}

TEST(Tracker, PipelinedExtendedQueryUsesPortalFormats) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"s1", "select id, body from chunks where id = $1", {23}});
  encodeDescribe(fe, Describe{'S', "s1"});
  encodeBind(fe, Bind{"p1", "s1", {1}, {{std::string_view("\0\0\0\1", 4), false}}, {1}});
  encodeExecute(fe, Execute{"p1", 0});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  EXPECT_EQ(t.pendingCount(), 5u);

  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeParameterDescription(be, ParameterDescription{{23}});
  be += rowDescription({{"id", 23}, {"body", 25}});
  encodeEmpty(be, be::kBindComplete);
  ASSERT_TRUE(feed(t, be, false));
  const Portal* p = t.portal("p1");
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->columns);
  EXPECT_EQ(p->columns->at(1).format, 1);  // binary, from Bind
  EXPECT_EQ(t.statement("s1")->columns->at(1).format, 0);

  std::string rows;
  encodeDataRow(rows, {{std::string_view("\0\0\0\1", 4), false}, {"text", false}});
  ASSERT_TRUE(feed(t, rows, false));
  ASSERT_TRUE(t.currentColumns());
  EXPECT_EQ(t.currentColumns()->at(1).name, "body");
  std::string end;
  encodeCommandComplete(end, "SELECT 1");
  encodeReadyForQuery(end, 'I');
  ASSERT_TRUE(feed(t, end, false));
  EXPECT_FALSE(t.busy());
  EXPECT_EQ(t.portal("p1"), nullptr);  // portals end with the transaction
  EXPECT_NE(t.statement("s1"), nullptr);
}

TEST(Tracker, ParameterTypesComeFromTheParseThenFromTheServersDescription) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"s1", "select $1, $2", {23, 0}});
  encodeDescribe(fe, Describe{'S', "s1"});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  EXPECT_EQ(t.statementParamTypes("s1"), (std::vector<uint32_t>{23, 0}));  // pending Parse
  EXPECT_TRUE(t.statementParamTypes("nope").empty());
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeParameterDescription(be, ParameterDescription{{23, 25}});
  ASSERT_TRUE(feed(t, be, false));
  EXPECT_EQ(t.statementParamTypes("s1"), (std::vector<uint32_t>{23, 25}));
}

TEST(Tracker, ErrorInExtendedModeSkipsToSync) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"bad", "selec 1", {}});
  encodeBind(fe, Bind{"", "bad", {}, {}, {}});
  encodeExecute(fe, Execute{"", 0});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  std::string be;
  encodeError(be, "ERROR", "42601", "syntax error");
  encodeReadyForQuery(be, 'I');
  ASSERT_TRUE(feed(t, be, false));
  EXPECT_FALSE(t.busy());
  EXPECT_EQ(t.statement("bad"), nullptr);
}

TEST(Tracker, PortalSuspendedThenResume) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"", "select 1", {}});
  encodeBind(fe, Bind{"c", "", {}, {}, {}});
  encodeDescribe(fe, Describe{'P', "c"});
  encodeExecute(fe, Execute{"c", 1});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeEmpty(be, be::kBindComplete);
  be += rowDescription({{"x", 23}});
  encodeDataRow(be, {{"1", false}});
  encodeEmpty(be, be::kPortalSuspended);
  encodeReadyForQuery(be, 'T');
  ASSERT_TRUE(feed(t, be, false));
  EXPECT_NE(t.portal("c"), nullptr);  // still open inside the transaction
  std::string fe2;
  encodeExecute(fe2, Execute{"c", 1});
  fe2 += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe2, true));
  std::string be2;
  encodeDataRow(be2, {{"2", false}});
  ASSERT_TRUE(feed(t, be2, false));
  ASSERT_TRUE(t.currentColumns());
  EXPECT_EQ(t.currentColumns()->at(0).name, "x");
}

std::string dataRow(std::string_view v) {
  std::string row;
  encodeDataRow(row, {{v, false}});
  return row;
}

TEST(Tracker, RowLimitOfAQueryAppliesToEachOfItsResults) {
  Tracker t;
  std::string q;
  encodeQuery(q, "select 1; select 2");
  ASSERT_TRUE(feed(t, q, true));
  t.limitLastRows(2, "rule r1");
  ASSERT_TRUE(feed(t, rowDescription({{"x", 23}}), false));
  ASSERT_TRUE(feed(t, dataRow("1") + dataRow("2"), false));
  EXPECT_FALSE(t.rowLimitExceeded());
  ASSERT_TRUE(feed(t, dataRow("3"), false));
  EXPECT_TRUE(t.rowLimitExceeded());
  EXPECT_EQ(t.currentRowLimit(), 2);
  EXPECT_EQ(t.currentRowLimitBy(), "rule r1");
  std::string done;
  encodeCommandComplete(done, "SELECT 3");
  ASSERT_TRUE(feed(t, done + rowDescription({{"y", 23}}) + dataRow("1"), false));
  EXPECT_FALSE(t.rowLimitExceeded());
  std::string end;
  encodeCommandComplete(end, "SELECT 1");
  encodeReadyForQuery(end, 'I');
  ASSERT_TRUE(feed(t, end, false));
  // The next query has no limit.
  ASSERT_TRUE(feed(t, q, true));
  ASSERT_TRUE(
      feed(t, rowDescription({{"x", 23}}) + dataRow("1") + dataRow("2") + dataRow("3"), false));
  EXPECT_FALSE(t.rowLimitExceeded());
}

// A limited statement's portal counts rows over all its Executes: fetching in pieces does not
// reset the count.
TEST(Tracker, RowLimitOfAStatementCountsOverEveryExecuteOfAPortal) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"s", "select x from t", {}});
  ASSERT_TRUE(feed(t, fe, true));
  t.limitLastRows(2, "rule r2");
  std::string fe2;
  encodeBind(fe2, Bind{"c", "s", {}, {}, {}});
  encodeDescribe(fe2, Describe{'P', "c"});
  encodeExecute(fe2, Execute{"c", 1});
  fe2 += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe2, true));
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeEmpty(be, be::kBindComplete);
  be += rowDescription({{"x", 23}});
  be += dataRow("1");
  ASSERT_TRUE(feed(t, be, false));
  EXPECT_FALSE(t.rowLimitExceeded());
  std::string suspended;
  encodeEmpty(suspended, be::kPortalSuspended);
  encodeReadyForQuery(suspended, 'T');
  for (int i = 2; i <= 3; ++i) {
    ASSERT_TRUE(feed(t, suspended, false));
    std::string more;
    encodeExecute(more, Execute{"c", 1});
    more += empty(fe::kSync);
    ASSERT_TRUE(feed(t, more, true));
    ASSERT_TRUE(feed(t, dataRow(std::to_string(i)), false));
    EXPECT_EQ(t.rowLimitExceeded(), i == 3) << "row " << i;
  }
  // Another portal of the same statement starts from zero.
  ASSERT_TRUE(feed(t, suspended, false));
  std::string other;
  encodeBind(other, Bind{"d", "s", {}, {}, {}});
  encodeDescribe(other, Describe{'P', "d"});
  encodeExecute(other, Execute{"d", 0});
  other += empty(fe::kSync);
  ASSERT_TRUE(feed(t, other, true));
  std::string be2;
  encodeEmpty(be2, be::kBindComplete);
  be2 += rowDescription({{"x", 23}});
  be2 += dataRow("1");
  ASSERT_TRUE(feed(t, be2, false));
  EXPECT_FALSE(t.rowLimitExceeded());
}

TEST(Tracker, CloseRemovesStatement) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"s", "select 1", {}});
  encodeClose(fe, Close{'S', "s"});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  ASSERT_TRUE(feed(t, be, false));
  EXPECT_NE(t.statement("s"), nullptr);
  std::string be2;
  encodeEmpty(be2, be::kCloseComplete);
  encodeReadyForQuery(be2, 'I');
  ASSERT_TRUE(feed(t, be2, false));
  EXPECT_EQ(t.statement("s"), nullptr);
}

TEST(Tracker, CopyOutAndCopyIn) {
  Tracker t;
  std::string q;
  encodeQuery(q, "copy t to stdout");
  ASSERT_TRUE(feed(t, q, true));
  std::string be;
  encodeCopyResponse(be, be::kCopyOutResponse, CopyResponse{0, {0}});
  encodeCopyData(be, "1\n");
  encodeEmpty(be, be::kCopyDone);
  encodeCommandComplete(be, "COPY 1");
  encodeReadyForQuery(be, 'I');
  ASSERT_TRUE(feed(t, be, false));

  std::string q2;
  encodeQuery(q2, "copy t from stdin");
  ASSERT_TRUE(feed(t, q2, true));
  std::string g;
  encodeCopyResponse(g, be::kCopyInResponse, CopyResponse{0, {0}});
  ASSERT_TRUE(feed(t, g, false));
  EXPECT_TRUE(t.inCopyIn());
  std::string data;
  encodeCopyData(data, "2\n");
  data += empty(fe::kCopyDone);
  ASSERT_TRUE(feed(t, data, true));
  std::string end;
  encodeCommandComplete(end, "COPY 1");
  encodeReadyForQuery(end, 'I');
  ASSERT_TRUE(feed(t, end, false));
  EXPECT_FALSE(t.inCopyIn());
}

TEST(Tracker, RejectsUnknownAndOutOfOrderMessages) {
  Tracker t;
  EXPECT_FALSE(t.onFrontend('z', ""));
  EXPECT_FALSE(t.onFrontend(fe::kPassword, std::string_view("x\0", 2)));
  EXPECT_EQ(t.onBackend(be::kBindComplete, "").code(), Code::kProtocol);
  EXPECT_FALSE(t.onBackend(be::kDataRow, std::string_view("\0\0", 2)));
  EXPECT_FALSE(t.onBackend(be::kReadyForQuery, "I"));
  EXPECT_FALSE(t.onBackend(be::kAuthentication, std::string_view("\0\0\0\0", 4)));
  EXPECT_FALSE(t.onBackend(be::kCopyData, "x"));
}

TEST(Tracker, DataRowBeforeRowDescriptionIsAnError) {
  Tracker t;
  std::string q;
  encodeQuery(q, "select 1");
  ASSERT_TRUE(feed(t, q, true));
  std::string row;
  encodeDataRow(row, {{"1", false}});
  EXPECT_FALSE(feed(t, row, false));
}

TEST(Tracker, PendingQueueIsBounded) {
  Tracker t(TrackerLimits{10, 10, 3});
  std::string sync = empty(fe::kSync);
  EXPECT_TRUE(feed(t, sync + sync + sync, true));
  EXPECT_EQ(feed(t, sync, true).code(), Code::kResourceExhausted);
}

std::string parseMsg(std::string_view name, std::string_view sql) {
  std::string out;
  encodeParse(out, Parse{name, sql, {}});
  return out;
}

std::string bindMsg(std::string_view portal, std::string_view statement) {
  Bind b;
  b.portal = portal;
  b.statement = statement;
  std::string out;
  encodeBind(out, b);
  return out;
}

std::string closeMsg(char target, std::string_view name) {
  std::string out;
  encodeClose(out, Close{target, name});
  return out;
}

std::vector<std::string> sqlsOf(const Tracker& t, std::string_view portal) {
  std::vector<SqlText> sqls;
  t.portalSqls(portal, sqls);
  std::vector<std::string> out;
  for (const auto& s : sqls) {
    out.push_back(*s);
  }
  return out;
}

TEST(Tracker, PipelinedExecuteKnowsTheStatementItsPortalWillRun) {
  Tracker t;
  ASSERT_TRUE(feed(t, parseMsg("s", "select 1") + bindMsg("p", "s"), true));
  EXPECT_EQ(*t.statementSql("s"), "select 1");
  EXPECT_EQ(sqlsOf(t, "p"), std::vector<std::string>{"select 1"});
  EXPECT_TRUE(sqlsOf(t, "other").empty());
  EXPECT_EQ(t.statementSql("other"), nullptr);
  ASSERT_TRUE(feed(t, empty(be::kParseComplete) + empty(be::kBindComplete), false));
  EXPECT_EQ(sqlsOf(t, "p"), std::vector<std::string>{"select 1"});  // now held by the server
}

TEST(Tracker, ParseOfANamedStatementInUseMayFailSoBothTextsAreCandidates) {
  Tracker t;
  ASSERT_TRUE(feed(t, parseMsg("s", "select secret") + empty(fe::kSync), true));
  std::string ready;
  encodeReadyForQuery(ready, 'I');
  ASSERT_TRUE(feed(t, empty(be::kParseComplete) + ready, false));
  ASSERT_TRUE(feed(t, parseMsg("s", "select 1") + bindMsg("", "s"), true));
  auto sqls = sqlsOf(t, "");
  EXPECT_EQ(sqls, (std::vector<std::string>{"select 1", "select secret"}));
}

TEST(Tracker, NewUnnamedStatementReplacesTheOldOne) {
  Tracker t;
  ASSERT_TRUE(feed(t, parseMsg("", "select old"), true));
  ASSERT_TRUE(feed(t, empty(be::kParseComplete), false));
  ASSERT_TRUE(feed(t, parseMsg("", "select new") + bindMsg("", ""), true));
  EXPECT_EQ(sqlsOf(t, ""), std::vector<std::string>{"select new"});
}

TEST(Tracker, FloodOfOtherNamesNeverForgetsAStatement) {
  Tracker t(TrackerLimits{100, 100, 100000});
  ASSERT_TRUE(feed(t, parseMsg("keep", "select kept"), true));
  ASSERT_TRUE(feed(t, empty(be::kParseComplete), false));
  for (int i = 0; i < 10001; ++i) {
    std::string name = "n" + std::to_string(i);
    ASSERT_FALSE(t.statementsFull(name));
    ASSERT_TRUE(feed(t, parseMsg(name, "select 1") + closeMsg('S', name), true));
    ASSERT_TRUE(feed(t, empty(be::kParseComplete) + empty(be::kCloseComplete), false));
  }
  EXPECT_EQ(*t.statementSql("keep"), "select kept");
  ASSERT_TRUE(feed(t, bindMsg("", "keep"), true));
  EXPECT_EQ(sqlsOf(t, ""), std::vector<std::string>{"select kept"});
}

TEST(Tracker, LimitsCountPendingAndHeldNames) {
  Tracker t(TrackerLimits{2, 1, 100000});
  ASSERT_TRUE(feed(t, parseMsg("a", "select 1"), true));
  ASSERT_TRUE(feed(t, empty(be::kParseComplete), false));
  ASSERT_TRUE(feed(t, parseMsg("b", "select 2"), true));  // pending
  EXPECT_TRUE(t.statementsFull("c"));
  EXPECT_FALSE(t.statementsFull(""));  // the unnamed statement is always allowed
  ASSERT_TRUE(feed(t, bindMsg("p", "a"), true));
  EXPECT_TRUE(t.portalsFull("q"));
}

TEST(Tracker, TheUnnamedStatementAndPortalDoNotCountTowardsTheLimits) {
  Tracker t(TrackerLimits{1, 1, 100000});
  ASSERT_TRUE(feed(t, parseMsg("", "select 1") + bindMsg("", ""), true));
  ASSERT_TRUE(feed(t, empty(be::kParseComplete) + empty(be::kBindComplete), false));
  EXPECT_FALSE(t.statementsFull("a"));
  EXPECT_FALSE(t.portalsFull("p"));
  ASSERT_TRUE(feed(t, parseMsg("a", "select 2") + bindMsg("p", "a"), true));
  ASSERT_TRUE(feed(t, empty(be::kParseComplete) + empty(be::kBindComplete), false));
  EXPECT_TRUE(t.statementsFull("b"));
  EXPECT_TRUE(t.portalsFull("q"));
}

TEST(Tracker, PortalTagComesFromItsBind) {
  Tracker t;
  ASSERT_TRUE(feed(t, parseMsg("s", "select 1") + bindMsg("p", "s"), true));
  t.tagLast(42);
  EXPECT_EQ(t.portalTag("p"), 42u);
  ASSERT_TRUE(feed(t, empty(be::kParseComplete) + empty(be::kBindComplete), false));
  EXPECT_EQ(t.portalTag("p"), 42u);
  EXPECT_EQ(t.portalTag("other"), 0u);
}

TEST(Tracker, ParameterCountsAboveInt16AreAccepted) {
  Parse p{"", "select 1", std::vector<uint32_t>(40000, 23)};
  std::string out;
  encodeParse(out, p);
  Tracker t;
  EXPECT_TRUE(feed(t, out, true));
}

// A RowDescription answering Describe('P') of a portal with binary result formats.
std::string binaryRowDescription(std::vector<std::pair<std::string, uint32_t>> cols) {
  RowDescription rd;
  for (auto& [name, oid] : cols) {
    rd.fields.push_back(FieldDescription{name, 16384, 1, oid, -1, -1, 1});
  }
  std::string out;
  encodeRowDescription(out, rd);
  return out;
}

// pgjdbc from the prepareThreshold-th execution on: the named statement is prepared with its
// portal described once, then bound and executed without any Describe.
TEST(Tracker, APortalDescribeTeachesItsStatementTheColumnsForLaterBindsWithoutDescribe) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"S_1", "select id, email from customers where id = $1", {23}});
  encodeBind(fe, Bind{"", "S_1", {1}, {{std::string_view("\0\0\0\1", 4), false}}, {1}});
  encodeDescribe(fe, Describe{'P', ""});
  encodeExecute(fe, Execute{"", 0});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeEmpty(be, be::kBindComplete);
  be += binaryRowDescription({{"id", 23}, {"email", 25}});
  encodeCommandComplete(be, "SELECT 0");
  encodeReadyForQuery(be, 'I');
  ASSERT_TRUE(feed(t, be, false));
  const PreparedStatement* st = t.statement("S_1");
  ASSERT_NE(st, nullptr);
  ASSERT_TRUE(st->described);
  ASSERT_TRUE(st->columns);
  EXPECT_EQ(st->columns->at(1).format, 0);  // the statement's columns are format-neutral

  std::string again;
  encodeBind(again, Bind{"", "S_1", {1}, {{std::string_view("\0\0\0\2", 4), false}}, {1}});
  EXPECT_TRUE(t.portalDescribedForExecute(""));
  encodeExecute(again, Execute{"", 0});
  again += empty(fe::kSync);
  ASSERT_TRUE(feed(t, again, true));
  std::string rows;
  encodeEmpty(rows, be::kBindComplete);
  encodeDataRow(rows, {{std::string_view("\0\0\0\2", 4), false}, {"a@b.c", false}});
  ASSERT_TRUE(feed(t, rows, false));
  ASSERT_TRUE(t.currentColumns());
  EXPECT_EQ(t.currentColumns()->at(1).name, "email");
  EXPECT_EQ(t.currentColumns()->at(1).format, 1);  // the Bind's format
}

// libpq describes the portal of every PQexecPrepared: the same fields again keep the same
// columns (and so the masking plans cached for them); other fields get new ones.
TEST(Tracker, APortalDescribedAgainWithTheSameFieldsKeepsItsColumns) {
  // Runs Bind/Describe/Execute/Sync (after a Parse when `sql` is given) and returns the
  // portal's columns as the RowDescription left them.
  auto execute = [](Tracker& t, std::string_view sql,
                    std::vector<std::pair<std::string, uint32_t>> fields) {
    std::string fe;
    if (!sql.empty()) {
      encodeParse(fe, Parse{"s", sql, {}});
    }
    encodeBind(fe, Bind{"", "s", {}, {}, {}});
    encodeDescribe(fe, Describe{'P', ""});
    encodeExecute(fe, Execute{"", 0});
    fe += empty(fe::kSync);
    EXPECT_TRUE(feed(t, fe, true));
    std::string be;
    if (!sql.empty()) {
      encodeEmpty(be, be::kParseComplete);
    }
    encodeEmpty(be, be::kBindComplete);
    be += rowDescription(std::move(fields));
    EXPECT_TRUE(feed(t, be, false));
    const Portal* p = t.portal("");
    ColumnsPtr cols = p != nullptr ? p->columns : nullptr;
    EXPECT_EQ(t.describedColumns().get(), cols.get());  // what the masker plans for
    std::string end;
    encodeCommandComplete(end, "SELECT 0");
    encodeReadyForQuery(end, 'I');
    EXPECT_TRUE(feed(t, end, false));
    return cols;
  };
  Tracker t;
  ColumnsPtr first = execute(t, "select email from docs", {{"email", 25}});
  ASSERT_TRUE(first);
  EXPECT_EQ(execute(t, "", {{"email", 25}}).get(), first.get());
  ColumnsPtr other = execute(t, "", {{"email", 1043}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->at(0).type_oid, 1043u);  // other fields: new columns, not the kept ones
  EXPECT_EQ(first->at(0).type_oid, 25u);
}

TEST(Tracker, AnUnnamedStatementParsedAgainIsNotTaughtByAPortalOfTheOldOne) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"", "select 1", {}});
  encodeBind(fe, Bind{"p", "", {}, {}, {}});
  encodeParse(fe, Parse{"", "select 'x', 'y'", {}});
  encodeDescribe(fe, Describe{'P', "p"});
  fe += empty(fe::kSync);
  ASSERT_TRUE(feed(t, fe, true));
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeEmpty(be, be::kBindComplete);
  encodeEmpty(be, be::kParseComplete);
  be += rowDescription({{"one", 23}});
  ASSERT_TRUE(feed(t, be, false));
  ASSERT_NE(t.statement(""), nullptr);
  EXPECT_FALSE(t.statement("")->described);
  ASSERT_NE(t.portal("p"), nullptr);
  EXPECT_TRUE(t.portal("p")->described);
}

TEST(Tracker, AnExecuteOfAPortalNeverDescribedIsToldApart) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"s", "select email from customers", {}});
  encodeBind(fe, Bind{"p", "s", {}, {}, {}});
  ASSERT_TRUE(feed(t, fe, true));
  EXPECT_FALSE(t.portalDescribedForExecute("p"));
  std::string d;
  encodeDescribe(d, Describe{'P', "p"});
  ASSERT_TRUE(feed(t, d, true));
  EXPECT_TRUE(t.portalDescribedForExecute("p"));
  // A new Bind of the portal after the Describe needs its own.
  std::string rebind;
  encodeBind(rebind, Bind{"p", "s", {}, {}, {}});
  ASSERT_TRUE(feed(t, rebind, true));
  EXPECT_FALSE(t.portalDescribedForExecute("p"));
  // A statement described before its Bind describes the portal too.
  std::string other;
  encodeParse(other, Parse{"s2", "select 1", {}});
  encodeDescribe(other, Describe{'S', "s2"});
  encodeBind(other, Bind{"q", "s2", {}, {}, {}});
  ASSERT_TRUE(feed(t, other, true));
  EXPECT_TRUE(t.portalDescribedForExecute("q"));
  EXPECT_TRUE(t.portalDescribedForExecute("unknown"));
}

TEST(Tracker, AnInjectedDescribeIsTheFrontUntilItsAnswerAndTeachesThePortal) {
  Tracker t;
  std::string fe;
  encodeParse(fe, Parse{"s", "select email from customers", {}});
  encodeBind(fe, Bind{"", "s", {}, {}, {}});
  ASSERT_TRUE(feed(t, fe, true));
  std::string d;
  encodeDescribe(d, Describe{'P', ""});
  ASSERT_TRUE(feed(t, d, true));
  t.markLastInjected();
  std::string ex;
  encodeExecute(ex, Execute{"", 0});
  ex += empty(fe::kSync);
  ASSERT_TRUE(feed(t, ex, true));
  std::string be;
  encodeEmpty(be, be::kParseComplete);
  encodeEmpty(be, be::kBindComplete);
  ASSERT_TRUE(feed(t, be, false));
  EXPECT_TRUE(t.frontInjected());
  ASSERT_TRUE(feed(t, rowDescription({{"email", 25}}), false));
  EXPECT_FALSE(t.frontInjected());
  std::string row;
  encodeDataRow(row, {{"a@b.c", false}});
  ASSERT_TRUE(feed(t, row, false));
  ASSERT_TRUE(t.currentColumns());
  EXPECT_EQ(t.currentColumns()->at(0).name, "email");
}

}  // namespace
}  // namespace jg::pg
