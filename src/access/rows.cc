#include "access/rows.h"

#include <boost/json.hpp>

namespace jg::access::rows {
namespace {

namespace json = boost::json;
using store::Row;
using store::Value;

const std::vector<store::Migration> kMigrations = {
    {1,
     "reviews, decisions and grants",
     {"CREATE TABLE access_reviews ("
      " id TEXT PRIMARY KEY, scope TEXT NOT NULL, state TEXT NOT NULL,"
      " request_key TEXT NOT NULL,"
      " requester_issuer TEXT NOT NULL, requester_subject TEXT NOT NULL,"
      " requester_email TEXT NOT NULL, requester_name TEXT NOT NULL,"
      " requester_groups TEXT NOT NULL,"
      " resource TEXT NOT NULL, role TEXT NOT NULL, rule_id TEXT NOT NULL, reason TEXT NOT NULL,"
      " statement_text TEXT NOT NULL, fingerprint TEXT NOT NULL, params_hash TEXT NOT NULL,"
      " session_id TEXT NOT NULL, approver_groups TEXT NOT NULL,"
      " approver_count INTEGER NOT NULL, grant_seconds INTEGER NOT NULL, mode TEXT NOT NULL,"
      " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, decided_at BIGINT,"
      " valid_until BIGINT, consumed_at BIGINT, grant_id TEXT)",
      "CREATE UNIQUE INDEX access_reviews_one_pending ON access_reviews(request_key)"
      " WHERE state = 'pending'",
      "CREATE INDEX access_reviews_by_state ON access_reviews(state, expires_at)",
      "CREATE INDEX access_reviews_by_requester ON access_reviews(requester_subject, created_at)",
      "CREATE INDEX access_reviews_statement ON access_reviews(requester_subject, fingerprint)"
      " WHERE scope = 'statement' AND state = 'approved' AND consumed_at IS NULL",
      "CREATE TABLE access_decisions ("
      " review_id TEXT NOT NULL REFERENCES access_reviews(id),"
      " approver_issuer TEXT NOT NULL, approver_subject TEXT NOT NULL,"
      " approver_email TEXT NOT NULL, approver_name TEXT NOT NULL,"
      " verdict TEXT NOT NULL, comment TEXT NOT NULL, decided_at BIGINT NOT NULL,"
      " PRIMARY KEY (review_id, approver_issuer, approver_subject))",
      "CREATE TABLE access_grants ("
      " id TEXT PRIMARY KEY, review_id TEXT NOT NULL REFERENCES access_reviews(id),"
      " state TEXT NOT NULL, grantee_issuer TEXT NOT NULL, grantee_subject TEXT NOT NULL,"
      " grantee_email TEXT NOT NULL, grantee_name TEXT NOT NULL,"
      " resource TEXT NOT NULL, role TEXT NOT NULL, rule_id TEXT NOT NULL,"
      " approver_groups TEXT NOT NULL, starts_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
      " ended_at BIGINT, ended_by TEXT NOT NULL, end_reason TEXT NOT NULL)",
      "CREATE INDEX access_grants_by_grantee ON access_grants(grantee_subject, resource, state)",
      "CREATE INDEX access_grants_by_state ON access_grants(state, expires_at)"}},
    {2,
     "reviews: the requester's client address and application name",
     {"ALTER TABLE access_reviews ADD COLUMN client_addr TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE access_reviews ADD COLUMN client_application TEXT NOT NULL DEFAULT ''"}},
};

}  // namespace

const std::vector<store::Migration>& migrations() {
  return kMigrations;
}

const std::string_view kReviewCols =
    "id, scope, state, requester_issuer, requester_subject, requester_email, requester_name,"
    " requester_groups, resource, role, rule_id, reason, statement_text, fingerprint,"
    " params_hash, session_id, approver_groups, approver_count, grant_seconds, mode,"
    " created_at, expires_at, decided_at, valid_until, consumed_at, grant_id, client_addr,"
    " client_application";
const std::string_view kGrantCols =
    "id, review_id, state, grantee_issuer, grantee_subject, grantee_email, grantee_name,"
    " resource, role, rule_id, approver_groups, starts_at, expires_at, ended_at, ended_by,"
    " end_reason";

Value ms(TimePoint t) {
  if (t == TimePoint{}) {
    return std::monostate{};
  }
  return int64_t{
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()};
}

TimePoint fromMs(const Value& v) {
  return store::isNull(v) ? TimePoint{} : TimePoint(std::chrono::milliseconds(store::asInt(v)));
}

std::string toJson(const std::vector<std::string>& items) {
  return json::serialize(json::array(items.begin(), items.end()));
}

std::vector<std::string> fromJson(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_array()) {
    for (const auto& item : v.get_array()) {
      if (item.is_string()) {
        out.emplace_back(item.get_string());
      }
    }
  }
  return out;
}

std::string col(const Row& r, size_t i) {
  return store::asString(r[i]);
}

Review reviewFromRow(const Row& r) {
  Review v;
  v.id = col(r, 0);
  v.scope = col(r, 1) == "statement" ? Scope::kStatement : Scope::kSession;
  v.state = parseReviewState(col(r, 2)).value_or(ReviewState::kExpired);
  v.requester = Person{col(r, 3), col(r, 4), col(r, 5), col(r, 6), fromJson(col(r, 7))};
  v.resource = col(r, 8);
  v.role = col(r, 9);
  v.rule_id = col(r, 10);
  v.reason = col(r, 11);
  v.statement_text = col(r, 12);
  v.fingerprint = col(r, 13);
  v.params_hash = col(r, 14);
  v.session_id = col(r, 15);
  v.approver_groups = fromJson(col(r, 16));
  v.approver_count = static_cast<int>(store::asInt(r[17]));
  v.grant_duration = std::chrono::seconds(store::asInt(r[18]));
  v.mode = col(r, 19) == "fail_fast" ? policy::ReviewSpec::Mode::kFailFast
                                     : policy::ReviewSpec::Mode::kWait;
  v.created_at = fromMs(r[20]);
  v.expires_at = fromMs(r[21]);
  v.decided_at = fromMs(r[22]);
  v.valid_until = fromMs(r[23]);
  v.consumed_at = fromMs(r[24]);
  v.grant_id = col(r, 25);
  v.client = ClientInfo{col(r, 26), col(r, 27)};
  return v;
}

Grant grantFromRow(const Row& r) {
  Grant g;
  g.id = col(r, 0);
  g.review_id = col(r, 1);
  g.state = parseGrantState(col(r, 2)).value_or(GrantState::kExpired);
  g.grantee = Person{col(r, 3), col(r, 4), col(r, 5), col(r, 6), {}};
  g.resource = col(r, 7);
  g.role = col(r, 8);
  g.rule_id = col(r, 9);
  g.approver_groups = fromJson(col(r, 10));
  g.starts_at = fromMs(r[11]);
  g.expires_at = fromMs(r[12]);
  g.ended_at = fromMs(r[13]);
  g.ended_by = col(r, 14);
  g.end_reason = col(r, 15);
  return g;
}

}  // namespace jg::access::rows
