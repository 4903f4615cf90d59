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
// or $ref-chained deeper than kMaxSchemaDepth are reported as violations.
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

// The first violation as "<JSON pointer of the instance>: <what is wrong>" (e.g.
// "/limit: 500 is above the maximum 50"; the whole instance is "(root)"), or nullopt when the
// instance is valid.
std::optional<std::string> validateArguments(const boost::json::value& schema,
                                             const boost::json::value& instance);

}  // namespace jg::mcp
