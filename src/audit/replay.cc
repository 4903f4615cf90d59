#include "audit/replay.h"

#include <fmt/format.h>

#include <map>

#include "audit/segment.h"
#include "audit/verify.h"
#include "core/clock.h"

namespace jg::audit {
namespace json = boost::json;
namespace {

std::string cellText(const std::optional<std::string>& c) {
  return c ? *c : "NULL";
}

struct TextRenderer {
  std::ostream& out;
  const RawOpener* opener;
  std::map<uint64_t, std::vector<std::string>> columns;
  const ReplayedRecord* rec = nullptr;

  // `sent` resolves raw rows that masking left as sent (null entries); null for parameters.
  std::optional<std::vector<Row>> openRows(const RawBytes& raw, std::string_view type,
                                           std::string_view field, std::string& why,
                                           const std::vector<Row>* sent = nullptr) {
    if (opener == nullptr) {
      return std::nullopt;
    }
    auto rows = openSealedRows(*opener, *rec, raw, type, field, sent);
    if (!rows) {
      why = rows.status().message();
      return std::nullopt;
    }
    return std::move(*rows);
  }

  void line(const std::string& s) { out << "          " << s << "\n"; }

  void operator()(const ConnectEvent& e) {
    out << "connect   client " << e.client_addr << " resource " << e.resource << " (" << e.protocol
        << (e.tls_version.empty() ? ", no TLS" : ", " + e.tls_version) << ")"
        << (e.application_name.empty() ? "" : " app " + e.application_name) << "\n";
  }
  void operator()(const AuthEvent& e) {
    const Principal& p = e.principal;
    std::string groups;
    for (const auto& g : p.groups) {
      groups += (groups.empty() ? "" : ",") + g;
    }
    out << "auth      " << (e.ok ? "ok " : "FAILED ")
        << (p.email.empty() ? p.subject : p.email + " (sub " + p.subject + ")")
        << (groups.empty() ? "" : " groups " + groups)
        << (e.reason.empty() ? "" : " reason: " + e.reason) << "\n";
  }
  void operator()(const StatementEvent& e) {
    out << "statement [" << e.statement_id << "] " << e.text << "\n";
    if (!e.param_digests.empty()) {
      std::string why;
      auto vals = openRows(e.params, "statement", "params", why);
      for (size_t i = 0; i < e.param_digests.size(); ++i) {
        std::string v = vals && !vals->empty() && i < (*vals)[0].size()
                            ? ((*vals)[0][i] ? "'" + *(*vals)[0][i] + "'" : "NULL")
                            : "<sealed sha256:" + e.param_digests[i].substr(0, 12) + ">";
        line(fmt::format("${} = {}", i + 1, v));
      }
      if (!why.empty()) {
        line("(parameters not shown: " + why + ")");
      }
    }
    line(fmt::format("{} {}{}{}{}", e.kind.empty() ? "?" : e.kind,
                     e.decision.empty() ? "?" : e.decision,
                     e.rule_id.empty() ? "" : " by rule " + e.rule_id,
                     e.review_id.empty() ? "" : " review " + e.review_id,
                     e.reason.empty() ? "" : " (" + e.reason + ")"));
  }
  void operator()(const ResultStartEvent& e) {
    std::vector<std::string> names;
    for (const auto& c : e.columns) {
      names.push_back(c.name);
    }
    columns[e.statement_id] = names;
    out << "result    [" << e.statement_id << "] " << names.size() << " column(s)\n";
  }
  void operator()(const ResultRowsEvent& e) {
    const auto& header = columns[e.statement_id];
    out << "rows      [" << e.statement_id << "] " << e.rows.size() << " row(s), masked\n";
    out << formatTable(header, e.rows);
    if (!e.raw_rows.empty() && opener != nullptr) {
      std::string why;
      auto raw = openRows(e.raw_rows, "result_rows", "raw_rows", why, &e.rows);
      if (raw) {
        out << "          raw (before masking):\n" << formatTable(header, *raw);
      } else {
        line("(raw rows not shown: " + why + ")");
      }
    }
    if (!e.document_ids.empty()) {
      std::string ids;
      for (const auto& d : e.document_ids) {
        ids += (ids.empty() ? "" : ",") + d;
      }
      line("documents: " + ids);
    }
  }
  void operator()(const ResultEndEvent& e) {
    std::string masked;
    for (const auto& [label, n] : e.masked_cells) {
      masked += fmt::format("{}{}={}", masked.empty() ? "" : ",", label, n);
    }
    out << "complete  [" << e.statement_id << "] " << e.command_tag << " (" << e.rows << " rows, "
        << e.bytes << " bytes" << (masked.empty() ? "" : ", masked " + masked) << ")\n";
  }
  void operator()(const ErrorEvent& e) {
    out << "error     " << (e.statement_id ? fmt::format("[{}] ", e.statement_id) : "") << e.source
        << " " << e.severity << " " << e.sqlstate << ": " << e.message << "\n";
  }
  void operator()(const CancelEvent& e) {
    out << "cancel    [" << e.statement_id << "] " << e.outcome << "\n";
  }
  void operator()(const SessionEndEvent& e) {
    out << "end       " << e.reason << " (" << e.statements << " statements, " << e.rows
        << " rows)\n";
  }
  void operator()(const ReplayEvent& e) {
    out << "replay    of " << e.replayed_session << (e.raw ? " with raw data" : "") << " by "
        << e.actor << "\n";
  }
  void operator()(const ResultEvent& e) {
    // forEachSessionRecord splits `result` records; this is for callers that did not.
    for (const auto& part : splitEvent(Event{{}, {}, e})) {
      std::visit(*this, part.body);
    }
  }
  void operator()(const AccessEvent& e) {
    out << "access    " << e.action << " " << (e.review_id.empty() ? e.grant_id : e.review_id)
        << " resource " << e.resource << " requester " << e.requester;
    if (!e.actor.empty()) {
      out << " by " << e.actor;
    }
    if (!e.comment.empty()) {
      out << ": " << e.comment;
    }
    out << "\n";
  }
};

json::value rowsJson(const std::vector<Row>& rows) {
  return json::parse(rowsToJson(rows));
}

}  // namespace

Result<std::vector<Row>> openSealedRows(const RawOpener& opener, const ReplayedRecord& rec,
                                        const RawBytes& raw, std::string_view type,
                                        std::string_view field, const std::vector<Row>* sent) {
  auto plain = opener.open(raw, rec.raw_key_id, rawAad(rec.event.session_id, type, field));
  if (!plain) {
    return plain.status();
  }
  return sent != nullptr ? rawRowsView(*plain, *sent) : rowsFromJson(*plain);
}

std::string formatTable(const std::vector<std::string>& header, const std::vector<Row>& rows) {
  size_t ncols = header.size();
  for (const auto& r : rows) {
    ncols = std::max(ncols, r.size());
  }
  std::vector<size_t> width(ncols, 0);
  auto name = [&](size_t i) { return i < header.size() ? header[i] : fmt::format("?column{}", i); };
  for (size_t i = 0; i < ncols; ++i) {
    width[i] = name(i).size();
    for (const auto& r : rows) {
      if (i < r.size()) {
        width[i] = std::max(width[i], cellText(r[i]).size());
      }
    }
  }
  std::string out = "          ";
  std::string rule = "          ";
  for (size_t i = 0; i < ncols; ++i) {
    out += fmt::format("{}{:<{}}", i ? " | " : " ", name(i), width[i]);
    rule += (i ? "-+-" : "-") + std::string(width[i], '-');
  }
  out += "\n" + rule + "\n";
  for (const auto& r : rows) {
    out += "          ";
    for (size_t i = 0; i < ncols; ++i) {
      out += fmt::format("{}{:<{}}", i ? " | " : " ", i < r.size() ? cellText(r[i]) : "", width[i]);
    }
    out += "\n";
  }
  return out;
}

Status forEachSessionRecord(const std::string& dir, const std::string& session_id,
                            const std::optional<SessionLocation>& hint,
                            const std::function<void(ReplayedRecord&&)>& fn) {
  bool found = false;
  std::vector<std::string> instances =
      hint ? std::vector<std::string>{hint->instance} : listInstances(dir);
  for (const auto& inst : instances) {
    for (const auto& seg : listSegments(dir + "/" + inst)) {
      if (hint && seg.number < hint->segment) {
        continue;
      }
      auto reader = SegmentReader::open(seg.path);
      if (!reader) {
        return reader.status();
      }
      std::string raw_key;
      Frame f;
      while (reader->next(f) == SegmentReader::Outcome::kFrame) {
        for (auto& e : f.entries) {
          json::error_code ec;
          auto v = json::parse(e.record, ec);
          if (ec || !v.is_object()) {
            continue;
          }
          auto& o = v.as_object();
          if (auto* t = o.if_contains("type"); t && t->is_string() && *t == "segment_start") {
            auto* k = o.if_contains("raw_key");
            raw_key = k && k->is_string() ? std::string(k->as_string()) : "";
            continue;
          }
          auto* sid = o.if_contains("sid");
          if (!sid || !sid->is_string() || sid->as_string() != session_id) {
            continue;
          }
          // A `result` record is presented as the result_start, result_rows and result_end
          // records it stands for (same seq), so readers see one shape in every format.
          for (auto& part : splitRecord(o)) {
            auto ev = decodeEvent(part);
            if (!ev) {
              continue;
            }
            found = true;
            bool end = std::holds_alternative<SessionEndEvent>(ev->body);
            fn(ReplayedRecord{inst, seg.number, e.seq, raw_key, std::move(part), std::move(*ev)});
            if (end) {
              return Status::ok();
            }
          }
        }
      }
    }
  }
  return found ? Status::ok()
               : Status::error(Code::kNotFound, "no records for session " + session_id);
}

Result<uint64_t> renderSession(const std::string& dir, const std::string& session_id,
                               const std::optional<SessionLocation>& hint, ReplayFormat format,
                               const RawOpener* opener, std::ostream& out) {
  uint64_t n = 0;
  std::optional<std::chrono::system_clock::time_point> start;
  TextRenderer text{out, opener, {}, nullptr};
  Status st = forEachSessionRecord(dir, session_id, hint, [&](ReplayedRecord&& r) {
    if (!start) {
      start = r.event.time;
      if (format == ReplayFormat::kText) {
        out << "session " << session_id << " on " << r.instance << ", started "
            << formatUtc(r.event.time) << "\n";
      }
    }
    double offset = std::chrono::duration<double>(r.event.time - *start).count();
    ++n;
    if (format == ReplayFormat::kJson) {
      json::object o = std::move(r.record);
      o["offset_s"] = offset;
      o["seq"] = r.seq;
      o["instance"] = r.instance;
      o.erase("params");
      o.erase("raw_rows");
      if (opener != nullptr) {
        auto open = [&](const RawBytes& raw, std::string_view type, std::string_view field,
                        std::string_view key, const std::vector<Row>* sent) {
          auto plain = opener->open(raw, r.raw_key_id, rawAad(session_id, type, field));
          if (plain) {
            auto rows = sent != nullptr ? rawRowsView(*plain, *sent) : rowsFromJson(*plain);
            if (rows) {
              o[key] = rowsJson(*rows);
            }
          }
        };
        if (auto* s = std::get_if<StatementEvent>(&r.event.body); s && !s->params.empty()) {
          open(s->params, "statement", "params", "params_raw", nullptr);
        }
        if (auto* rr = std::get_if<ResultRowsEvent>(&r.event.body); rr && !rr->raw_rows.empty()) {
          open(rr->raw_rows, "result_rows", "raw_rows", "rows_raw", &rr->rows);
        }
      }
      out << json::serialize(o) << "\n";
      return;
    }
    out << fmt::format("+{:>9.3f}s ", offset);
    text.rec = &r;
    std::visit(text, r.event.body);
  });
  if (!st) {
    return st;
  }
  return n;
}

}  // namespace jg::audit
