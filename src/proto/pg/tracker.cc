#include "proto/pg/tracker.h"

#include <fmt/format.h>

#include <algorithm>

#include "proto/pg/decode.h"

namespace jg::pg {
namespace {

Status malformed(const char* what) {
  return protocolError(fmt::format("malformed {} message", what));
}

bool isCompletion(Tracker::Pending p) {
  return p == Tracker::Pending::kQuery || p == Tracker::Pending::kSync ||
         p == Tracker::Pending::kFunctionCall;
}

}  // namespace

const char* pendingName(Tracker::Pending p) {
  switch (p) {
    case Tracker::Pending::kQuery:
      return "Query";
    case Tracker::Pending::kParse:
      return "Parse";
    case Tracker::Pending::kBind:
      return "Bind";
    case Tracker::Pending::kDescribeStatement:
      return "Describe statement";
    case Tracker::Pending::kDescribePortal:
      return "Describe portal";
    case Tracker::Pending::kExecute:
      return "Execute";
    case Tracker::Pending::kClose:
      return "Close";
    case Tracker::Pending::kSync:
      return "Sync";
    case Tracker::Pending::kFunctionCall:
      return "FunctionCall";
  }
  return "?";
}

ColumnsPtr toColumns(const RowDescription& rd) {
  auto cols = std::make_shared<Columns>();
  cols->reserve(rd.fields.size());
  for (const auto& f : rd.fields) {
    cols->push_back(Column{std::string(f.name), f.table_oid, f.column, f.type_oid, f.type_size,
                           f.type_modifier, f.format});
  }
  return cols;
}

namespace {

// `cols` as a statement Describe reports them: every format text.
ColumnsPtr textFormats(const ColumnsPtr& cols) {
  if (!cols) {
    return nullptr;
  }
  bool all_text = true;
  for (const Column& c : *cols) {
    all_text = all_text && c.format == 0;
  }
  if (all_text) {
    return cols;
  }
  auto out = std::make_shared<Columns>(*cols);
  for (Column& c : *out) {
    c.format = 0;
  }
  return out;
}

// `known` when it describes exactly the fields of `rd`, else new columns from `rd`. A statement
// or portal described again (libpq describes every portal it executes) keeps its columns, and
// with them the masking plans the session cached for them. Only for the same statement: two
// statements with the same fields may mask differently (the plans follow their lineage).
ColumnsPtr sameOrNew(const ColumnsPtr& known, const RowDescription& rd) {
  auto same = [](const Column& c, const FieldDescription& f) {
    return c.name == f.name && c.table_oid == f.table_oid && c.column == f.column &&
           c.type_oid == f.type_oid && c.type_size == f.type_size &&
           c.type_modifier == f.type_modifier && c.format == f.format;
  };
  if (known && known->size() == rd.fields.size() &&
      std::equal(known->begin(), known->end(), rd.fields.begin(), same)) {
    return known;
  }
  return toColumns(rd);
}

}  // namespace

ColumnsPtr withFormats(const ColumnsPtr& cols, const std::vector<int16_t>& formats) {
  if (!cols) {
    return nullptr;
  }
  bool all_text = true;
  for (auto f : formats) {
    all_text = all_text && f == 0;
  }
  if (all_text) {
    return cols;  // statement descriptions already say text
  }
  auto out = std::make_shared<Columns>(*cols);
  for (size_t i = 0; i < out->size(); ++i) {
    (*out)[i].format = formats.size() == 1 ? formats[0] : (i < formats.size() ? formats[i] : 0);
  }
  return out;
}

std::string_view Tracker::activeSql() const {
  if (pending_.empty()) {
    return {};
  }
  const auto& front = pending_.front();
  if (front.kind == Pending::kQuery) {
    return front.name;
  }
  if (front.kind == Pending::kExecute) {
    if (auto p = portals_.find(front.name); p != portals_.end()) {
      if (auto st = statements_.find(p->second.statement); st != statements_.end()) {
        return *st->second.sql;
      }
    }
  }
  return {};
}

void Tracker::limitLastRows(int64_t n, std::string_view by) {
  if (pending_.empty()) {
    return;
  }
  PendingItem& last = pending_.back();
  if (last.kind == Pending::kQuery) {
    last.row_limit = n;
    last.row_limit_by = std::string(by);
  } else if (last.kind == Pending::kParse && last.stmt) {
    last.stmt->row_limit = n;
    last.stmt->row_limit_by = std::string(by);
  }
}

void Tracker::annotateLast(std::string error_message) {
  if (!pending_.empty()) {
    pending_.back().replace_error = std::move(error_message);
  }
}

const PreparedStatement* Tracker::statement(std::string_view name) const {
  auto it = statements_.find(std::string(name));
  return it == statements_.end() ? nullptr : &it->second;
}

const Portal* Tracker::portal(std::string_view name) const {
  auto it = portals_.find(std::string(name));
  return it == portals_.end() ? nullptr : &it->second;
}

namespace {

// The entries of `names` but the unnamed statement or portal, which the limits do not count.
template <typename Map>
size_t named(const Map& names) {
  return names.size() - names.count(std::string());
}

}  // namespace

bool Tracker::statementsFull(std::string_view name) const {
  return !name.empty() && named(statements_) + named(newest_parse_) >= limits_.max_statements;
}

bool Tracker::portalsFull(std::string_view name) const {
  return !name.empty() && named(portals_) + named(newest_bind_) >= limits_.max_portals;
}

Status Tracker::push(PendingItem item) {
  if (pending_.size() >= limits_.max_pending) {
    return Status::error(Code::kResourceExhausted,
                         fmt::format("too many pipelined requests (limit {})", limits_.max_pending),
                         "54000");
  }
  pending_.push_back(std::move(item));
  const PendingItem& last = pending_.back();
  if (last.kind == Pending::kParse) {
    newest_parse_[last.name] = &last;
  } else if (last.kind == Pending::kBind) {
    newest_bind_[last.name] = &last;
  }
  return Status::ok();
}

void Tracker::pop() {
  const PendingItem& front = pending_.front();
  auto* index = front.kind == Pending::kParse  ? &newest_parse_
                : front.kind == Pending::kBind ? &newest_bind_
                                               : nullptr;
  if (index != nullptr) {
    if (auto it = index->find(front.name); it != index->end() && it->second == &front) {
      index->erase(it);
    }
  }
  pending_.pop_front();
  resolved_ = false;
  current_ = nullptr;
  row_limit_ = 0;
  rows_ = 0;
  row_limit_by_ = &kNoOne;
}

Status Tracker::onFrontend(char type, std::string_view payload) {
  switch (type) {
    case fe::kQuery:
      return onQuery(payload);
    case fe::kParse:
      return onParse(payload);
    case fe::kBind:
      return onBind(payload);
    case fe::kDescribe:
      return onDescribe(payload);
    case fe::kExecute:
      return onExecute(payload);
    case fe::kClose:
      return onClose(payload);
    case fe::kSync:
      return decodeEmpty(payload) ? push({.kind = Pending::kSync}) : malformed("Sync");
    case fe::kFunctionCall: {
      FunctionCall f;
      return decodeFunctionCall(payload, f) ? push({.kind = Pending::kFunctionCall})
                                            : malformed("FunctionCall");
    }
    case fe::kFlush:
      return decodeEmpty(payload) ? Status::ok() : malformed("Flush");
    case fe::kCopyData:
      return Status::ok();
    case fe::kCopyDone:
      return decodeEmpty(payload) ? Status::ok() : malformed("CopyDone");
    case fe::kCopyFail: {
      CopyFail f;
      return decodeCopyFail(payload, f) ? Status::ok() : malformed("CopyFail");
    }
    case fe::kTerminate:
      return decodeEmpty(payload) ? Status::ok() : malformed("Terminate");
    default:
      break;
  }
  unsigned char c = static_cast<unsigned char>(type);
  return protocolError(c >= 32 && c < 127
                           ? fmt::format("unexpected message type '{}' from client", type)
                           : fmt::format("unexpected message type 0x{:02x} from client", c));
}

Status Tracker::onQuery(std::string_view payload) {
  Query q;
  if (!decodeQuery(payload, q)) {
    return malformed("Query");
  }
  return push({.kind = Pending::kQuery, .name = std::string(q.sql)});
}

Status Tracker::onParse(std::string_view payload) {
  Parse p;
  if (!decodeParse(payload, p)) {
    return malformed("Parse");
  }
  if (!p.name.empty() && named(statements_) >= limits_.max_statements) {
    return Status::error(
        Code::kResourceExhausted,
        fmt::format("too many prepared statements (limit {})", limits_.max_statements), "54000");
  }
  auto stmt = std::make_unique<PreparedStatement>();
  stmt->sql = std::make_shared<const std::string>(p.sql);
  stmt->param_types = p.param_types;
  return push({.kind = Pending::kParse, .name = std::string(p.name), .stmt = std::move(stmt)});
}

Status Tracker::onBind(std::string_view payload) {
  Bind b;
  if (!decodeBind(payload, b)) {
    return malformed("Bind");
  }
  if (!b.portal.empty() && named(portals_) >= limits_.max_portals) {
    return Status::error(Code::kResourceExhausted,
                         fmt::format("too many open portals (limit {})", limits_.max_portals),
                         "54000");
  }
  auto portal = std::make_unique<Portal>();
  portal->statement = std::string(b.statement);
  portal->result_formats = b.result_formats;
  return push({.kind = Pending::kBind, .name = std::string(b.portal), .portal = std::move(portal)});
}

Status Tracker::onDescribe(std::string_view payload) {
  Describe d;
  if (!decodeDescribe(payload, d) || (d.target != 'S' && d.target != 'P')) {
    return malformed("Describe");
  }
  return push({.kind = d.target == 'S' ? Pending::kDescribeStatement : Pending::kDescribePortal,
               .name = std::string(d.name)});
}

Status Tracker::onExecute(std::string_view payload) {
  Execute e;
  if (!decodeExecute(payload, e)) {
    return malformed("Execute");
  }
  return push({.kind = Pending::kExecute, .name = std::string(e.portal)});
}

Status Tracker::onClose(std::string_view payload) {
  Close c;
  if (!decodeClose(payload, c) || (c.target != 'S' && c.target != 'P')) {
    return malformed("Close");
  }
  return push({.kind = Pending::kClose, .target = c.target, .name = std::string(c.name)});
}

Status Tracker::expect(Pending kind, const char* what) {
  if (pending_.empty() || pending_.front().kind != kind) {
    return protocolError(
        fmt::format("server sent {} but {} was expected", what,
                    pending_.empty() ? "nothing" : pendingName(pending_.front().kind)));
  }
  return Status::ok();
}

Status Tracker::onBackend(char type, std::string_view payload) {
  switch (type) {
    case be::kDataRow:
      return onDataRow();
    case be::kNoticeResponse:
    case be::kParameterStatus:
    case be::kNotificationResponse:
      return Status::ok();  // asynchronous; validated by whoever reads them
    case be::kErrorResponse:
      return onErrorResponse();
    case be::kParseComplete:
      return onParseComplete();
    case be::kBindComplete:
      return onBindComplete();
    case be::kCloseComplete:
      return onCloseComplete();
    case be::kParameterDescription:
      return onParameterDescription(payload);
    case be::kRowDescription:
      return onRowDescription(payload);
    case be::kNoData:
      return onNoData();
    case be::kCommandComplete:
    case be::kEmptyQueryResponse:
    case be::kPortalSuspended:
      return onCommandEnd(type);
    case be::kCopyInResponse:
    case be::kCopyOutResponse:
      return onCopyResponse(type);
    case be::kCopyData:
      return copy_out_ ? Status::ok() : protocolError("server sent CopyData outside COPY OUT");
    case be::kCopyDone:
      if (!copy_out_) {
        return protocolError("server sent CopyDone outside COPY OUT");
      }
      copy_out_ = false;
      return Status::ok();
    case be::kFunctionCallResponse:
      return expect(Pending::kFunctionCall, "FunctionCallResponse");
    case be::kReadyForQuery:
      return onReadyForQuery(payload);
    default:
      break;
  }
  return protocolError(fmt::format("unexpected message type 0x{:02x} from server",
                                   static_cast<unsigned char>(type)));
}

Status Tracker::onParseComplete() {
  if (auto s = expect(Pending::kParse, "ParseComplete"); !s) {
    return s;
  }
  auto& item = pending_.front();
  statements_[item.name] = std::move(*item.stmt);
  pop();
  return Status::ok();
}

Status Tracker::onBindComplete() {
  if (auto s = expect(Pending::kBind, "BindComplete"); !s) {
    return s;
  }
  auto& item = pending_.front();
  Portal portal = std::move(*item.portal);
  portal.tag = item.tag;
  if (auto it = statements_.find(portal.statement); it != statements_.end()) {
    portal.columns = withFormats(it->second.columns, portal.result_formats);
    portal.described = it->second.described;
    portal.sql = it->second.sql;
  }
  portals_[item.name] = std::move(portal);
  pop();
  return Status::ok();
}

Status Tracker::onCloseComplete() {
  if (auto s = expect(Pending::kClose, "CloseComplete"); !s) {
    return s;
  }
  auto& item = pending_.front();
  if (item.target == 'S') {
    statements_.erase(item.name);
  } else {
    portals_.erase(item.name);
  }
  pop();
  return Status::ok();
}

Status Tracker::onDataRow() {
  if (!pending_.empty() && pending_.front().kind == Pending::kQuery) {
    if (!current_) {
      return protocolError("server sent DataRow before RowDescription");
    }
    ++rows_;
    return Status::ok();
  }
  if (pending_.empty() || pending_.front().kind != Pending::kExecute) {
    return protocolError("server sent DataRow with no query in progress");
  }
  if (!resolved_) {
    resolved_ = true;
    if (auto it = portals_.find(pending_.front().name); it != portals_.end()) {
      current_ = it->second.columns;
      rows_ = it->second.rows;
      if (auto st = statements_.find(it->second.statement); st != statements_.end()) {
        row_limit_ = st->second.row_limit;
        row_limit_by_ = &st->second.row_limit_by;  // statements outlive their portals' results
      }
    }
  }
  ++rows_;
  return Status::ok();
}

Status Tracker::onParameterDescription(std::string_view payload) {
  if (auto s = expect(Pending::kDescribeStatement, "ParameterDescription"); !s) {
    return s;
  }
  ParameterDescription pd;
  if (!decodeParameterDescription(payload, pd)) {
    return malformed("ParameterDescription");
  }
  if (auto it = statements_.find(pending_.front().name); it != statements_.end()) {
    it->second.param_types = std::move(pd.types);
  }
  return Status::ok();
}

Status Tracker::onRowDescription(std::string_view payload) {
  RowDescription rd;
  if (!decodeRowDescription(payload, rd)) {
    return malformed("RowDescription");
  }
  if (pending_.empty()) {
    return protocolError("server sent RowDescription with no query in progress");
  }
  auto& front = pending_.front();
  if (front.kind == Pending::kQuery) {
    current_ = toColumns(rd);
    described_ = current_;
    row_limit_ = front.row_limit;
    row_limit_by_ = &front.row_limit_by;
    rows_ = 0;  // each statement of the query has its own result
    return Status::ok();
  }
  if (front.kind == Pending::kDescribeStatement) {
    if (auto it = statements_.find(front.name); it != statements_.end()) {
      it->second.columns = sameOrNew(it->second.columns, rd);
      it->second.described = true;
      described_ = it->second.columns;
    } else {
      described_ = toColumns(rd);
    }
    pop();
    return Status::ok();
  }
  if (front.kind == Pending::kDescribePortal) {
    if (auto it = portals_.find(front.name); it != portals_.end()) {
      it->second.columns = sameOrNew(it->second.columns, rd);
      it->second.described = true;
      described_ = it->second.columns;
      teachStatement(it->second);
    } else {
      described_ = toColumns(rd);
    }
    pop();
    return Status::ok();
  }
  return protocolError(
      fmt::format("server sent RowDescription but {} was expected", pendingName(front.kind)));
}

void Tracker::teachStatement(const Portal& portal) {
  auto it = statements_.find(portal.statement);
  // The same statement the portal was bound to (an unnamed one may have been parsed again).
  if (it == statements_.end() || it->second.described || it->second.sql != portal.sql) {
    return;
  }
  it->second.columns = textFormats(portal.columns);
  it->second.described = true;
}

Status Tracker::onNoData() {
  if (pending_.empty() || (pending_.front().kind != Pending::kDescribeStatement &&
                           pending_.front().kind != Pending::kDescribePortal)) {
    return protocolError("server sent NoData with no Describe in progress");
  }
  auto& front = pending_.front();
  if (front.kind == Pending::kDescribeStatement) {
    if (auto it = statements_.find(front.name); it != statements_.end()) {
      it->second.columns = nullptr;
      it->second.described = true;
    }
  } else if (auto it = portals_.find(front.name); it != portals_.end()) {
    it->second.columns = nullptr;
    it->second.described = true;
    teachStatement(it->second);
  }
  pop();
  return Status::ok();
}

Status Tracker::onCommandEnd(char type) {
  copy_in_ = false;
  copy_out_ = false;
  if (!pending_.empty() && pending_.front().kind == Pending::kQuery &&
      type != be::kPortalSuspended) {
    current_ = nullptr;  // the next statement of a multi-statement query starts afresh
    return Status::ok();
  }
  if (pending_.empty() || pending_.front().kind != Pending::kExecute) {
    return protocolError("server ended a command that was not running");
  }
  if (row_limit_ > 0) {
    if (auto it = portals_.find(pending_.front().name); it != portals_.end()) {
      it->second.rows = rows_;  // the next Execute of this portal counts on
    }
  }
  pop();
  return Status::ok();
}

Status Tracker::onCopyResponse(char type) {
  if (pending_.empty() ||
      (pending_.front().kind != Pending::kQuery && pending_.front().kind != Pending::kExecute)) {
    return protocolError("server started COPY with no query in progress");
  }
  (type == be::kCopyInResponse ? copy_in_ : copy_out_) = true;
  return Status::ok();
}

Status Tracker::onErrorResponse() {
  copy_in_ = false;
  copy_out_ = false;
  current_ = nullptr;
  if (pending_.empty()) {
    return Status::ok();  // e.g. a FATAL before the server closes the connection
  }
  if (isCompletion(pending_.front().kind)) {
    return Status::ok();  // the query ends with ReadyForQuery
  }
  dropUntilSync();
  return Status::ok();
}

void Tracker::dropUntilSync() {
  // After an error in the extended protocol the server discards messages until Sync.
  while (!pending_.empty() && pending_.front().kind != Pending::kSync) {
    pop();
  }
}

Status Tracker::onReadyForQuery(std::string_view payload) {
  ReadyForQuery r;
  if (!decodeReadyForQuery(payload, r) || (r.status != 'I' && r.status != 'T' && r.status != 'E')) {
    return malformed("ReadyForQuery");
  }
  if (pending_.empty() || !isCompletion(pending_.front().kind)) {
    return protocolError(
        fmt::format("server sent ReadyForQuery but {} was expected",
                    pending_.empty() ? "nothing" : pendingName(pending_.front().kind)));
  }
  pop();
  txn_status_ = r.status;
  copy_in_ = false;
  copy_out_ = false;
  if (r.status == 'I') {
    portals_.clear();  // protocol-level portals do not survive the transaction
  }
  return Status::ok();
}

}  // namespace jg::pg
