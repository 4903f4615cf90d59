// literalKey: a cheap cache key for "this text with its constants taken out", for the texts
// where that can be decided without the PostgreSQL lexer.
//
// pg_query_normalize finds constants with the real parser (~1-4 µs a statement). Most texts a
// simple-protocol client sends are plain ASCII SQL with numbers and simple string constants
// (`... WHERE aid = 48213`, `... name = 'x'`), which a byte scanner can tokenize exactly as
// PostgreSQL 15's lexer does — provided it refuses everything else. literalKey() replaces
//   - an integer constant of at most 9 digits by \x01 (PostgreSQL's ICONST: it fits in int4),
//   - a decimal constant (digits '.' digits, optional exponent) by \x02 (FCONST),
//   - a '...' string constant ('' inside allowed) by \x03 (SCONST),
// keeps every other byte, and returns nullopt ("ask the parser") for any text holding
// something whose tokenization it does not model exactly: a backslash, a dollar sign, a
// comment, a non-ASCII or control byte, a constant directly followed by a letter, digit, '.',
// '_' or quote (PostgreSQL 15 splits `1abc` into a number and a name), an integer of 10 or more
// digits (may be an int8 or numeric), a string constant directly preceded by a name character
// (E'', B'', X'', N'', U&'' prefixes), or an unterminated quote. Quoted identifiers are copied
// verbatim. So two texts with the same key differ only in the values of constants of the same
// token type, and parse to the same tree apart from those values.
//
// Pure function; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jg::sql {

std::optional<std::string> literalKey(std::string_view sql);

}  // namespace jg::sql
