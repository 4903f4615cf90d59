// Validation of tools/call arguments against a tool's inputSchema.
//
// No JSON Schema library is packaged for the platforms jitgate targets, so this implements the
// subset tool schemas use, with JSON Schema 2020-12 semantics: boolean schemas, type (a name or
// an array of names; "integer" is a number without a fraction), properties, required,
// additionalProperties (bool or schema), items (one schema), enum, const (numbers compare by
// value, so 1 equals 1.0), minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers),
// minLength, maxLength (Unicode code points), minItems, maxItems, anyOf, oneOf, allOf, not, and
// $ref to a JSON pointer inside the same schema ("#", "#/$defs/..", "#/definitions/..").
//
// Other keywords are ignored: annotations (title, description, default, examples, $schema,
// $id, $comment) and the assertions this subset leaves out, notably `pattern` (regular
// expressions are NOT checked), `format`, prefixItems, patternProperties, dependentRequired,
// uniqueItems and multipleOf. Fail closed: a keyword of the subset whose value is malformed
// (e.g. "required": 3), an unknown type name, a $ref that does not resolve, and schemas nested
// or $ref-chained deeper than kMaxSchemaDepth are reported as violations, and so is a check
// that needs more than kMaxSchemaSteps schema applications (nested anyOf/oneOf over a recursive
// $ref would otherwise take exponential time). Such a schema error fails the validation even
// where it is met under `not` or in an anyOf/oneOf alternative; alternatives are tried in order
// and anyOf stops at the first match, so an error in an alternative after it goes unnoticed.
//
// Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>

namespace jg::mcp {

// The deepest chain of nested schema applications (subschemas and $ref hops) validated.
inline constexpr size_t kMaxSchemaDepth = 64;
// The most schema applications (one per subschema per instance value) one validation makes.
inline constexpr size_t kMaxSchemaSteps = 1u << 18;

// The first violation as "<JSON pointer of the instance>: <what is wrong>" (e.g.
// "/limit: 500 is above the maximum 50"; the whole instance is "(root)"), or nullopt when the
// instance is valid.
[[nodiscard]] std::optional<std::string> validateArguments(const boost::json::value& schema,
                                                           const boost::json::value& instance);

}  // namespace jg::mcp
