#include "access/repository.h"

#include "access/rows.h"
#include "core/clock.h"
#include "core/random.h"
#include "identity/digest.h"

namespace jg::access {
namespace {

using store::Row;
using store::Value;
using namespace rows;

// Reads through a Tx or the Store (both have query(sql, params, on_row)).
template <typename Q>
Status loadDecisions(Q& q, Review& r) {
  return q.query(
      "SELECT approver_issuer, approver_subject, approver_email, approver_name, verdict, "
      "comment, decided_at FROM access_decisions WHERE review_id = ? ORDER BY decided_at",
      {r.id}, [&](const Row& row) {
        r.decisions.push_back(
            ReviewDecision{Person{col(row, 0), col(row, 1), col(row, 2), col(row, 3), {}},
                           col(row, 4) == "approve", col(row, 5), fromMs(row[6])});
        return true;
      });
}

template <typename Q>
Result<std::vector<Review>> queryReviews(Q& q, const std::string& where,
                                         const std::vector<Value>& params) {
  std::vector<Review> out;
  Status st = q.query("SELECT " + std::string(kReviewCols) + " FROM access_reviews " + where,
                      params, [&](const Row& row) {
                        out.push_back(reviewFromRow(row));
                        return true;
                      });
  for (auto& r : out) {
    if (st) {
      st = loadDecisions(q, r);
    }
  }
  if (!st) {
    return st;
  }
  return out;
}

template <typename Q>
Result<std::vector<Grant>> queryGrants(Q& q, const std::string& where,
                                       const std::vector<Value>& params) {
  std::vector<Grant> out;
  Status st = q.query("SELECT " + std::string(kGrantCols) + " FROM access_grants " + where, params,
                      [&](const Row& row) {
                        out.push_back(grantFromRow(row));
                        return true;
                      });
  if (!st) {
    return st;
  }
  return out;
}

template <typename T>
Result<std::optional<T>> first(Result<std::vector<T>> rows) {
  if (!rows) {
    return rows.status();
  }
  if (rows->empty()) {
    return std::optional<T>();
  }
  return std::optional<T>(std::move(rows->front()));
}

bool inAnyGroup(const Person& p, const std::vector<std::string>& groups) {
  for (const auto& g : groups) {
    for (const auto& mine : p.groups) {
      if (g == mine) {
        return true;
      }
    }
  }
  return false;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : ", ") + i;
  }
  return out;
}

// Publishes one event per moved review or grant (after every other write of the transaction).
template <typename T>
Status publishAll(store::Tx& tx, std::string_view kind, const std::vector<T>& moved) {
  for (const auto& item : moved) {
    if (Status s = tx.publish(kind, item.id); !s) {
      return s;
    }
  }
  return Status::ok();
}

}  // namespace

Status conflict(std::string message) {
  return Status::error(Code::kInvalidArgument, std::move(message), std::string(kConflictState));
}

bool isConflict(const Status& s) {
  return !s.isOk() && s.sqlstate() == kConflictState;
}

std::string requestKey(const Review& r) {
  std::string key;
  for (const std::string* part : {&r.requester.issuer, &r.requester.subject, &r.resource, &r.role,
                                  &r.rule_id, &r.fingerprint, &r.params_hash}) {
    key += *part;
    key += '\x1f';
  }
  key += scopeName(r.scope);
  return toHex(identity::sha256(key));
}

Result<std::unique_ptr<Repository>> Repository::open(store::Store& store) {
  if (Status st = store.migrate("access", migrations()); !st) {
    return st;
  }
  return std::unique_ptr<Repository>(new Repository(store));
}

std::string Repository::lockClause() const {
  return store_.dialect() == "sqlite" ? "" : " FOR UPDATE";
}

Result<Review> Repository::insertOrGetPending(const Review& r, const std::string& request_key) {
  std::optional<Review> out;
  Status st = store_.transaction([&](store::Tx& tx) -> Status {
    auto existing = first(queryReviews(
        tx, "WHERE request_key = ? AND state = 'pending'" + lockClause(), {request_key}));
    if (!existing) {
      return existing.status();
    }
    if (*existing && (*existing)->expires_at > r.created_at) {
      out = std::move(**existing);
      return Status::ok();
    }
    if (*existing) {  // past its expiry but not swept yet: expire it now, then ask again
      Status s = tx.exec(
          "UPDATE access_reviews SET state = 'expired', decided_at = ? "
          "WHERE id = ? AND state = 'pending'",
          {ms(r.created_at), (*existing)->id});
      if (!s) {
        return s;
      }
    }
    out = r;
    return tx.exec(
        "INSERT INTO access_reviews (" + std::string(kReviewCols) +
            ", request_key) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?, ?)",
        {r.id,
         std::string(scopeName(r.scope)),
         r.requester.issuer,
         r.requester.subject,
         r.requester.email,
         r.requester.name,
         toJson(r.requester.groups),
         r.resource,
         r.role,
         r.rule_id,
         r.reason,
         r.statement_text,
         r.fingerprint,
         r.params_hash,
         r.session_id,
         toJson(r.approver_groups),
         int64_t{r.approver_count},
         int64_t{r.grant_duration.count()},
         std::string(r.mode == policy::ReviewSpec::Mode::kFailFast ? "fail_fast" : "wait"),
         ms(r.created_at),
         ms(r.expires_at),
         r.client.address,
         r.client.application,
         request_key});
  });
  if (!st) {
    return st;
  }
  return std::move(*out);
}

Result<std::optional<Review>> Repository::review(const std::string& id) {
  return first(queryReviews(store_, "WHERE id = ?", {id}));
}

Result<std::optional<Grant>> Repository::grant(const std::string& id) {
  return first(queryGrants(store_, "WHERE id = ?", {id}));
}

Result<DecideOutcome> Repository::decide(const std::string& id, const ReviewDecision& d,
                                         TimePoint now, std::chrono::seconds statement_validity) {
  DecideOutcome out;
  Status st = store_.transaction([&](store::Tx& tx) -> Status {
    auto found = first(queryReviews(tx, "WHERE id = ?" + lockClause(), {id}));
    if (!found) {
      return found.status();
    }
    if (!*found) {
      out.status = Status::error(Code::kNotFound, "no review " + id);
      return Status::ok();
    }
    Review& r = out.review = std::move(**found);
    if (r.state != ReviewState::kPending) {
      out.status = conflict("review " + id + " is already " + std::string(stateName(r.state)));
      return Status::ok();
    }
    if (now >= r.expires_at) {
      out.expired = true;
      r.state = ReviewState::kExpired;
      r.decided_at = now;
      out.status = conflict("review " + id + " expired at " + formatUtc(r.expires_at));
      Status s = tx.exec(
          "UPDATE access_reviews SET state = 'expired', decided_at = ? "
          "WHERE id = ? AND state = 'pending'",
          {ms(now), id});
      return s ? tx.publish(kReviewEvent, id) : s;
    }
    if (d.approver.samePerson(r.requester)) {
      out.status = Status::error(Code::kPermissionDenied, "you cannot decide your own review " + id,
                                 "42501");
      return Status::ok();
    }
    if (!inAnyGroup(d.approver, r.approver_groups)) {
      out.status = Status::error(
          Code::kPermissionDenied,
          r.approver_groups.empty()
              ? "review " + id + " names no approver group"
              : "deciding review " + id + " needs membership in " + joined(r.approver_groups),
          "42501");
      return Status::ok();
    }
    for (const auto& prev : r.decisions) {
      if (prev.approver.samePerson(d.approver)) {
        out.status = conflict("you already decided review " + id);
        return Status::ok();
      }
    }
    Status s = tx.exec(
        "INSERT INTO access_decisions (review_id, approver_issuer, approver_subject, "
        "approver_email, approver_name, verdict, comment, decided_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {id, d.approver.issuer, d.approver.subject, d.approver.email, d.approver.name,
         std::string(d.approve ? "approve" : "reject"), d.comment, ms(d.at)});
    if (!s) {
      return s;
    }
    r.decisions.push_back(d);
    if (d.approve && r.approvals() < r.approver_count) {
      return Status::ok();  // recorded; more approvers are needed
    }
    r.state = d.approve ? ReviewState::kApproved : ReviewState::kRejected;
    r.decided_at = now;
    if (d.approve && r.scope == Scope::kStatement) {
      r.valid_until = now + statement_validity;
    }
    if (d.approve && r.scope == Scope::kSession) {
      Grant g;
      g.id = "g-" + randomId(12);
      g.review_id = r.id;
      g.grantee = r.requester;
      g.resource = r.resource;
      g.role = r.role;
      g.rule_id = r.rule_id;
      g.approver_groups = r.approver_groups;
      g.starts_at = now;
      g.expires_at = now + r.grant_duration;
      r.grant_id = g.id;
      out.grant = g;
    }
    s = tx.exec(
        "UPDATE access_reviews SET state = ?, decided_at = ?, valid_until = ?, grant_id = ? "
        "WHERE id = ? AND state = 'pending'",
        {std::string(stateName(r.state)), ms(now), ms(r.valid_until),
         r.grant_id.empty() ? Value{} : Value{r.grant_id}, id});
    if (s && tx.changes() != 1) {  // another replica decided first: roll back our decision
      return conflict("review " + id + " was decided concurrently");
    }
    if (s && out.grant) {
      const Grant& g = *out.grant;
      s = tx.exec("INSERT INTO access_grants (" + std::string(kGrantCols) +
                      ") VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', '')",
                  {g.id, g.review_id, g.grantee.issuer, g.grantee.subject, g.grantee.email,
                   g.grantee.name, g.resource, g.role, g.rule_id, toJson(g.approver_groups),
                   ms(g.starts_at), ms(g.expires_at)});
    }
    if (s) {
      s = tx.publish(kReviewEvent, id);  // last: other replicas wake their waiters on commit
    }
    out.finalized = s.isOk();
    return s;
  });
  if (isConflict(st)) {
    out.status = st;
    out.finalized = false;
    out.grant.reset();
    return out;
  }
  if (!st) {
    return st;
  }
  return out;
}

Result<RevokeOutcome> Repository::revoke(const std::string& grant_id, const Person& by,
                                         const std::string& reason, TimePoint now) {
  RevokeOutcome out;
  Status st = store_.transaction([&](store::Tx& tx) -> Status {
    auto found = first(queryGrants(tx, "WHERE id = ?" + lockClause(), {grant_id}));
    if (!found) {
      return found.status();
    }
    if (!*found) {
      out.status = Status::error(Code::kNotFound, "no grant " + grant_id);
      return Status::ok();
    }
    Grant& g = out.grant = std::move(**found);
    if (g.state != GrantState::kActive) {
      out.status =
          conflict("grant " + grant_id + " is already " + std::string(grantStateName(g.state)));
      return Status::ok();
    }
    if (!by.samePerson(g.grantee) && !inAnyGroup(by, g.approver_groups)) {
      out.status = Status::error(
          Code::kPermissionDenied,
          "revoking grant " + grant_id + " needs membership in " + joined(g.approver_groups),
          "42501");
      return Status::ok();
    }
    const bool expired = now >= g.expires_at;
    g.state = expired ? GrantState::kExpired : GrantState::kRevoked;
    g.ended_at = expired ? g.expires_at : now;
    g.ended_by = expired ? "" : by.display();
    g.end_reason = expired ? "" : reason;
    Status s = tx.exec(
        "UPDATE access_grants SET state = ?, ended_at = ?, ended_by = ?, end_reason = ? "
        "WHERE id = ? AND state = 'active'",
        {std::string(grantStateName(g.state)), ms(g.ended_at), g.ended_by, g.end_reason, grant_id});
    if (s && tx.changes() != 1) {
      return conflict("grant " + grant_id + " ended concurrently");
    }
    if (s && !expired) {
      s = tx.exec("UPDATE access_reviews SET state = 'revoked' WHERE id = ? AND state = 'approved'",
                  {g.review_id});
    }
    if (s) {
      s = tx.publish(kGrantEvent, grant_id);  // last: other replicas end its sessions on commit
    }
    if (expired) {
      out.expired = true;
      out.status = conflict("grant " + grant_id + " expired at " + formatUtc(g.expires_at));
    }
    return s;
  });
  if (isConflict(st)) {
    out.status = st;
    return out;
  }
  if (!st) {
    return st;
  }
  return out;
}

Result<std::optional<Grant>> Repository::activeGrant(const std::string& issuer,
                                                     const std::string& subject,
                                                     const std::string& resource,
                                                     const std::string& role, TimePoint now) {
  return first(queryGrants(store_,
                           "WHERE grantee_issuer = ? AND grantee_subject = ? AND resource = ? "
                           "AND state = 'active' AND expires_at > ? AND (role = ? OR ? = '') "
                           "ORDER BY expires_at DESC LIMIT 1",
                           {issuer, subject, resource, ms(now), role, role}));
}

Result<std::vector<Grant>> Repository::activeGrants(const std::string& issuer,
                                                    const std::string& subject,
                                                    const std::string& resource, TimePoint now) {
  return queryGrants(store_,
                     "WHERE grantee_issuer = ? AND grantee_subject = ? AND resource = ? "
                     "AND state = 'active' AND expires_at > ? ORDER BY expires_at DESC",
                     {issuer, subject, resource, ms(now)});
}

Result<std::optional<Review>> Repository::consumeStatement(
    const std::string& issuer, const std::string& subject, const std::string& resource,
    const std::string& fingerprint, const std::string& params_hash, TimePoint now) {
  std::optional<Review> out;
  Status st = store_.transaction([&](store::Tx& tx) -> Status {
    auto found = first(
        queryReviews(tx,
                     "WHERE scope = 'statement' AND state = 'approved' AND consumed_at IS NULL "
                     "AND requester_issuer = ? AND requester_subject = ? AND resource = ? "
                     "AND fingerprint = ? AND params_hash = ? AND valid_until > ? "
                     "ORDER BY decided_at LIMIT 1" +
                         lockClause(),
                     {issuer, subject, resource, fingerprint, params_hash, ms(now)}));
    if (!found || !*found) {
      return found.status();
    }
    Status s =
        tx.exec("UPDATE access_reviews SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL",
                {ms(now), (*found)->id});
    if (s && tx.changes() == 1) {
      out = std::move(**found);
      out->consumed_at = now;
    }
    return s;
  });
  if (!st) {
    return st;
  }
  return out;
}

Result<std::vector<Review>> Repository::expirePending(TimePoint now) {
  std::vector<Review> moved;
  Status st = store_.transaction([&](store::Tx& tx) -> Status {
    auto due = queryReviews(tx, "WHERE state = 'pending' AND expires_at <= ?", {ms(now)});
    if (!due) {
      return due.status();
    }
    for (auto& r : *due) {
      Status s = tx.exec(
          "UPDATE access_reviews SET state = 'expired', decided_at = ? "
          "WHERE id = ? AND state = 'pending'",
          {ms(now), r.id});
      if (!s) {
        return s;
      }
      if (tx.changes() == 1) {
        r.state = ReviewState::kExpired;
        r.decided_at = now;
        moved.push_back(std::move(r));
      }
    }
    return publishAll(tx, kReviewEvent, moved);
  });
  if (!st) {
    return st;
  }
  return moved;
}

Result<std::vector<Grant>> Repository::expireGrants(TimePoint now) {
  std::vector<Grant> moved;
  Status st = store_.transaction([&](store::Tx& tx) -> Status {
    auto due = queryGrants(tx, "WHERE state = 'active' AND expires_at <= ?", {ms(now)});
    if (!due) {
      return due.status();
    }
    for (auto& g : *due) {
      Status s = tx.exec(
          "UPDATE access_grants SET state = 'expired', ended_at = expires_at "
          "WHERE id = ? AND state = 'active'",
          {g.id});
      if (!s) {
        return s;
      }
      if (tx.changes() == 1) {
        g.state = GrantState::kExpired;
        g.ended_at = g.expires_at;
        moved.push_back(std::move(g));
      }
    }
    return publishAll(tx, kGrantEvent, moved);
  });
  if (!st) {
    return st;
  }
  return moved;
}

Result<std::optional<TimePoint>> Repository::nextDeadline() {
  std::optional<TimePoint> out;
  Status st = store_.query(
      "SELECT MIN(t) FROM (SELECT MIN(expires_at) AS t FROM access_reviews WHERE state = "
      "'pending' UNION ALL SELECT MIN(expires_at) AS t FROM access_grants WHERE state = "
      "'active') AS deadlines",
      {}, [&](const Row& row) {
        if (!store::isNull(row[0])) {
          out = fromMs(row[0]);
        }
        return false;
      });
  if (!st) {
    return st;
  }
  return out;
}

Result<std::vector<Review>> Repository::listReviews(const ReviewFilter& f) {
  std::string where = "WHERE 1 = 1";
  std::vector<Value> params;
  if (f.state) {
    where += " AND state = ?";
    params.emplace_back(std::string(stateName(*f.state)));
  }
  if (!f.requester_subject.empty()) {
    where += " AND requester_subject = ?";
    params.emplace_back(f.requester_subject);
  }
  if (!f.resource.empty()) {
    where += " AND resource = ?";
    params.emplace_back(f.resource);
  }
  where += " ORDER BY created_at DESC, id LIMIT ?";
  params.emplace_back(static_cast<int64_t>(f.limit));
  return queryReviews(store_, where, params);
}

Result<std::vector<Grant>> Repository::listGrants(const GrantFilter& f) {
  std::string where = "WHERE 1 = 1";
  std::vector<Value> params;
  if (f.state) {
    where += " AND state = ?";
    params.emplace_back(std::string(grantStateName(*f.state)));
  }
  if (!f.grantee_subject.empty()) {
    where += " AND grantee_subject = ?";
    params.emplace_back(f.grantee_subject);
  }
  if (!f.resource.empty()) {
    where += " AND resource = ?";
    params.emplace_back(f.resource);
  }
  where += " ORDER BY starts_at DESC, id LIMIT ?";
  params.emplace_back(static_cast<int64_t>(f.limit));
  return queryGrants(store_, where, params);
}

}  // namespace jg::access
