// Replay: reads one session's records back from the segments and renders them as they
// happened (time offsets, statements with bind parameters, decisions, masked rows as tables,
// errors), as text for people or JSON lines for tools.
//
// Raw (pre-masking) rows and bind parameter values are shown only when a RawOpener holding the
// segment's key is given; the caller is responsible for recording that a raw replay happened
// (the CLI appends a ReplayEvent). Functions are stateless; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "audit/codec.h"
#include "audit/event.h"
#include "audit/index.h"

namespace jg::audit {

struct ReplayedRecord {
  std::string instance;
  uint64_t segment = 0;
  uint64_t seq = 0;
  std::string raw_key_id;      // the segment's raw payload key id ("" when raw is off)
  boost::json::object record;  // the record as stored
  Event event;                 // decoded; RawBytes still sealed
};

// Calls `fn` for each record of `session_id`, in log order. With `hint` (from the index) the
// scan starts at the session's first segment; without it every segment is scanned. Stops after
// the session_end record. Returns kNotFound when the session has no records.
Status forEachSessionRecord(const std::string& dir, const std::string& session_id,
                            const std::optional<SessionLocation>& hint,
                            const std::function<void(ReplayedRecord&&)>& fn);

// Opens a sealed field of `rec` (`type`/`field` name it, as in its AAD): bind parameters, or raw
// rows — with `sent`, entries masking left as sent are resolved against the sent rows.
Result<std::vector<Row>> openSealedRows(const RawOpener& opener, const ReplayedRecord& rec,
                                        const RawBytes& raw, std::string_view type,
                                        std::string_view field,
                                        const std::vector<Row>* sent = nullptr);

// One record as JSON: the record as stored with offset_s (seconds since the session's first
// record), seq and instance; sealed fields (params, raw_rows, raw_body) removed and, with
// `opener`, opened into params_raw, rows_raw and body_raw (body_raw_b64 when not UTF-8).
boost::json::object recordJson(ReplayedRecord&& r, double offset_s, const RawOpener* opener);

struct SessionJson {
  boost::json::array records;
  bool truncated = false;  // the session has more than `limit` records
};

// The first `limit` records of a session as recordJson() objects, in log order. kNotFound when
// the session has no records.
Result<SessionJson> sessionRecordsJson(const std::string& dir, const std::string& session_id,
                                       const std::optional<SessionLocation>& hint,
                                       const RawOpener* opener, size_t limit);

enum class ReplayFormat { kText, kJson };

// Renders a session to `out`. `opener` null means no raw data. With `only` nonzero, renders
// just the records of that statement (or HTTP request) number: the statement or bind, its
// result and errors; kNotFound when it has none. Returns records rendered.
Result<uint64_t> renderSession(const std::string& dir, const std::string& session_id,
                               const std::optional<SessionLocation>& hint, ReplayFormat format,
                               const RawOpener* opener, std::ostream& out, uint64_t only = 0);

// The statement (or HTTP request) number a record belongs to; 0 for session-level records
// (connect, auth, session_end, ...).
uint64_t statementOf(const EventBody& body);

// Formats rows as an aligned text table (psql style).
std::string formatTable(const std::vector<std::string>& header, const std::vector<Row>& rows);

}  // namespace jg::audit
