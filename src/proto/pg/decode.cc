#include "proto/pg/decode.h"

#include "core/bytes.h"

// Every decoder follows the same shape: read each field through ByteReader (which refuses to
// read past the end), check every count against the bytes that remain *before* reserving space
// for it, and finally require that nothing is left over. A hostile count can therefore never
// allocate more than the payload itself could describe.
//
// Format codes (Bind, FunctionCall, RowDescription, Copy*Response) must be 0 (text) or 1
// (binary): the gateway masks by format, so an unknown format is malformed rather than passed on.

namespace jg::pg {
namespace {

constexpr size_t kFieldDescriptionMinSize = 1 + 4 + 2 + 4 + 2 + 4 + 2;

bool validFormat(int16_t f) {
  return f == 0 || f == 1;
}

// A count followed by `count` int16 format codes. Counts of formats, parameters and parameter
// types are read as unsigned 16-bit numbers, as the server reads them (up to 65535 parameters).
bool readFormats(ByteReader& r, std::vector<int16_t>& out) {
  uint16_t n;
  if (!r.readU16(n) || static_cast<size_t>(n) * 2 > r.remaining()) {
    return false;
  }
  out.clear();
  out.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    int16_t f;
    if (!r.readI16(f) || !validFormat(f)) {
      return false;
    }
    out.push_back(f);
  }
  return true;
}

// An int32 length (-1 = NULL) and that many bytes.
bool readValue(ByteReader& r, Bind::Value& out) {
  int32_t len;
  if (!r.readI32(len)) {
    return false;
  }
  if (len == -1) {
    out = Bind::Value{{}, true};
    return true;
  }
  if (len < 0) {
    return false;
  }
  out.null = false;
  return r.readBytes(static_cast<size_t>(len), out.bytes);
}

// An int16 count followed by that many length-prefixed values.
bool readValues(ByteReader& r, std::vector<Bind::Value>& out) {
  uint16_t n;
  if (!r.readU16(n) || static_cast<size_t>(n) * 4 > r.remaining()) {
    return false;
  }
  out.clear();
  out.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    Bind::Value v;
    if (!readValue(r, v)) {
      return false;
    }
    out.push_back(v);
  }
  return true;
}

// Parameter formats apply to none, all (one code) or each parameter.
bool formatsMatch(size_t formats, size_t values) {
  return formats == 0 || formats == 1 || formats == values;
}

bool readTarget(ByteReader& r, char& out) {
  uint8_t t;
  if (!r.readU8(t) || (t != 'S' && t != 'P')) {
    return false;
  }
  out = static_cast<char>(t);
  return true;
}

// A single C string filling the whole payload.
bool decodeSingleCString(std::string_view payload, std::string_view& out) {
  ByteReader r(payload);
  return r.readCString(out) && r.empty();
}

bool decodeStartupParams(ByteReader& r, StartupMessage& out) {
  out.params.clear();
  for (;;) {
    std::string_view key;
    if (!r.readCString(key)) {
      return false;
    }
    if (key.empty()) {
      return r.empty();
    }
    std::string_view value;
    if (!r.readCString(value)) {
      return false;
    }
    out.params.emplace_back(key, value);
  }
}

}  // namespace

bool decodeStartupPacket(std::string_view payload, StartupPacket& out) {
  ByteReader r(payload);
  uint32_t code;
  if (!r.readU32(code)) {
    return false;
  }
  switch (code) {
    case kSslRequestCode:
      out.kind = StartupKind::kSslRequest;
      return r.empty();
    case kGssEncRequestCode:
      out.kind = StartupKind::kGssEncRequest;
      return r.empty();
    case kCancelRequestCode:
      out.kind = StartupKind::kCancel;
      return r.readI32(out.cancel.process_id) && r.readI32(out.cancel.secret_key) && r.empty();
    default:
      // Any other version is a StartupMessage; the session decides which versions it serves.
      out.kind = StartupKind::kStartup;
      out.startup.protocol = code;
      return decodeStartupParams(r, out.startup);
  }
}

bool decodeQuery(std::string_view payload, Query& out) {
  return decodeSingleCString(payload, out.sql);
}

bool decodeParse(std::string_view payload, Parse& out) {
  ByteReader r(payload);
  uint16_t n;
  if (!r.readCString(out.name) || !r.readCString(out.sql) || !r.readU16(n) ||
      static_cast<size_t>(n) * 4 != r.remaining()) {
    return false;
  }
  out.param_types.clear();
  out.param_types.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    uint32_t oid;
    if (!r.readU32(oid)) {
      return false;
    }
    out.param_types.push_back(oid);
  }
  return r.empty();
}

bool decodeBind(std::string_view payload, Bind& out) {
  ByteReader r(payload);
  return r.readCString(out.portal) && r.readCString(out.statement) &&
         readFormats(r, out.param_formats) && readValues(r, out.params) &&
         formatsMatch(out.param_formats.size(), out.params.size()) &&
         readFormats(r, out.result_formats) && r.empty();
}

bool decodeDescribe(std::string_view payload, Describe& out) {
  ByteReader r(payload);
  return readTarget(r, out.target) && r.readCString(out.name) && r.empty();
}

bool decodeExecute(std::string_view payload, Execute& out) {
  ByteReader r(payload);
  return r.readCString(out.portal) && r.readI32(out.max_rows) && r.empty();
}

bool decodeClose(std::string_view payload, Close& out) {
  ByteReader r(payload);
  return readTarget(r, out.target) && r.readCString(out.name) && r.empty();
}

bool decodeFunctionCall(std::string_view payload, FunctionCall& out) {
  ByteReader r(payload);
  return r.readU32(out.function_oid) && readFormats(r, out.arg_formats) &&
         readValues(r, out.args) && formatsMatch(out.arg_formats.size(), out.args.size()) &&
         r.readI16(out.result_format) && validFormat(out.result_format) && r.empty();
}

bool decodeCopyFail(std::string_view payload, CopyFail& out) {
  return decodeSingleCString(payload, out.message);
}

bool decodePasswordMessage(std::string_view payload, std::string_view& password) {
  return decodeSingleCString(payload, password);
}

bool decodeSaslInitialResponse(std::string_view payload, SaslInitialResponse& out) {
  ByteReader r(payload);
  int32_t len;
  if (!r.readCString(out.mechanism) || !r.readI32(len)) {
    return false;
  }
  if (len == -1) {
    out.data = {};
    return r.empty();
  }
  return len >= 0 && static_cast<size_t>(len) == r.remaining() &&
         r.readBytes(static_cast<size_t>(len), out.data);
}

bool decodeEmpty(std::string_view payload) {
  return payload.empty();
}

bool decodeAuthentication(std::string_view payload, Authentication& out) {
  ByteReader r(payload);
  int32_t code;
  if (!r.readI32(code)) {
    return false;
  }
  out.code = static_cast<AuthCode>(code);
  out.md5_salt = {};
  out.mechanisms.clear();
  out.data = {};
  switch (out.code) {
    case AuthCode::kOk:
    case AuthCode::kKerberosV5:
    case AuthCode::kCleartextPassword:
    case AuthCode::kGss:
    case AuthCode::kSspi:
      return r.empty();
    case AuthCode::kMd5Password:
      return r.readBytes(4, out.md5_salt) && r.empty();
    case AuthCode::kSasl:
      for (;;) {
        std::string_view mech;
        if (!r.readCString(mech)) {
          return false;
        }
        if (mech.empty()) {
          return !out.mechanisms.empty() && r.empty();
        }
        out.mechanisms.push_back(mech);
      }
    case AuthCode::kGssContinue:
    case AuthCode::kSaslContinue:
    case AuthCode::kSaslFinal:
      out.data = r.rest();
      return true;
  }
  return false;  // unknown authentication request
}

bool decodeBackendKeyData(std::string_view payload, BackendKeyData& out) {
  ByteReader r(payload);
  return r.readI32(out.process_id) && r.readI32(out.secret_key) && r.empty();
}

bool decodeParameterStatus(std::string_view payload, ParameterStatus& out) {
  ByteReader r(payload);
  return r.readCString(out.name) && r.readCString(out.value) && r.empty();
}

bool decodeReadyForQuery(std::string_view payload, ReadyForQuery& out) {
  ByteReader r(payload);
  uint8_t s;
  if (!r.readU8(s) || !r.empty() || (s != 'I' && s != 'T' && s != 'E')) {
    return false;
  }
  out.status = static_cast<char>(s);
  return true;
}

bool decodeRowDescription(std::string_view payload, RowDescription& out) {
  ByteReader r(payload);
  int16_t n;
  if (!r.readI16(n) || n < 0 || static_cast<size_t>(n) * kFieldDescriptionMinSize > r.remaining()) {
    return false;
  }
  out.fields.clear();
  out.fields.reserve(static_cast<size_t>(n));
  for (int16_t i = 0; i < n; ++i) {
    FieldDescription f;
    if (!r.readCString(f.name) || !r.readU32(f.table_oid) || !r.readI16(f.column) ||
        !r.readU32(f.type_oid) || !r.readI16(f.type_size) || !r.readI32(f.type_modifier) ||
        !r.readI16(f.format) || !validFormat(f.format)) {
      return false;
    }
    out.fields.push_back(f);
  }
  return r.empty();
}

bool decodeParameterDescription(std::string_view payload, ParameterDescription& out) {
  ByteReader r(payload);
  uint16_t n;
  if (!r.readU16(n) || static_cast<size_t>(n) * 4 != r.remaining()) {
    return false;
  }
  out.types.clear();
  out.types.reserve(n);
  for (uint16_t i = 0; i < n; ++i) {
    uint32_t oid;
    if (!r.readU32(oid)) {
      return false;
    }
    out.types.push_back(oid);
  }
  return r.empty();
}

bool decodeCommandComplete(std::string_view payload, CommandComplete& out) {
  return decodeSingleCString(payload, out.tag);
}

bool decodeErrorFields(std::string_view payload, ErrorFields& out) {
  ByteReader r(payload);
  out.fields.clear();
  for (;;) {
    uint8_t code;
    if (!r.readU8(code)) {
      return false;
    }
    if (code == 0) {
      return r.empty();
    }
    std::string_view value;
    if (!r.readCString(value)) {
      return false;
    }
    out.fields.emplace_back(static_cast<char>(code), value);
  }
}

bool decodeNotificationResponse(std::string_view payload, NotificationResponse& out) {
  ByteReader r(payload);
  return r.readI32(out.process_id) && r.readCString(out.channel) && r.readCString(out.payload) &&
         r.empty();
}

bool decodeCopyResponse(std::string_view payload, CopyResponse& out) {
  ByteReader r(payload);
  uint8_t format;
  if (!r.readU8(format) || !validFormat(format)) {
    return false;
  }
  out.format = static_cast<int8_t>(format);
  return readFormats(r, out.column_formats) && r.empty();
}

bool decodeNegotiateProtocolVersion(std::string_view payload, NegotiateProtocolVersion& out) {
  ByteReader r(payload);
  int32_t n;
  // Each option name takes at least its NUL byte.
  if (!r.readU32(out.newest_minor) || !r.readI32(n) || n < 0 ||
      static_cast<size_t>(n) > r.remaining()) {
    return false;
  }
  out.unrecognized.clear();
  out.unrecognized.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    std::string_view name;
    if (!r.readCString(name)) {
      return false;
    }
    out.unrecognized.push_back(name);
  }
  return r.empty();
}

bool decodeFunctionCallResponse(std::string_view payload, FunctionCallResponse& out) {
  ByteReader r(payload);
  Bind::Value v;
  if (!readValue(r, v) || !r.empty()) {
    return false;
  }
  out.value = v.bytes;
  out.null = v.null;
  return true;
}

DataRowReader::DataRowReader(std::string_view payload) : payload_(payload) {
  ByteReader r(payload);
  int16_t n;
  if (!r.readI16(n) || n < 0 || static_cast<size_t>(n) * 4 > r.remaining()) {
    return;
  }
  columns_ = n;
  pos_ = 2;
  valid_ = true;
}

bool DataRowReader::next(Cell& out) {
  if (!valid_) {
    return false;
  }
  if (read_ == columns_) {
    valid_ = pos_ == payload_.size();  // leftover bytes after the last cell are malformed
    return false;
  }
  ByteReader r(payload_.substr(pos_));
  int32_t len;
  if (!r.readI32(len) || len < -1) {
    valid_ = false;
    return false;
  }
  if (len == -1) {
    out.bytes = {};
    out.null = true;
  } else if (!r.readBytes(static_cast<size_t>(len), out.bytes)) {
    valid_ = false;
    return false;
  } else {
    out.null = false;
  }
  pos_ += r.position();
  ++read_;
  return true;
}

}  // namespace jg::pg
