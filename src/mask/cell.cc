#include "mask/cell.h"

#include <charconv>

#include "core/bytes.h"
#include "mask/json_text.h"
#include "mask/pg_array.h"
#include "mask/scanner.h"
#include "mask/secrets.h"

namespace jg::mask {

bool isTextLike(uint32_t t) {
  return t == oid::kText || t == oid::kVarchar || t == oid::kBpchar || t == oid::kName ||
         t == oid::kJson || t == oid::kXml || t == oid::kJsonb;
}

uint32_t textArrayElement(uint32_t array_oid) {
  switch (array_oid) {
    case oid::kTextArray:
      return oid::kText;
    case oid::kVarcharArray:
      return oid::kVarchar;
    case oid::kBpcharArray:
      return oid::kBpchar;
    case oid::kNameArray:
      return oid::kName;
    case oid::kJsonArray:
      return oid::kJson;
    case oid::kJsonbArray:
      return oid::kJsonb;
    default:
      return 0;
  }
}

ColumnPlan planColumn(const Profile& profile, uint32_t type_oid, int16_t format,
                      const ColumnRule* rule) {
  ColumnPlan p;
  p.profile = &profile;
  p.rule = rule;
  p.type_oid = type_oid;
  p.format = format;
  p.output_type_oid = type_oid;
  bool text = format == 0;
  if (type_oid == 0) {
    p.kind = text ? ValueKind::kText : ValueKind::kOtherBinary;
  } else if (type_oid == oid::kJson || (type_oid == oid::kJsonb && text)) {
    p.kind = ValueKind::kJson;
  } else if (type_oid == oid::kJsonb) {
    p.kind = ValueKind::kJsonbBinary;
  } else if (isTextLike(type_oid)) {
    p.kind = ValueKind::kText;
  } else if (uint32_t elem = textArrayElement(type_oid); elem != 0) {
    p.kind = text ? ValueKind::kTextArray : ValueKind::kBinaryArray;
    p.element_oid = elem;
    p.element_json = elem == oid::kJson || elem == oid::kJsonb;
  } else {
    p.kind = text ? ValueKind::kOtherText : ValueKind::kOtherBinary;
  }
  if (rule != nullptr) {
    p.action = Action::kRule;
    if (p.kind == ValueKind::kOtherText && rule->strategy != Strategy::kNull) {
      p.output_type_oid = oid::kText;
    }
  } else if (profile.hasDetectors()) {
    p.action = Action::kDetect;
  }
  return p;
}

Result<bool> Scanner::rawClean(const Profile& profile, std::string_view in) {
  if (in.find('\\') != std::string_view::npos) {
    return false;
  }
  Result<bool> hit = prefilterHits(profile, in);
  if (!hit) {
    return hit.status();
  }
  return !*hit;
}

Result<CellResult> Scanner::maskByKind(const ColumnPlan& plan, std::string_view in,
                                       std::string& out) {
  const ColumnRule* rule = plan.action == Action::kRule ? plan.rule : nullptr;
  switch (plan.kind) {
    case ValueKind::kText:
      return rule ? ruleText(*rule, in, out) : detectText(*plan.profile, in, out, true);
    case ValueKind::kOtherText:
      return rule ? ruleText(*rule, in, out) : detectOpaque(plan, in);
    case ValueKind::kOtherBinary:
      if (rule) {
        tally_.push_back(&rule->label);
        ++tally_values_;
        return CellResult::kNull;
      }
      if (plan.type_oid == oid::kInt2 || plan.type_oid == oid::kInt4 ||
          plan.type_oid == oid::kInt8) {
        return detectBinaryInt(plan, in);
      }
      return detectOpaque(plan, in);
    case ValueKind::kJson:
    case ValueKind::kJsonbBinary:
      return maskJson(plan, in, out);
    case ValueKind::kTextArray:
    case ValueKind::kBinaryArray:
      return maskArray(plan, in, out);
  }
  return internalError("unknown column kind");
}

Result<CellResult> Scanner::maskJson(const ColumnPlan& plan, std::string_view in,
                                     std::string& out) {
  std::string_view doc = in;
  bool jsonb_binary = plan.kind == ValueKind::kJsonbBinary;
  if (jsonb_binary) {
    if (in.empty() || in[0] != 1) {
      return invalidArgument("jsonb value: unsupported binary version");
    }
    doc.remove_prefix(1);
  }
  const ColumnRule* rule = plan.action == Action::kRule ? plan.rule : nullptr;
  if (rule != nullptr && rule->strategy == Strategy::kNull) {
    return ruleText(*rule, doc, out);
  }
  if (rule == nullptr) {
    Result<bool> clean = rawClean(*plan.profile, doc);
    if (!clean) {
      return clean.status();
    }
    if (*clean) {
      return CellResult::kUnchanged;
    }
  }
  auto fn = [&](JsonToken kind, std::string_view decoded, std::string_view key,
                std::string& rep) -> Result<CellResult> {
    if (rule != nullptr) {
      return kind == JsonToken::kKey ? Result<CellResult>(CellResult::kUnchanged)
                                     : ruleText(*rule, decoded, rep);
    }
    return jsonToken(*plan.profile, kind, decoded, key, rep);
  };
  std::string body;
  Result<CellResult> r = rewriteJson(doc, fn, body);
  if (!r || *r != CellResult::kRewritten) {
    return r;
  }
  out.clear();
  if (jsonb_binary) {
    out.push_back('\x01');
  }
  out.append(body);
  return CellResult::kRewritten;
}

Result<CellResult> Scanner::jsonToken(const Profile& profile, JsonToken kind,
                                      std::string_view decoded, std::string_view member,
                                      std::string& out) {
  Result<CellResult> secret = maskSecretMember(profile, member, decoded, out);
  if (!secret || *secret != CellResult::kUnchanged) {
    return secret;
  }
  return detectText(profile, decoded, out, kind != JsonToken::kKey);
}

Result<CellResult> Scanner::maskJsonToken(const Profile& profile, JsonToken kind,
                                          std::string_view decoded, std::string_view member,
                                          std::string& out, Counters& counters) {
  tally_.clear();
  tally_values_ = 0;
  Result<CellResult> r = jsonToken(profile, kind, decoded, member, out);
  if (r && *r == CellResult::kNull && kind == JsonToken::kKey) {
    return internalError("a json key cannot become null");
  }
  if (r) {
    commitTally(*r, counters);
  }
  return r;
}

Result<CellResult> Scanner::maskByRule(const ColumnRule& rule, std::string_view in,
                                       std::string& out, Counters& counters) {
  tally_.clear();
  tally_values_ = 0;
  Result<CellResult> r = ruleText(rule, in, out);
  if (r) {
    commitTally(*r, counters);
  }
  return r;
}

Result<CellResult> Scanner::maskSecretMember(const Profile& profile, std::string_view key,
                                             std::string_view value, std::string& out) {
  if (profile.secret_keys_ < 0 || key.empty() || !isSecretKey(key) || isSecretPlaceholder(value)) {
    return CellResult::kUnchanged;
  }
  const std::string& label = profile.label(static_cast<uint32_t>(profile.secret_keys_));
  tally_.push_back(&label);
  ++tally_values_;
  if (profile.detectorStrategy() == Strategy::kNull) {
    return CellResult::kNull;
  }
  out.clear();
  if (Status s = applyStrategy(profile.detectorStrategy(), value, label, profile.keepLast(),
                               engine_->keyer(), out);
      !s) {
    return s;
  }
  return CellResult::kRewritten;
}

Result<CellResult> Scanner::maskElement(const ColumnPlan& plan, std::string_view in,
                                        std::string& out) {
  if (plan.element_json) {
    ColumnPlan sub = plan;
    sub.kind = plan.format == 1 && plan.element_oid == oid::kJsonb ? ValueKind::kJsonbBinary
                                                                   : ValueKind::kJson;
    return maskJson(sub, in, out);
  }
  if (plan.action == Action::kRule) {
    return ruleText(*plan.rule, in, out);
  }
  return detectText(*plan.profile, in, out, true);
}

Result<CellResult> Scanner::maskArray(const ColumnPlan& plan, std::string_view in,
                                      std::string& out) {
  if (plan.action == Action::kRule && plan.rule->strategy == Strategy::kNull) {
    return ruleText(*plan.rule, in, out);
  }
  auto fn = [&](std::string_view elem, std::string& eout) { return maskElement(plan, elem, eout); };
  if (plan.kind == ValueKind::kTextArray) {
    if (plan.action == Action::kDetect) {
      Result<bool> clean = rawClean(*plan.profile, in);
      if (!clean) {
        return clean.status();
      }
      if (*clean) {
        return CellResult::kUnchanged;
      }
    }
    return rewriteTextArray(in, fn, out);
  }
  if (plan.action == Action::kDetect) {
    // Elements are scanned one by one: the length prefixes between them would break `\b`.
    bool clean = true;
    auto probe = [&](std::string_view elem, std::string&) -> Result<CellResult> {
      Result<bool> c = clean ? rawClean(*plan.profile, elem) : Result<bool>(false);
      if (!c) {
        return c.status();
      }
      clean = clean && *c;
      return CellResult::kUnchanged;
    };
    std::string unused;
    if (Result<CellResult> r = rewriteBinaryArray(in, plan.element_oid, probe, unused); !r) {
      return r;
    }
    if (clean) {
      return CellResult::kUnchanged;
    }
  }
  return rewriteBinaryArray(in, plan.element_oid, fn, out);
}

namespace {

// bytea's text output `\x4a6f...` decoded; false when `in` is not in hex form.
bool decodeByteaHex(std::string_view in, std::string& out) {
  if (in.size() < 2 || in[0] != '\\' || in[1] != 'x' || in.size() % 2 != 0) {
    return false;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    c = static_cast<char>(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  out.clear();
  out.reserve((in.size() - 2) / 2);
  for (size_t i = 2; i < in.size(); i += 2) {
    int hi = nibble(in[i]), lo = nibble(in[i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

}  // namespace

Result<CellResult> Scanner::detectOpaque(const ColumnPlan& plan, std::string_view in) {
  thread_local std::string decoded;
  if (plan.type_oid == oid::kBytea && plan.format == 0 && decodeByteaHex(in, decoded)) {
    in = decoded;
  }
  if (Status s = findSpans(*plan.profile, in, spans_); !s) {
    return s;
  }
  for (const Span& s : spans_) {
    tally_.push_back(&plan.profile->label(s.detector));
  }
  tally_values_ += spans_.size();
  return spans_.empty() ? CellResult::kUnchanged : CellResult::kNull;
}

Result<CellResult> Scanner::detectBinaryInt(const ColumnPlan& plan, std::string_view in) {
  int64_t v = 0;
  if (in.size() == 8) {
    v = static_cast<int64_t>((uint64_t{loadU32(in.data())} << 32) | loadU32(in.data() + 4));
  } else if (in.size() == 4) {
    v = static_cast<int32_t>(loadU32(in.data()));
  } else if (in.size() == 2) {
    v = static_cast<int16_t>(loadU16(in.data()));
  } else {
    return invalidArgument("binary integer of unexpected length");
  }
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (Status s = findSpans(*plan.profile, std::string_view(buf, end - buf), spans_); !s) {
    return s;
  }
  for (const Span& s : spans_) {
    tally_.push_back(&plan.profile->label(s.detector));
  }
  tally_values_ += spans_.size();
  return spans_.empty() ? CellResult::kUnchanged : CellResult::kNull;
}

}  // namespace jg::mask
