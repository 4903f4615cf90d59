// The gate of a PostgreSQL session: every client message that can run something (Query, Parse,
// FunctionCall) or name something (Bind, Execute, Describe) is decided here before it goes
// upstream. The decision itself is gate::Gate's; this file decodes, classifies, maps the
// Verdict to PostgreSQL (an ErrorResponse and a substitute, refusal.h) and records it.
#include <fmt/format.h>
#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "core/log_fields.h"
#include "core/metrics.h"
#include "proto/pg/decode.h"
#include "proto/pg/encode.h"
#include "server/config.h"
#include "server/gateway.h"
#include "server/lineage_rules.h"
#include "server/refusal.h"
#include "server/session.h"

namespace jg::server {
namespace {

bool onlyTransactionControl(const sql::Classification& c) {
  return c.status.isOk() && !c.statements.empty() &&
         std::all_of(c.statements.begin(), c.statements.end(),
                     [](const auto& st) { return st.kind == sql::Kind::kTransaction; });
}

}  // namespace

bool Session::gated(char type) {
  return type == pg::fe::kQuery || type == pg::fe::kParse || type == pg::fe::kFunctionCall ||
         type == pg::fe::kBind || type == pg::fe::kExecute || type == pg::fe::kDescribe;
}

Session::Gated Session::gateMessage(const pg::Frame& frame) {
  if (audit_ && !audit_->writable() && frame.type != pg::fe::kDescribe) {
    return refuseUnrecorded(frame);  // nothing runs unrecorded
  }
  switch (frame.type) {
    case pg::fe::kBind:
      return decideBind(frame);
    case pg::fe::kExecute:
      return decideExecute(frame);
    case pg::fe::kDescribe:
      return decideDescribe(frame);
    default:
      return decideStatement(frame);
  }
}

Session::Gated Session::decideStatement(const pg::Frame& frame) {
  Gated g;
  statements_decided_.fetch_add(1, std::memory_order_relaxed);
  if (frame.type == pg::fe::kFunctionCall) {
    // The fast-path call names a function by OID with no SQL to classify: policy cannot see
    // what it does, so it is refused (SELECT fn(...) goes through policy instead). The server
    // answers the substitute Query with ErrorResponse + ReadyForQuery, the same shape as a
    // failed FunctionCall.
    refuse(frame, {},
           gate::Verdict::refuse(gate::Refusal::kForbidden, "builtin:function-call",
                                 "the fast-path function call protocol is not allowed through "
                                 "jitgate; call the function with SELECT so that policy can "
                                 "decide"),
           g);
    return g;
  }
  pg::Query q;
  pg::Parse p;
  if (frame.type == pg::fe::kQuery ? !pg::decodeQuery(frame.payload, q)
                                   : !pg::decodeParse(frame.payload, p)) {
    return g;  // the tracker reports the malformed message
  }
  g.simple = frame.type == pg::fe::kQuery;
  g.sql = g.simple ? q.sql : p.sql;
  g.name = p.name;
  if (!g.simple && tracker_.statementsFull(g.name)) {
    refuse(frame, {},
           gate::Verdict::refuse(
               gate::Refusal::kLimit, "builtin:limits",
               fmt::format("too many prepared statements in this session (limit {}); close some "
                           "before preparing more",
                           rt_->config->limits.max_prepared_statements),
               "limits.max_prepared_statements"),
           g);
    return g;
  }
  g.classification = services_.classifier().classify(g.sql);
  if (client_txn_failed_ && !onlyTransactionControl(*g.classification)) {
    refuse(frame, g.name,
           gate::Verdict::refuse(gate::Refusal::kAborted, "builtin:aborted-transaction",
                                 "current transaction is aborted, commands ignored until end of "
                                 "transaction block"),
           g);
    return g;
  }
  gate::Gate gate(*rt_->config->policy);
  g.verdict = gate.decide(caller(), {g.classification, sql_ctx_, g.sql, !g.name.empty()},
                          services_.clock().now());
  if (gate::Gate::needsSettling(g.verdict)) {
    g.step = Gated::Step::kSettle;  // the pump settles it off the I/O thread, then finishes
    return g;
  }
  finishStatement(frame, g);
  return g;
}

void Session::finishStatement(const pg::Frame& frame, Gated& g) {
  checkMasking(g);
  recordStatement(g);
  const gate::Verdict& v = g.verdict;
  constexpr std::string_view kDecision[] = {"allow", "review", "deny"};
  metrics::statements().add(
      {resource_, kDecision[static_cast<int>(v.outcome)], v.ruleId().empty() ? "-" : v.ruleId()});
  if (v.allowed() || v.hold) {
    sql_ctx_.applyAll(g.classification);  // it runs (or waits to run): its effects count now
    g.step = v.allowed() ? Gated::Step::kForward : Gated::Step::kHold;
    return;
  }
  refuse(frame, g.name, v, g);
}

// A statement the policy allows may still not be maskable as asked: a profile that cannot be
// applied, a function a column rule does not allow, or a value computed from a column whose
// rule refuses that (through_expressions: refuse).
void Session::checkMasking(Gated& g) {
  gate::Verdict& v = g.verdict;
  if (!v.allowed() || !masker_) {
    return;
  }
  Status st = masker_->setProfile(v.decision.mask_profile);
  bool internal = !st;
  if (st) {
    st = masker_->checkStatements(*g.classification);
  }
  if (st) {
    return;
  }
  v.outcome = gate::Outcome::kDeny;
  v.refusal = internal ? gate::Refusal::kInternal : gate::Refusal::kForbidden;
  v.decision.effect = policy::Effect::kDeny;
  v.decision.sqlstate = internal ? "XX000" : "42501";
  if (!internal) {
    v.decision.rule_id = "masking:column-rule";
  }
  v.message = st.message();
  v.detail.clear();
}

void Session::recordStatement(const Gated& g) {
  if (!audit_) {
    return;
  }
  std::vector<std::string> tables;
  if (g.classification->status.isOk()) {
    sql::Resolved resolved;
    for (const auto& st : g.classification->statements) {
      sql_ctx_.resolve(st, resolved);
      for (const auto& t : resolved.tables) {
        std::string q = t.schema + "." + t.name;
        if (std::find(tables.begin(), tables.end(), q) == tables.end()) {
          tables.push_back(std::move(q));
        }
      }
    }
  }
  // Documents the WHERE clause names with constants (a bind adds those of its parameters).
  std::vector<std::string> documents =
      whereDocuments(g.sql, {}, resource_cfg_->documents_schema, resource_cfg_->documents_table,
                     resource_cfg_->documents_id_column, sql_ctx_);
  audit_->statement(g.sql, g.classification.get(), std::move(tables), g.verdict.decision,
                    g.simple ? "simple" : "extended", g.name, g.verdict.review_id,
                    std::move(documents));
}

// An Execute of a portal the gateway does not know is refused. With a time-dependent policy, or
// once the search_path has changed, every statement the portal may run is decided again, since
// the decision taken at Parse may no longer hold.
Session::Gated Session::decideExecute(const pg::Frame& frame) {
  Gated g;
  pg::Execute e;
  if (!pg::decodeExecute(frame.payload, e)) {
    return g;  // the tracker reports the malformed message
  }
  thread_local std::vector<pg::SqlText> sqls;
  tracker_.portalSqls(e.portal, sqls);
  if (sqls.empty()) {
    refuse(frame, {},
           gate::Verdict::refuse(gate::Refusal::kUnknownName, "builtin:unknown-portal",
                                 fmt::format("portal \"{}\" does not exist", e.portal)),
           g, "34000");
    return g;
  }
  if (!rt_->config->policy->timeDependent() && sql_ctx_.generation() == 0) {
    return g;  // the decision taken at Parse still holds
  }
  std::vector<std::shared_ptr<const sql::Classification>> statements;
  for (const auto& sql : sqls) {
    statements.push_back(services_.classifier().classify(*sql));
  }
  gate::Gate gate(*rt_->config->policy);
  gate::Verdict v = gate.decideAgain(caller(), statements, sql_ctx_, services_.clock().now());
  if (!v.allowed()) {
    refuse(frame, {}, v, g);
  }
  return g;
}

// A Bind of a statement the gateway does not know, or of a portal past limits.max_portals.
Session::Gated Session::decideBind(const pg::Frame& frame) {
  Gated g;
  pg::Bind b;
  if (!pg::decodeBind(frame.payload, b)) {
    return g;  // the tracker reports the malformed message
  }
  if (!tracker_.statementSql(b.statement)) {
    refuse(
        frame, {},
        gate::Verdict::refuse(gate::Refusal::kUnknownName, "builtin:unknown-statement",
                              fmt::format("prepared statement \"{}\" does not exist", b.statement)),
        g);
  } else if (tracker_.portalsFull(b.portal)) {
    refuse(frame, {},
           gate::Verdict::refuse(gate::Refusal::kLimit, "builtin:limits",
                                 fmt::format("too many open portals in this session (limit {}); "
                                             "close some first",
                                             rt_->config->limits.max_portals),
                                 "limits.max_portals"),
           g);
  }
  return g;
}

// A Describe of a statement or portal the gateway does not know. A Describe returns only
// metadata: SQL-level statements and cursors (psycopg describes its DECLAREd cursors) may be
// described too.
Session::Gated Session::decideDescribe(const pg::Frame& frame) {
  Gated g;
  pg::Describe d;
  if (!pg::decodeDescribe(frame.payload, d)) {
    return g;  // the tracker reports the malformed message
  }
  thread_local std::vector<pg::SqlText> sqls;
  if (d.target == 'S' && !tracker_.statementSql(d.name) && !sql_ctx_.hasPrepared(d.name)) {
    refuse(frame, {},
           gate::Verdict::refuse(gate::Refusal::kUnknownName, "builtin:unknown-statement",
                                 fmt::format("prepared statement \"{}\" does not exist", d.name)),
           g);
  } else if (d.target == 'P' && !sql_ctx_.hasCursor(d.name) &&
             (tracker_.portalSqls(d.name, sqls), sqls.empty())) {
    refuse(frame, {},
           gate::Verdict::refuse(gate::Refusal::kUnknownName, "builtin:unknown-portal",
                                 fmt::format("portal \"{}\" does not exist", d.name)),
           g, "34000");
  }
  return g;
}

// Any statement, bind or execute while the audit log cannot be written (58030). The cause (a
// file name, an errno) is in the gateway's log, not told to clients.
Session::Gated Session::refuseUnrecorded(const pg::Frame& frame) {
  Gated g;
  pg::Query q;
  pg::Parse p;
  if ((frame.type == pg::fe::kQuery && !pg::decodeQuery(frame.payload, q)) ||
      (frame.type == pg::fe::kParse && !pg::decodeParse(frame.payload, p))) {
    return g;  // the tracker reports the malformed message
  }
  gate::Verdict v = gate::Verdict::refuse(
      gate::Refusal::kUnrecorded, "builtin:audit-unavailable",
      "the audit log cannot be written, so jitgate refuses statements until it recovers");
  if (frame.type == pg::fe::kQuery || frame.type == pg::fe::kParse) {
    v.decision.reason = "the audit log cannot be written";
    v.decision.sqlstate = "58030";
    g.simple = frame.type == pg::fe::kQuery;
    audit_->statement(g.simple ? q.sql : p.sql, nullptr, {}, v.decision,
                      g.simple ? "simple" : "extended", p.name);
  }
  refuse(frame, p.name, v, g);
  services_.countUnrecordedRefusal();
  return g;
}

void Session::refuse(const pg::Frame& frame, std::string_view name, const gate::Verdict& v,
                     Gated& g, std::string_view sqlstate) {
  std::string_view code = !sqlstate.empty()              ? sqlstate
                          : !v.decision.sqlstate.empty() ? v.decision.sqlstate
                                                         : pgSqlstate(v.refusal);
  ++statements_refused_;
  log::infoWith(id_, {{"resource", resource_}, {"rule", v.ruleId()}, {"sqlstate", code}},
                "statement refused ({}): {}{}{}", v.ruleId(), v.message,
                v.detail.empty() ? "" : "; ", v.detail);
  pg::encodeError(g.error, "ERROR", code, v.message, v.detail);
  if (audit_) {
    audit_->error("gateway", "ERROR", code, v.message);
  }
  substituteRefused(frame, name, g.substitute);
  g.step = Gated::Step::kRefuse;
}

}  // namespace jg::server
