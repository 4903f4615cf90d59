#include "mask/secrets.h"

#include <algorithm>

#include "core/text.h"

namespace jg::mask {
namespace {

constexpr size_t kNone = std::string_view::npos;

// The longest value looked at: candidates may overlap (`pwd=pwd=...`), and each one scans its
// value, so the bound keeps a value's validation linear in its size. A longer value is masked
// for its first kMaxValue bytes.
constexpr size_t kMaxValue = 4096;

struct SecretKeyword {
  std::string_view word;  // lower case; '_' matches one optional `_`, `.` or `-`
  bool component;         // must start a key component: "pass" is no keyword of "bypass"
};

// Longer words first where one ends another is not needed: a keyword is found by its end.
constexpr SecretKeyword kKeywords[] = {
    {"password", false},    {"passwd", false},      {"passphrase", false},
    {"passcode", false},    {"secret", false},      {"token", false},
    {"credentials", false}, {"credential", false},  {"authorization", false},
    {"api_key", false},     {"access_key", false},  {"secret_key", false},
    {"private_key", false}, {"signing_key", false}, {"encryption_key", false},
    {"master_key", false},  {"pass", true},         {"pwd", true},
    {"auth", true},         {"creds", true},
};

// What follows `key: ` in a sentence rather than in a configuration: "the token: a metaphor",
// "your password: see below". Only looked at for a bare keyword and an unquoted value.
constexpr std::string_view kProseWords[] = {
    "a",       "an",    "the",    "this",    "that",   "these", "those",  "it",     "its",
    "is",      "are",   "was",    "were",    "be",     "been",  "to",     "of",     "in",
    "on",      "at",    "for",    "with",    "by",     "from",  "as",     "and",    "or",
    "but",     "not",   "no",     "yes",     "you",    "your",  "we",     "our",    "they",
    "their",   "he",    "she",    "his",     "her",    "my",    "me",     "i",      "if",
    "when",    "what",  "which",  "who",     "how",    "why",   "please", "see",    "use",
    "enter",   "click", "type",   "choose",  "select", "set",   "reset",  "change", "follow",
    "contact", "must",  "should", "will",    "can",    "may",   "shown",  "below",  "above",
    "here",    "there", "nobody", "nothing", "never",  "same",
};

constexpr std::string_view kPlaceholders[] = {
    "true",  "false",    "null",   "nil",    "none",     "undefined",
    "empty", "redacted", "hidden", "masked", "required", "optional",
};

// HTTP authentication schemes: in `Authorization: Bearer xyz` the secret is what follows.
constexpr std::string_view kAuthSchemes[] = {"basic", "bearer", "digest", "negotiate",
                                             "ntlm",  "token",  "apikey"};

constexpr auto isDigit = isAsciiDigit;
constexpr auto isUpper = isAsciiUpper;
constexpr auto isLower = isAsciiLower;
constexpr auto isAlnum = isAsciiAlnum;
constexpr auto isLetter = isAsciiLetter;
char lower(char c) {
  return isUpper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
bool isSeparator(char c) {
  return c == '_' || c == '.' || c == '-';
}
bool isQuote(char c) {
  return c == '"' || c == '\'';
}
bool isBlank(char c) {
  return c == ' ' || c == '\t';
}
bool isSpace(char c) {
  return isBlank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool isKeyByte(char c) {
  return isAlnum(c) || isSeparator(c);
}

bool equalsCaseless(std::string_view s, std::string_view lower_word) {
  return s.size() == lower_word.size() && std::equal(s.begin(), s.end(), lower_word.begin(),
                                                     [](char a, char b) { return lower(a) == b; });
}

template <size_t N>
bool inList(std::string_view s, const std::string_view (&list)[N]) {
  return std::any_of(std::begin(list), std::end(list),
                     [&](std::string_view w) { return equalsCaseless(s, w); });
}

// The start of `word` if it ends at `end` in `text` (caseless), else kNone.
size_t wordStartBefore(std::string_view text, size_t end, std::string_view word) {
  size_t i = end;
  for (size_t k = word.size(); k-- > 0;) {
    if (word[k] == '_') {
      if (i > 0 && isSeparator(text[i - 1])) {
        --i;
      }
    } else if (i == 0 || lower(text[i - 1]) != word[k]) {
      return kNone;
    } else {
      --i;
    }
  }
  return i;
}

// A key component starts after a non-alphanumeric byte or at a camelCase hump (`dbPass`).
bool startsComponent(std::string_view text, size_t at) {
  if (at == 0 || !isAlnum(text[at - 1])) {
    return true;
  }
  return (isLower(text[at - 1]) || isDigit(text[at - 1])) && isUpper(text[at]);
}

struct KeyMatch {
  const SecretKeyword* keyword = nullptr;  // null: no secret key ends here
  size_t start = 0;                        // of the keyword
  size_t begin = 0;                        // of the whole key (`db_password`)
};

KeyMatch secretKeyBefore(std::string_view text, size_t end) {
  KeyMatch m;
  for (const SecretKeyword& k : kKeywords) {
    size_t at = wordStartBefore(text, end, k.word);
    if (at != kNone && (!k.component || startsComponent(text, at))) {
      m.keyword = &k;
      m.start = at;
      break;
    }
  }
  if (m.keyword != nullptr) {
    m.begin = m.start;
    while (m.begin > 0 && isKeyByte(text[m.begin - 1])) {
      --m.begin;
    }
  }
  return m;
}

bool atLineStart(std::string_view text, size_t i) {
  return i == 0 || text[i - 1] == '\n' || text[i - 1] == '\r';
}

size_t skipBlanksBack(std::string_view text, size_t i) {
  while (i > 0 && isBlank(text[i - 1])) {
    --i;
  }
  return i;
}

// True if the key at `begin` is the first thing on its line: YAML, .env (`export KEY=`),
// `set KEY=`, a `- KEY=value` list item, properties.
bool keyStartsLine(std::string_view text, size_t begin) {
  size_t i = begin > 0 && isQuote(text[begin - 1]) ? begin - 1 : begin;
  size_t j = skipBlanksBack(text, i);
  if (atLineStart(text, j)) {
    return true;
  }
  if (j == i) {
    return false;
  }
  for (std::string_view prefix : {"export", "set", "SET", "-"}) {
    if (j >= prefix.size() && text.substr(j - prefix.size(), prefix.size()) == prefix &&
        atLineStart(text, skipBlanksBack(text, j - prefix.size()))) {
      return true;
    }
  }
  return false;
}

size_t indentOf(std::string_view text, size_t i) {
  size_t start = i;
  while (start > 0 && text[start - 1] != '\n' && text[start - 1] != '\r') {
    --start;
  }
  size_t n = 0;
  while (start + n < i && isBlank(text[start + n])) {
    ++n;
  }
  return n;
}

// The closing quote of the string opened at `open`, or the end of its line when unterminated.
size_t quotedEnd(std::string_view text, size_t open) {
  size_t limit = std::min(text.size(), open + 1 + kMaxValue);
  for (size_t i = open + 1; i < limit; ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == text[open] || text[i] == '\n' || text[i] == '\r') {
      return i;
    }
  }
  return limit;
}

size_t tokenEnd(std::string_view text, size_t i) {
  size_t limit = std::min(text.size(), i + kMaxValue);
  while (i < limit && !isSpace(text[i]) && !isQuote(text[i]) && text[i] != ',' && text[i] != ';' &&
         text[i] != '&') {
    ++i;
  }
  return i;
}

// An unquoted value that owns its line: up to a ` #` comment, without trailing blanks or a
// final `;` or `,`.
size_t lineValueEnd(std::string_view text, size_t i) {
  size_t end = i;
  size_t limit = std::min(text.size(), i + kMaxValue);
  while (end < limit && text[end] != '\n' && text[end] != '\r' &&
         !(text[end] == '#' && end > i && isBlank(text[end - 1]))) {
    ++end;
  }
  end = skipBlanksBack(text, end);
  if (end > i + 1 && (text[end - 1] == ';' || text[end - 1] == ',')) {
    end = skipBlanksBack(text, end - 1);
  }
  return end;
}

struct Value {
  size_t from = 0;
  size_t to = 0;
  bool quoted = false;
};

// REQUIRES: start < text.size().
Value valueAt(std::string_view text, size_t start, bool owns_line) {
  if (isQuote(text[start])) {
    return {start + 1, quotedEnd(text, start), true};
  }
  return {start, owns_line ? lineValueEnd(text, start) : tokenEnd(text, start), false};
}

std::string_view firstWord(std::string_view text, size_t from, size_t to) {
  size_t end = from;
  while (end < to && isLetter(text[end])) {
    ++end;
  }
  return text.substr(from, end - from);
}

// `Basic dXNl...`, `Bearer eyJ...`: moves the value onto the credentials after the scheme.
bool skipAuthScheme(std::string_view text, Value& v, bool owns_line) {
  // A mid-line value ended at the space after the scheme: the credentials are the next token.
  size_t end = v.quoted || owns_line ? v.to : text.size();
  std::string_view scheme = firstWord(text, v.from, end);
  size_t next = v.from + scheme.size();
  if (!inList(scheme, kAuthSchemes) || next >= end || !isBlank(text[next])) {
    return false;
  }
  while (next < end && isBlank(text[next])) {
    ++next;
  }
  v.from = next;
  if (!v.quoted && !owns_line) {
    v.to = tokenEnd(text, next);
  }
  return v.from < v.to;
}

// Sentence punctuation after an unquoted value ("... = none.") does not make it a secret.
std::string_view withoutFinalPunctuation(std::string_view v) {
  while (!v.empty() && (v.back() == '.' || v.back() == '!' || v.back() == '?' || v.back() == ')')) {
    v.remove_suffix(1);
  }
  return v;
}

// Where the value after the separator at `sep` starts: past `==` (a comparison, rejected),
// `:=`, `=>`, blanks and line breaks. kNone when there is no value.
size_t valueStart(std::string_view text, size_t sep) {
  size_t i = sep + 1;
  if (i < text.size() && text[sep] == '=' && text[i] == '=') {
    return kNone;
  }
  if (i < text.size() && ((text[sep] == ':' && text[i] == '=') || text[i] == '>')) {
    ++i;
  }
  while (i < text.size() && isSpace(text[i])) {
    ++i;
  }
  return i < text.size() ? i : kNone;
}

bool hasLineBreak(std::string_view text, size_t from, size_t to) {
  return std::any_of(text.begin() + from, text.begin() + to,
                     [](char c) { return c == '\n' || c == '\r'; });
}

struct Assignment {
  KeyMatch key;
  size_t sep = 0;
  size_t start = 0;  // first byte after the separator and blanks
  bool owns_line = false;
  Value value;
};

// A sentence, not a setting: `The token: a metaphor`, `Your password: see the guide`.
bool looksLikeProse(std::string_view text, const Assignment& a) {
  if (text[a.sep] != ':' || a.value.quoted || a.start == a.sep + 1 || a.key.begin != a.key.start) {
    return false;
  }
  return inList(firstWord(text, a.value.from, a.value.to), kProseWords);
}

bool acceptValue(std::string_view text, Assignment& a) {
  bool auth = a.key.keyword->word.starts_with("auth");
  if (auth && !skipAuthScheme(text, a.value, a.owns_line) &&
      a.key.keyword->word == "authorization") {
    return false;  // "authorization: approved" is a status, not a credential
  }
  if (a.value.from >= a.value.to) {
    return false;
  }
  std::string_view v = text.substr(a.value.from, a.value.to - a.value.from);
  if (!a.value.quoted) {
    // A line that opens with a stand-in ("Password: required. Secret: none.") holds no secret.
    v = withoutFinalPunctuation(v.substr(0, tokenEnd(text, a.value.from) - a.value.from));
  }
  return !isSecretPlaceholder(v) && !looksLikeProse(text, a);
}

}  // namespace

std::string secretKeywordExpr() {
  std::string expr;
  for (const SecretKeyword& k : kKeywords) {
    if (!expr.empty()) {
      expr += '|';
    }
    for (char c : k.word) {
      expr += c == '_' ? std::string_view(R"([_.\-]?)") : std::string_view(&c, 1);
    }
  }
  return expr;
}

bool isSecretKey(std::string_view key) {
  return secretKeyBefore(key, key.size()).keyword != nullptr;
}

bool isSecretPlaceholder(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  if (std::all_of(v.begin(), v.end(), [&](char c) { return c == v[0]; }) &&
      (v[0] == '*' || v[0] == 'x' || v[0] == 'X')) {
    return true;
  }
  auto enclosed = [&](std::string_view open, std::string_view close) {
    return v.size() > open.size() + close.size() && v.starts_with(open) && v.ends_with(close);
  };
  // `${DB_PASSWORD}`, `{{ token }}`, `<password>`, and a redaction label such as `[SECRET]`.
  if (enclosed("${", "}") || enclosed("{{", "}}") || enclosed("<", ">")) {
    return true;
  }
  if (enclosed("[", "]") &&
      std::all_of(v.begin() + 1, v.end() - 1, [](char c) { return isUpper(c) || c == '_'; })) {
    return true;
  }
  return inList(v, kPlaceholders);
}

bool validateAssignment(std::string_view text, size_t& from, size_t& to) {
  // The match is `keyword["']? [:=] value-start`; keep the key and mask the value.
  Assignment a;
  a.sep = text.find_first_of(":=", from);
  if (a.sep == kNone || a.sep >= to) {
    return false;
  }
  size_t key_end = skipBlanksBack(text, a.sep);
  key_end -= key_end > from && isQuote(text[key_end - 1]) ? 1 : 0;
  a.key = secretKeyBefore(text, key_end);
  a.start = valueStart(text, a.sep);
  if (a.key.keyword == nullptr || a.start == kNone) {
    return false;
  }
  bool key_line = keyStartsLine(text, a.key.begin);
  // `credentials:` opening an indented YAML block: the values below have keys of their own.
  if (key_line && hasLineBreak(text, a.sep, a.start) &&
      indentOf(text, a.start) > indentOf(text, a.key.begin)) {
    return false;
  }
  // A command-line option (`--password=x --host h`) does not own the rest of its line.
  a.owns_line = key_line && text[a.key.begin] != '-' && !isQuote(text[a.start]);
  a.value = valueAt(text, a.start, a.owns_line);
  if (!acceptValue(text, a)) {
    return false;
  }
  from = a.value.from;
  to = a.value.to;
  return true;
}

bool validateFlagAssignment(std::string_view text, size_t& from, size_t& to) {
  // The match is `--[name-]keyword value-start`, the option opening a word.
  if (from > 0 && !isSpace(text[from - 1]) && !isQuote(text[from - 1])) {
    return false;
  }
  size_t key_end = from + 2;
  while (key_end < to && !isBlank(text[key_end])) {
    ++key_end;
  }
  KeyMatch key = secretKeyBefore(text, key_end);
  if (key.keyword == nullptr || key.start < from + 2) {
    return false;
  }
  size_t start = key_end;
  while (start < text.size() && isBlank(text[start])) {
    ++start;
  }
  if (start >= text.size() || text[start] == '-') {
    return false;  // a switch without a value, followed by the next option
  }
  Value v = valueAt(text, start, false);
  if (v.from >= v.to || isSecretPlaceholder(text.substr(v.from, v.to - v.from))) {
    return false;
  }
  from = v.from;
  to = v.to;
  return true;
}

bool validateUrlPassword(std::string_view text, size_t& from, size_t& to) {
  // The match is `://user:password@` or `:\/\/user:password@`; mask the password only. The
  // longest match the pattern reports ends at the last `@` of the authority.
  size_t authority = from + (text.substr(from, 3) == "://" ? 3 : 5);
  size_t colon = text.find(':', authority);
  if (colon == kNone || colon + 1 >= to || text[to - 1] != '@') {
    return false;
  }
  from = colon + 1;
  to = to - 1;
  return from < to && !isSecretPlaceholder(text.substr(from, to - from));
}

}  // namespace jg::mask
