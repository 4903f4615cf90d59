// Fuzzes statement classification (libpg_query's parser and the classifier's tree walk) and the
// literal-key scanner the classifier cache uses. The input is a query text as a client sends it.
//
// literalKey's contract is checked against the parser: when a variant of the text with other
// integer constants (every digit outside quotes and identifiers cycled) has the same key, both
// texts must classify alike (the cache hands one's classification to the other), and a
// Classifier that saw the first must answer the second with that same classification.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "sql/classifier.h"
#include "sql/literal_key.h"
#include "sql/session_context.h"

namespace {

using namespace jg::sql;

// The text with each digit that is not inside quotes or part of a name replaced by the next one.
std::string otherConstants(std::string_view sql) {
  std::string out(sql);
  char quote = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (quote != 0) {
      quote = c == quote ? 0 : quote;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c >= '0' && c <= '9') {
      bool in_name = i > 0 && (std::isalpha(static_cast<unsigned char>(out[i - 1])) ||
                               out[i - 1] == '_' || out[i - 1] == '$');
      out[i] = in_name ? c : static_cast<char>('0' + (c - '0' + 1) % 10);
    }
  }
  return out;
}

// What policy decides on: everything but the values of constants.
bool sameShape(const Classification& a, const Classification& b) {
  if (a.status.isOk() != b.status.isOk() || a.statements.size() != b.statements.size()) {
    return false;
  }
  for (size_t i = 0; i < a.statements.size(); ++i) {
    const Statement& x = a.statements[i];
    const Statement& y = b.statements[i];
    if (x.kind != y.kind || x.kinds != y.kinds || x.tag != y.tag || x.tables != y.tables ||
        x.columns != y.columns || x.functions != y.functions || x.settings != y.settings ||
        x.writes != y.writes || x.locks != y.locks || x.copy_program != y.copy_program ||
        x.copy_file != y.copy_file || x.prepared_name != y.prepared_name) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  auto classified = std::make_shared<const Classification>(classifyUncached(sql));
  const Classification& direct = *classified;
  SessionContext context;
  Resolved resolved;
  for (const Statement& s : direct.statements) {
    context.resolve(s, resolved);
  }
  context.applyAll(classified);
  auto key = literalKey(sql);
  if (!key) {
    return 0;
  }
  std::string other = otherConstants(sql);
  if (other == sql || literalKey(other) != key) {
    return 0;
  }
  if (!sameShape(direct, classifyUncached(other))) {
    std::abort();  // one literal key, two different classifications
  }
  Classifier cache(16);
  (void)cache.classify(sql);
  if (!sameShape(*cache.classify(other), direct)) {
    std::abort();
  }
  return 0;
}
