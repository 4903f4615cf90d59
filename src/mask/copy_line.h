// COPY TO STDOUT data lines, text and csv formats: split a line into fields, re-encode fields
// into a line, and mask a line with one ColumnPlan per column.
//
// Text format: fields separated by the delimiter (tab by default); the null string (`\N`)
// stands for NULL; backslash escapes \b \f \n \r \t \v \\, \<any char>, \ooo (octal) and \xhh.
// The encoder escapes backslash, the delimiter, and \b \f \n \r \t \v, as PostgreSQL does.
// CSV format: fields separated by the delimiter (comma), optionally quoted (`"`), a quote inside
// quotes doubled (or preceded by the escape character); an unquoted field equal to the null
// string (empty by default) is NULL, a quoted one is text. The encoder quotes only when needed
// (delimiter, quote, escape, CR/LF, a value equal to the null string or to `\.`).
// The session feeds one CopyData payload (one row, with its line ending) at a time; the plans are
// built with format 0 and, when the column types are unknown, type OID 0 (treated as text).
// Binary COPY is not handled here: the session must refuse it when masking applies.
// Stateless functions; maskCopyLine uses the caller's Scanner (not thread-safe).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "mask/cell.h"
#include "mask/counters.h"
#include "mask/scanner.h"

namespace jg::mask {

struct CopyFormat {
  bool csv = false;
  char delimiter = '\t';
  std::string null_string = "\\N";
  char quote = '"';   // csv only
  char escape = '"';  // csv only

  static CopyFormat text() { return CopyFormat{}; }
  static CopyFormat csvFormat() { return CopyFormat{true, ',', "", '"', '"'}; }
};

struct CopyField {
  std::string value;
  bool is_null = false;
  size_t raw_from = 0;  // the field's bytes in the line splitCopyLine read: [raw_from, raw_to)
  size_t raw_to = 0;
  bool quoted = false;  // csv: some part of the field was quoted
};

// Splits a line (its trailing "\n" or "\r\n" optional) into decoded fields; `fields` is resized.
[[nodiscard]] Status splitCopyLine(std::string_view line, const CopyFormat& format,
                                   std::vector<CopyField>& fields);
// Encodes fields into `out` (cleared first), ending with "\n".
void encodeCopyLine(std::span<const CopyField> fields, const CopyFormat& format, std::string& out);

// Masks one line. `plans` has one entry per column; a field count that differs is an error.
// kUnchanged: forward the input line. kRewritten: send `out`, which keeps the line's ending
// exactly ("\n", "\r\n" or none) and the bytes of every field left unmasked; a masked csv field
// that was quoted stays quoted. Never kNull.
[[nodiscard]] Result<CellResult> maskCopyLine(Scanner& scanner, std::span<const ColumnPlan> plans,
                                              const CopyFormat& format, std::string_view line,
                                              std::string& out, Counters& counters);

}  // namespace jg::mask
