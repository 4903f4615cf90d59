#include "proto/pg/param_text.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>

namespace jg::pg {
namespace {

constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                   kInt4 = 23, kText = 25, kOid = 26, kJson = 114, kXml = 142, kFloat4 = 700,
                   kFloat8 = 701, kBpchar = 1042, kVarchar = 1043, kDate = 1082, kTimestamp = 1114,
                   kTimestamptz = 1184, kNumeric = 1700, kUuid = 2950, kJsonb = 3802;

// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
constexpr int64_t kPgEpochDays = 10957;

uint64_t be(std::string_view b) {
  uint64_t v = 0;
  for (unsigned char c : b) {
    v = (v << 8) | c;
  }
  return v;
}

std::string hex(std::string_view b) {
  std::string out = "\\x";
  for (unsigned char c : b) {
    out += fmt::format("{:02x}", c);
  }
  return out;
}

std::string civil(int64_t days, int64_t micros_of_day, bool with_time) {
  std::time_t secs =
      static_cast<std::time_t>((days + kPgEpochDays) * 86400 + micros_of_day / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  if (with_time) {
    out += fmt::format(" {:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (int64_t frac = micros_of_day % 1000000; frac != 0) {
      std::string f = fmt::format("{:06}", frac);
      out += "." + f.substr(0, f.find_last_not_of('0') + 1);
    }
  }
  return out;
}

std::optional<std::string> timestamp(std::string_view b, bool tz) {
  if (b.size() != 8) {
    return std::nullopt;
  }
  auto us = static_cast<int64_t>(be(b));
  if (us == std::numeric_limits<int64_t>::max()) {
    return "infinity";
  }
  if (us == std::numeric_limits<int64_t>::min()) {
    return "-infinity";
  }
  int64_t days = us / 86'400'000'000LL;
  int64_t rest = us % 86'400'000'000LL;
  if (rest < 0) {
    rest += 86'400'000'000LL;
    --days;
  }
  return civil(days, rest, true) + (tz ? "+00" : "");
}

std::optional<std::string> numeric(std::string_view b) {
  if (b.size() < 8) {
    return std::nullopt;
  }
  auto ndigits = static_cast<int16_t>(be(b.substr(0, 2)));
  auto weight = static_cast<int16_t>(be(b.substr(2, 2)));
  auto sign = static_cast<uint16_t>(be(b.substr(4, 2)));
  auto dscale = static_cast<int16_t>(be(b.substr(6, 2)));
  if (ndigits < 0 || dscale < 0 || b.size() != 8 + 2 * static_cast<size_t>(ndigits)) {
    return std::nullopt;
  }
  switch (sign) {
    case 0xC000:
      return "NaN";
    case 0xD000:
      return "Infinity";
    case 0xF000:
      return "-Infinity";
    case 0x0000:
    case 0x4000:
      break;
    default:
      return std::nullopt;
  }
  auto digit = [&](int i) -> int {
    return i >= 0 && i < ndigits ? static_cast<int>(be(b.substr(8 + 2 * i, 2))) : 0;
  };
  std::string out = sign == 0x4000 ? "-" : "";
  if (weight < 0) {
    out += "0";
  } else {
    for (int i = 0; i <= weight; ++i) {
      out += i == 0 ? std::to_string(digit(i)) : fmt::format("{:04}", digit(i));
    }
  }
  if (dscale > 0) {
    std::string frac;
    for (int i = weight + 1; static_cast<int>(frac.size()) < dscale; ++i) {
      frac += fmt::format("{:04}", digit(i));
    }
    out += "." + frac.substr(0, dscale);
  }
  return out;
}

std::optional<std::string> uuid(std::string_view b) {
  if (b.size() != 16) {
    return std::nullopt;
  }
  std::string h = hex(b).substr(2);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

template <typename F>
std::string floatText(F v) {
  return fmt::format("{}", v);
}

// The text form of a binary value of a type decoded here; nullopt for other types or bytes
// that do not fit the type.
std::optional<std::string> decode(std::string_view b, uint32_t oid) {
  switch (oid) {
    case kInt2:
      return b.size() == 2 ? std::optional(std::to_string(static_cast<int16_t>(be(b))))
                           : std::nullopt;
    case kInt4:
      return b.size() == 4 ? std::optional(std::to_string(static_cast<int32_t>(be(b))))
                           : std::nullopt;
    case kOid:
      return b.size() == 4 ? std::optional(std::to_string(static_cast<uint32_t>(be(b))))
                           : std::nullopt;
    case kInt8:
      return b.size() == 8 ? std::optional(std::to_string(static_cast<int64_t>(be(b))))
                           : std::nullopt;
    case kFloat4:
      return b.size() == 4
                 ? std::optional(floatText(std::bit_cast<float>(static_cast<uint32_t>(be(b)))))
                 : std::nullopt;
    case kFloat8:
      return b.size() == 8 ? std::optional(floatText(std::bit_cast<double>(be(b)))) : std::nullopt;
    case kBool:
      return b.size() == 1 ? std::optional(std::string(b[0] != 0 ? "t" : "f")) : std::nullopt;
    case kText:
    case kVarchar:
    case kBpchar:
    case kName:
    case kChar:
    case kJson:
    case kXml:
      return std::string(b);
    case kJsonb:
      return !b.empty() && b[0] == 1 ? std::optional(std::string(b.substr(1))) : std::nullopt;
    case kUuid:
      return uuid(b);
    case kNumeric:
      return numeric(b);
    case kDate:
      return b.size() == 4 ? std::optional(civil(static_cast<int32_t>(be(b)), 0, false))
                           : std::nullopt;
    case kTimestamp:
    case kTimestamptz:
      return timestamp(b, oid == kTimestamptz);
    default:
      return std::nullopt;
  }
}

std::string_view typeName(uint32_t oid) {
  switch (oid) {
    case kBool:
      return "bool";
    case kBytea:
      return "bytea";
    case kChar:
      return "char";
    case kName:
      return "name";
    case kInt8:
      return "int8";
    case kInt2:
      return "int2";
    case kInt4:
      return "int4";
    case kText:
      return "text";
    case kOid:
      return "oid";
    case kJson:
      return "json";
    case kXml:
      return "xml";
    case kFloat4:
      return "float4";
    case kFloat8:
      return "float8";
    case kBpchar:
      return "bpchar";
    case kVarchar:
      return "varchar";
    case kDate:
      return "date";
    case kTimestamp:
      return "timestamp";
    case kTimestamptz:
      return "timestamptz";
    case kNumeric:
      return "numeric";
    case kUuid:
      return "uuid";
    case kJsonb:
      return "jsonb";
    default:
      return {};
  }
}

}  // namespace

int16_t paramFormat(const std::vector<int16_t>& formats, size_t i) {
  if (formats.empty()) {
    return 0;
  }
  return formats.size() == 1 ? formats[0] : (i < formats.size() ? formats[i] : 0);
}

ParamText paramText(std::string_view bytes, int16_t format, uint32_t type_oid) {
  if (format == 0) {
    return {std::string(bytes), {}};
  }
  if (type_oid == kBytea) {
    return {hex(bytes), "binary bytea"};
  }
  if (auto text = decode(bytes, type_oid)) {
    return {std::move(*text), "binary " + std::string(typeName(type_oid))};
  }
  std::string_view name = typeName(type_oid);
  std::string why = type_oid == 0 ? "binary, type not specified"
                    : !name.empty()
                        ? fmt::format("binary {}, {} bytes do not fit the type", name, bytes.size())
                        : fmt::format("binary oid {}", type_oid);
  return {hex(bytes), why + ", shown as hex"};
}

}  // namespace jg::pg
