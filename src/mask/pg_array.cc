#include "mask/pg_array.h"

#include <limits>

#include "core/bytes.h"
#include "mask/scanner.h"

namespace jg::mask {
namespace {

bool isArraySpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool equalsNullWord(std::string_view s) {
  if (s.size() != 4) {
    return false;
  }
  static constexpr char kNull[] = "null";
  for (size_t i = 0; i < 4; ++i) {
    if ((s[i] | 0x20) != kNull[i]) {
      return false;
    }
  }
  return true;
}

// Reads one element starting at `i` (not '{', '}' or ','). Sets `end` past it, `value` to the
// decoded text and `is_null` for an unquoted NULL.
Status readElement(std::string_view in, size_t i, size_t& end, std::string& value, bool& is_null) {
  value.clear();
  is_null = false;
  if (in[i] == '"') {
    size_t j = i + 1;
    while (j < in.size() && in[j] != '"') {
      if (in[j] == '\\') {
        ++j;
        if (j >= in.size()) {
          break;
        }
      }
      value.push_back(in[j++]);
    }
    if (j >= in.size()) {
      return invalidArgument("array value: unterminated quoted element");
    }
    end = j + 1;
    return Status::ok();
  }
  size_t j = i;
  bool escaped = false;
  while (j < in.size() && in[j] != ',' && in[j] != '}' && in[j] != '{' && in[j] != '"') {
    if (in[j] == '\\') {
      escaped = true;
      if (++j >= in.size()) {
        return invalidArgument("array value: dangling backslash");
      }
    }
    value.push_back(in[j++]);
  }
  end = j;
  while (!value.empty() && isArraySpace(value.back()) && !escaped) {
    value.pop_back();
  }
  is_null = !escaped && equalsNullWord(value);
  return Status::ok();
}

// Visits every element of a text array: `visit(start, end, value, is_null)`.
template <typename Visit>
Status walkTextArray(std::string_view in, Visit&& visit) {
  size_t i = 0;
  if (!in.empty() && in[0] == '[') {
    i = in.find('=');
    if (i == std::string_view::npos) {
      return invalidArgument("array value: bad bounds decoration");
    }
    ++i;
  }
  if (i >= in.size() || in[i] != '{') {
    return invalidArgument("array value: expected '{'");
  }
  int depth = 0;
  std::string value;
  while (i < in.size()) {
    char c = in[i];
    if (c == '{') {
      if (++depth > kMaxArrayDims) {
        return invalidArgument("array value: too many dimensions");
      }
      ++i;
    } else if (c == '}') {
      ++i;
      if (--depth == 0) {
        break;
      }
    } else if (c == ',' || isArraySpace(c)) {
      ++i;
    } else if (depth == 0) {
      return invalidArgument("array value: text outside braces");
    } else {
      size_t end = i;
      bool is_null = false;
      if (Status s = readElement(in, i, end, value, is_null); !s) {
        return s;
      }
      if (Status s = visit(i, end, std::string_view(value), is_null); !s) {
        return s;
      }
      i = end;
    }
  }
  if (depth != 0 || i != in.size()) {
    return invalidArgument("array value: unbalanced braces");
  }
  return Status::ok();
}

}  // namespace

void appendTextArrayElement(std::string_view value, std::string& out) {
  bool quote = value.empty() || equalsNullWord(value);
  for (char c : value) {
    if (c == '{' || c == '}' || c == ',' || c == '"' || c == '\\' || isArraySpace(c)) {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
}

Result<CellResult> rewriteTextArray(std::string_view in, const ArrayElementFn& fn,
                                    std::string& out) {
  std::string result, elem;
  size_t copied = 0;
  bool changed = false;
  Status s = walkTextArray(
      in, [&](size_t start, size_t end, std::string_view value, bool is_null) -> Status {
        if (is_null) {
          return Status::ok();
        }
        elem.clear();
        Result<CellResult> r = fn(value, elem);
        if (!r) {
          return r.status();
        }
        if (*r == CellResult::kUnchanged) {
          return Status::ok();
        }
        result.append(in.substr(copied, start - copied));
        if (*r == CellResult::kNull) {
          result.append("NULL");
        } else {
          appendTextArrayElement(elem, result);
        }
        copied = end;
        changed = true;
        return Status::ok();
      });
  if (!s) {
    return s;
  }
  if (!changed) {
    return CellResult::kUnchanged;
  }
  result.append(in.substr(copied));
  out = std::move(result);
  return CellResult::kRewritten;
}

Result<std::vector<std::optional<std::string>>> parseTextArray(std::string_view in) {
  std::vector<std::optional<std::string>> items;
  Status s = walkTextArray(in, [&](size_t, size_t, std::string_view v, bool is_null) -> Status {
    if (is_null) {
      items.emplace_back(std::nullopt);
    } else {
      items.emplace_back(std::string(v));
    }
    return Status::ok();
  });
  if (!s) {
    return s;
  }
  return items;
}

Result<CellResult> rewriteBinaryArray(std::string_view in, uint32_t element_oid,
                                      const ArrayElementFn& fn, std::string& out) {
  ByteReader r(in);
  int32_t ndim = 0, flags = 0;
  uint32_t oid = 0;
  if (!r.readI32(ndim) || !r.readI32(flags) || !r.readU32(oid)) {
    return invalidArgument("binary array: truncated header");
  }
  if (ndim < 0 || ndim > kMaxArrayDims || (flags != 0 && flags != 1)) {
    return invalidArgument("binary array: bad header");
  }
  if (oid != element_oid) {
    return invalidArgument("binary array: unexpected element type " + std::to_string(oid));
  }
  uint64_t count = ndim == 0 ? 0 : 1;
  for (int d = 0; d < ndim; ++d) {
    int32_t size = 0, lbound = 0;
    if (!r.readI32(size) || !r.readI32(lbound) || size < 0) {
      return invalidArgument("binary array: bad dimension");
    }
    count *= static_cast<uint64_t>(size);
    if (count > in.size() / 4) {
      return invalidArgument("binary array: more elements than bytes");
    }
  }
  std::string result(in.substr(0, r.position()));
  ByteWriter w(result);
  std::string elem;
  bool changed = false, any_null = false;
  for (uint64_t k = 0; k < count; ++k) {
    int32_t len = 0;
    std::string_view bytes;
    if (!r.readI32(len) || len < -1 ||
        (len >= 0 && !r.readBytes(static_cast<size_t>(len), bytes))) {
      return invalidArgument("binary array: truncated element");
    }
    if (len == -1) {
      w.i32(-1);
      continue;
    }
    elem.clear();
    Result<CellResult> res = fn(bytes, elem);
    if (!res) {
      return res.status();
    }
    if (*res == CellResult::kNull) {
      w.i32(-1);
      any_null = changed = true;
    } else {
      std::string_view v = *res == CellResult::kRewritten ? std::string_view(elem) : bytes;
      if (v.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        return Status::error(Code::kResourceExhausted, "binary array: element too large");
      }
      changed |= *res == CellResult::kRewritten;
      w.i32(static_cast<int32_t>(v.size()));
      w.bytes(v);
    }
  }
  if (!r.empty()) {
    return invalidArgument("binary array: trailing bytes");
  }
  if (!changed) {
    return CellResult::kUnchanged;
  }
  if (any_null) {
    w.patchI32(4, 1);
  }
  out = std::move(result);
  return CellResult::kRewritten;
}

}  // namespace jg::mask
