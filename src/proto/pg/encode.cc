// decode.h first: encode.h names DataRowReader::Cell without including it.
#include "proto/pg/encode.h"
#include "proto/pg/decode.h"

#include <limits>

// Each free function writes exactly one whole message or nothing: if the builder fails (a C
// string with an embedded NUL, a count beyond int16, a value beyond int32), `out` is restored to
// its previous size, so a stream being built never holds a half-written message. Callers that
// must know can compare out.size() before and after (every message is at least 4 bytes).

namespace jg::pg {
namespace {

constexpr size_t kMaxI32 = static_cast<size_t>(std::numeric_limits<int32_t>::max());

// Runs `body` between begin(type) and end() and rolls `out` back on failure.
template <typename Body>
void build(std::string& out, char type, Body&& body) {
  size_t mark = out.size();
  MessageBuilder b(out);
  b.begin(type);
  body(b.w());
  b.end();
  if (!b.ok()) {
    out.resize(mark);
  }
}

// Counts are unsigned 16-bit numbers on the wire.
void count16(ByteWriter& w, size_t n) {
  if (n > 0xffff) {
    w.fail();
    return;
  }
  w.i16(static_cast<int16_t>(static_cast<uint16_t>(n)));
}

void formats(ByteWriter& w, const std::vector<int16_t>& f) {
  count16(w, f.size());
  for (int16_t v : f) {
    w.i16(v);
  }
}

void value(ByteWriter& w, std::string_view bytes, bool null) {
  if (null) {
    w.i32(-1);
    return;
  }
  if (bytes.size() > kMaxI32) {
    w.fail();
    return;
  }
  w.i32(static_cast<int32_t>(bytes.size()));
  w.bytes(bytes);
}

void values(ByteWriter& w, const std::vector<Bind::Value>& v) {
  count16(w, v.size());
  for (const auto& p : v) {
    value(w, p.bytes, p.null);
  }
}

void startupCode(std::string& out, uint32_t code) {
  build(out, 0, [&](ByteWriter& w) { w.u32(code); });
}

// Error texts the gateway originates may quote client input; a NUL would end the field early,
// so it is replaced rather than letting the whole error be dropped.
std::string_view sanitize(std::string_view s, std::string& storage) {
  if (s.find('\0') == std::string_view::npos) {
    return s;
  }
  storage.assign(s);
  for (char& c : storage) {
    if (c == '\0') {
      c = '?';
    }
  }
  return storage;
}

}  // namespace

void MessageBuilder::begin(char type) {
  if (open_) {
    w_.fail();
    return;
  }
  if (type != 0) {
    w_.u8(static_cast<uint8_t>(type));
  }
  start_ = w_.size();
  w_.i32(0);
  open_ = true;
}

void MessageBuilder::end() {
  if (!open_) {
    w_.fail();
    return;
  }
  open_ = false;
  size_t len = w_.size() - start_;
  if (len > kMaxI32) {
    w_.fail();
    return;
  }
  w_.patchI32(start_, static_cast<int32_t>(len));
}

// ---- Startup phase ----

void encodeStartupMessage(std::string& out, const StartupMessage& m) {
  build(out, 0, [&](ByteWriter& w) {
    w.u32(m.protocol);
    for (const auto& [k, v] : m.params) {
      if (k.empty()) {
        w.fail();  // an empty key would end the list early
      }
      w.cstring(k);
      w.cstring(v);
    }
    w.u8(0);
  });
}

void encodeSslRequest(std::string& out) {
  startupCode(out, kSslRequestCode);
}

void encodeGssEncRequest(std::string& out) {
  startupCode(out, kGssEncRequestCode);
}

void encodeCancelRequest(std::string& out, const CancelRequest& m) {
  build(out, 0, [&](ByteWriter& w) {
    w.u32(kCancelRequestCode);
    w.i32(m.process_id);
    w.i32(m.secret_key);
  });
}

// ---- Frontend ----

void encodeQuery(std::string& out, std::string_view sql) {
  build(out, fe::kQuery, [&](ByteWriter& w) { w.cstring(sql); });
}

void encodeParse(std::string& out, const Parse& m) {
  build(out, fe::kParse, [&](ByteWriter& w) {
    w.cstring(m.name);
    w.cstring(m.sql);
    count16(w, m.param_types.size());
    for (uint32_t oid : m.param_types) {
      w.u32(oid);
    }
  });
}

void encodeBind(std::string& out, const Bind& m) {
  build(out, fe::kBind, [&](ByteWriter& w) {
    w.cstring(m.portal);
    w.cstring(m.statement);
    formats(w, m.param_formats);
    values(w, m.params);
    formats(w, m.result_formats);
  });
}

void encodeDescribe(std::string& out, const Describe& m) {
  build(out, fe::kDescribe, [&](ByteWriter& w) {
    w.u8(static_cast<uint8_t>(m.target));
    w.cstring(m.name);
  });
}

void encodeExecute(std::string& out, const Execute& m) {
  build(out, fe::kExecute, [&](ByteWriter& w) {
    w.cstring(m.portal);
    w.i32(m.max_rows);
  });
}

void encodeClose(std::string& out, const Close& m) {
  build(out, fe::kClose, [&](ByteWriter& w) {
    w.u8(static_cast<uint8_t>(m.target));
    w.cstring(m.name);
  });
}

void encodeFunctionCall(std::string& out, const FunctionCall& m) {
  build(out, fe::kFunctionCall, [&](ByteWriter& w) {
    w.u32(m.function_oid);
    formats(w, m.arg_formats);
    values(w, m.args);
    w.i16(m.result_format);
  });
}

void encodeEmpty(std::string& out, char type) {
  build(out, type, [](ByteWriter&) {});
}

void encodeCopyData(std::string& out, std::string_view data) {
  build(out, fe::kCopyData, [&](ByteWriter& w) { w.bytes(data); });
}

void encodeCopyFail(std::string& out, std::string_view message) {
  build(out, fe::kCopyFail, [&](ByteWriter& w) { w.cstring(message); });
}

void encodePasswordMessage(std::string& out, std::string_view password) {
  build(out, fe::kPassword, [&](ByteWriter& w) { w.cstring(password); });
}

void encodeSaslInitialResponse(std::string& out, std::string_view mechanism,
                               std::string_view data) {
  build(out, fe::kPassword, [&](ByteWriter& w) {
    w.cstring(mechanism);
    value(w, data, false);
  });
}

void encodeSaslResponse(std::string& out, std::string_view data) {
  build(out, fe::kPassword, [&](ByteWriter& w) { w.bytes(data); });
}

// ---- Backend ----

void encodeAuthentication(std::string& out, const Authentication& m) {
  build(out, be::kAuthentication, [&](ByteWriter& w) {
    w.i32(static_cast<int32_t>(m.code));
    switch (m.code) {
      case AuthCode::kMd5Password:
        if (m.md5_salt.size() != 4) {
          w.fail();
        }
        w.bytes(m.md5_salt);
        break;
      case AuthCode::kSasl:
        for (std::string_view mech : m.mechanisms) {
          if (mech.empty()) {
            w.fail();
          }
          w.cstring(mech);
        }
        w.u8(0);
        break;
      case AuthCode::kGssContinue:
      case AuthCode::kSaslContinue:
      case AuthCode::kSaslFinal:
        w.bytes(m.data);
        break;
      default:
        break;
    }
  });
}

void encodeBackendKeyData(std::string& out, const BackendKeyData& m) {
  build(out, be::kBackendKeyData, [&](ByteWriter& w) {
    w.i32(m.process_id);
    w.i32(m.secret_key);
  });
}

void encodeParameterStatus(std::string& out, std::string_view name, std::string_view value) {
  build(out, be::kParameterStatus, [&](ByteWriter& w) {
    w.cstring(name);
    w.cstring(value);
  });
}

void encodeReadyForQuery(std::string& out, char status) {
  build(out, be::kReadyForQuery, [&](ByteWriter& w) { w.u8(static_cast<uint8_t>(status)); });
}

void encodeRowDescription(std::string& out, const RowDescription& m) {
  build(out, be::kRowDescription, [&](ByteWriter& w) {
    count16(w, m.fields.size());
    for (const FieldDescription& f : m.fields) {
      w.cstring(f.name);
      w.u32(f.table_oid);
      w.i16(f.column);
      w.u32(f.type_oid);
      w.i16(f.type_size);
      w.i32(f.type_modifier);
      w.i16(f.format);
    }
  });
}

void encodeParameterDescription(std::string& out, const ParameterDescription& m) {
  build(out, be::kParameterDescription, [&](ByteWriter& w) {
    count16(w, m.types.size());
    for (uint32_t oid : m.types) {
      w.u32(oid);
    }
  });
}

void encodeDataRow(std::string& out, const std::vector<DataRowReader::Cell>& cells) {
  build(out, be::kDataRow, [&](ByteWriter& w) {
    count16(w, cells.size());
    for (const auto& c : cells) {
      value(w, c.bytes, c.null);
    }
  });
}

void encodeCommandComplete(std::string& out, std::string_view tag) {
  build(out, be::kCommandComplete, [&](ByteWriter& w) { w.cstring(tag); });
}

void encodeErrorFields(std::string& out, char type, const ErrorFields& m) {
  build(out, type, [&](ByteWriter& w) {
    for (const auto& [code, text] : m.fields) {
      if (code == 0) {
        w.fail();  // a zero code is the terminator
      }
      w.u8(static_cast<uint8_t>(code));
      w.cstring(text);
    }
    w.u8(0);
  });
}

void encodeNotificationResponse(std::string& out, const NotificationResponse& m) {
  build(out, be::kNotificationResponse, [&](ByteWriter& w) {
    w.i32(m.process_id);
    w.cstring(m.channel);
    w.cstring(m.payload);
  });
}

void encodeCopyResponse(std::string& out, char type, const CopyResponse& m) {
  build(out, type, [&](ByteWriter& w) {
    w.u8(static_cast<uint8_t>(m.format));
    formats(w, m.column_formats);
  });
}

void encodeNegotiateProtocolVersion(std::string& out, const NegotiateProtocolVersion& m) {
  build(out, be::kNegotiateProtocolVersion, [&](ByteWriter& w) {
    w.u32(m.newest_minor);
    if (m.unrecognized.size() > kMaxI32) {
      w.fail();
    }
    w.i32(static_cast<int32_t>(m.unrecognized.size()));
    for (std::string_view name : m.unrecognized) {
      w.cstring(name);
    }
  });
}

void encodeFunctionCallResponse(std::string& out, const FunctionCallResponse& m) {
  build(out, be::kFunctionCallResponse, [&](ByteWriter& w) { value(w, m.value, m.null); });
}

void encodeError(std::string& out, std::string_view severity, std::string_view sqlstate,
                 std::string_view message, std::string_view detail, std::string_view hint,
                 char type) {
  std::string s0, s1, s2;
  message = sanitize(message, s0);
  detail = sanitize(detail, s1);
  hint = sanitize(hint, s2);
  build(out, type, [&](ByteWriter& w) {
    w.u8('S');
    w.cstring(severity);
    w.u8('V');
    w.cstring(severity);
    w.u8('C');
    w.cstring(sqlstate);
    w.u8('M');
    w.cstring(message);
    if (!detail.empty()) {
      w.u8('D');
      w.cstring(detail);
    }
    if (!hint.empty()) {
      w.u8('H');
      w.cstring(hint);
    }
    w.u8(0);
  });
}

}  // namespace jg::pg
