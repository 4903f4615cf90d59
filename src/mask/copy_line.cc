#include "mask/copy_line.h"

namespace jg::mask {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// The line ending PostgreSQL wrote ("\n"; "\r\n" is accepted too), or "" for a last line
// without one. A raw CR is never data: text format escapes it, csv quotes it.
std::string_view terminatorOf(std::string_view line) {
  if (line.ends_with("\r\n")) {
    return line.substr(line.size() - 2);
  }
  return line.ends_with('\n') ? line.substr(line.size() - 1) : std::string_view();
}

// De-escapes one text-format field.
void decodeTextField(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      out.push_back(c);
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
        if (i + 1 < raw.size() && hexValue(raw[i + 1]) >= 0) {
          int v = hexValue(raw[++i]);
          if (i + 1 < raw.size() && hexValue(raw[i + 1]) >= 0) {
            v = v * 16 + hexValue(raw[++i]);
          }
          out.push_back(static_cast<char>(v));
        } else {
          out.push_back('x');
        }
        break;
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7';
               ++k) {
            v = v * 8 + (raw[++i] - '0');
          }
          out.push_back(static_cast<char>(v & 0xFF));
        } else {
          out.push_back(e);  // \\, \<delimiter>, and any other character stand for themselves
        }
    }
  }
}

Status splitText(std::string_view line, const CopyFormat& f, std::vector<CopyField>& fields) {
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '\\') {
      if (i + 1 == line.size()) {
        // PostgreSQL escapes every backslash it writes: the line is not COPY output.
        return invalidArgument("COPY text line ends with a lone backslash");
      }
      ++i;  // the escaped character never splits
      continue;
    }
    if (i == line.size() || line[i] == f.delimiter) {
      std::string_view raw = line.substr(start, i - start);
      if (fields.size() <= n) {
        fields.emplace_back();
      }
      CopyField& field = fields[n++];
      field.raw_from = start;
      field.raw_to = i;
      field.quoted = false;
      field.is_null = raw == f.null_string;
      if (field.is_null) {
        field.value.clear();
      } else {
        decodeTextField(raw, field.value);
      }
      start = i + 1;
    }
  }
  fields.resize(n);
  return Status::ok();
}

Status splitCsv(std::string_view line, const CopyFormat& f, std::vector<CopyField>& fields) {
  size_t n = 0, i = 0;
  while (true) {
    if (fields.size() <= n) {
      fields.emplace_back();
    }
    CopyField& field = fields[n++];
    field.value.clear();
    field.is_null = false;
    bool quoted_any = false;
    size_t start = i;
    // A field may mix quoted and unquoted parts (PostgreSQL accepts `a"b,c"d`).
    while (i < line.size() && line[i] != f.delimiter) {
      if (line[i] != f.quote) {
        field.value.push_back(line[i++]);
        continue;
      }
      quoted_any = true;
      ++i;
      while (true) {
        if (i >= line.size()) {
          return invalidArgument("COPY csv line: unterminated quoted field");
        }
        char c = line[i];
        if (c == f.escape && i + 1 < line.size() &&
            (line[i + 1] == f.quote || line[i + 1] == f.escape)) {
          field.value.push_back(line[i + 1]);  // "" (or \" with ESCAPE '\\') inside quotes
          i += 2;
          continue;
        }
        if (c == f.quote) {
          ++i;
          break;
        }
        field.value.push_back(c);
        ++i;
      }
    }
    field.raw_from = start;
    field.raw_to = i;
    field.quoted = quoted_any;
    field.is_null = !quoted_any && line.substr(start, i - start) == f.null_string;
    if (field.is_null) {
      field.value.clear();
    }
    if (i >= line.size()) {
      break;
    }
    ++i;  // delimiter
  }
  fields.resize(n);
  return Status::ok();
}

void encodeTextField(std::string_view v, char delimiter, std::string& out) {
  for (char c : v) {
    switch (c) {
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\v':
        out.append("\\v");
        break;
      case '\\':
        out.append("\\\\");
        break;
      default:
        if (c == delimiter) {
          out.push_back('\\');
        }
        out.push_back(c);
    }
  }
}

void encodeCsvField(std::string_view v, const CopyFormat& f, bool only_field, bool force,
                    std::string& out) {
  bool quote = force || v == f.null_string || (only_field && v == "\\.");
  for (char c : v) {
    if (c == f.delimiter || c == f.quote || c == f.escape || c == '\n' || c == '\r') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back(f.quote);
  for (char c : v) {
    if (c == f.quote || c == f.escape) {
      out.push_back(f.escape);
    }
    out.push_back(c);
  }
  out.push_back(f.quote);
}

bool isWordByte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

void encodeField(const CopyField& field, const CopyFormat& format, bool only_field,
                 std::string& out) {
  if (field.is_null) {
    out.append(format.null_string);
  } else if (format.csv) {
    encodeCsvField(field.value, format, only_field, field.quoted, out);
  } else {
    encodeTextField(field.value, format.delimiter, out);
  }
}

// Masks each field in place; true when any changed.
Result<bool> maskFields(Scanner& scanner, std::span<const ColumnPlan> plans,
                        std::vector<CopyField>& fields, std::vector<bool>& changed,
                        Counters& counters) {
  bool any = false;
  std::string masked;
  changed.assign(fields.size(), false);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].is_null) {
      continue;
    }
    Result<CellResult> r = scanner.maskCell(plans[i], fields[i].value, masked, counters);
    if (!r) {
      return r.status();
    }
    if (*r == CellResult::kRewritten) {
      fields[i].value.swap(masked);
    } else if (*r == CellResult::kNull) {
      fields[i].is_null = true;
      fields[i].value.clear();
    }
    changed[i] = *r != CellResult::kUnchanged;
    any = any || changed[i];
  }
  return any;
}

Status splitBody(std::string_view body, const CopyFormat& format, std::vector<CopyField>& fields) {
  return format.csv ? splitCsv(body, format, fields) : splitText(body, format, fields);
}

}  // namespace

Status splitCopyLine(std::string_view line, const CopyFormat& format,
                     std::vector<CopyField>& fields) {
  return splitBody(line.substr(0, line.size() - terminatorOf(line).size()), format, fields);
}

void encodeCopyLine(std::span<const CopyField> fields, const CopyFormat& format, std::string& out) {
  out.clear();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) {
      out.push_back(format.delimiter);
    }
    encodeField(fields[i], format, fields.size() == 1, out);
  }
  out.push_back('\n');
}

Result<CellResult> maskCopyLine(Scanner& scanner, std::span<const ColumnPlan> plans,
                                const CopyFormat& format, std::string_view line, std::string& out,
                                Counters& counters) {
  // Fast path: no column rule, nothing escaped or quoted, one profile, and the prefilter finds
  // nothing in the whole line.
  bool may_skip = !plans.empty() && !isWordByte(format.delimiter) &&
                  line.find(format.csv ? format.quote : '\\') == std::string_view::npos;
  bool any_action = false;
  for (const ColumnPlan& p : plans) {
    may_skip = may_skip && p.action != Action::kRule && p.profile == plans[0].profile;
    any_action = any_action || p.action != Action::kNone;
  }
  if (!any_action) {
    return CellResult::kUnchanged;
  }
  if (may_skip) {
    Result<bool> hit = scanner.prefilterHits(*plans[0].profile, line);
    if (!hit) {
      return hit.status();
    }
    if (!*hit) {
      return CellResult::kUnchanged;
    }
  }
  std::string_view end = terminatorOf(line);
  std::string_view body = line.substr(0, line.size() - end.size());
  std::vector<CopyField> fields;
  if (Status s = splitBody(body, format, fields); !s) {
    return s;
  }
  if (fields.size() != plans.size()) {
    return invalidArgument("COPY line has " + std::to_string(fields.size()) + " fields, expected " +
                           std::to_string(plans.size()));
  }
  std::vector<bool> changed;
  Result<bool> any = maskFields(scanner, plans, fields, changed, counters);
  if (!any || !*any) {
    return any ? Result<CellResult>(CellResult::kUnchanged) : Result<CellResult>(any.status());
  }
  // Fields left alone keep their bytes (quoting, FORCE_QUOTE, escapes); the line keeps its end.
  out.clear();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) {
      out.push_back(format.delimiter);
    }
    if (changed[i]) {
      encodeField(fields[i], format, fields.size() == 1, out);
    } else {
      out.append(body.substr(fields[i].raw_from, fields[i].raw_to - fields[i].raw_from));
    }
  }
  out.append(end);
  return CellResult::kRewritten;
}

}  // namespace jg::mask
