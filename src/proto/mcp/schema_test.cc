#include "proto/mcp/schema.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

namespace jg::mcp {
namespace {

namespace json = boost::json;

// The violation of `instance` against `schema` ("" when valid).
std::string violation(std::string_view schema, std::string_view instance) {
  auto r = validateArguments(json::parse(schema), json::parse(instance));
  return r ? *r : std::string();
}

constexpr std::string_view kSearch = R"({
  "type": "object",
  "properties": {
    "query": {"type": "string", "minLength": 1, "maxLength": 8},
    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
    "mode": {"enum": ["fast", "exact"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "filter": {"type": "object", "properties": {"owner": {"type": "string"}},
               "required": ["owner"], "additionalProperties": false}
  },
  "required": ["query"],
  "additionalProperties": false
})";

TEST(Schema, ValidArgumentsPass) {
  EXPECT_EQ(violation(kSearch, R"({"query":"cats","limit":5,"mode":"fast","tags":["a"],)"
                               R"("filter":{"owner":"me"}})"),
            "");
}

TEST(Schema, ValueAboveMaximumNamesPointerValueAndBound) {
  EXPECT_EQ(violation(kSearch, R"({"query":"x","limit":500})"),
            "/limit: 500 is above the maximum 50");
}

TEST(Schema, ValueBelowMinimumIsReported) {
  EXPECT_EQ(violation(kSearch, R"({"query":"x","limit":0})"), "/limit: 0 is below the minimum 1");
}

TEST(Schema, ExclusiveBoundsRefuseTheBoundItself) {
  const char* schema = R"({"exclusiveMinimum":0,"exclusiveMaximum":1})";
  EXPECT_EQ(violation(schema, "0"), "(root): 0 is not above the exclusive minimum 0");
  EXPECT_EQ(violation(schema, "1"), "(root): 1 is not below the exclusive maximum 1");
  EXPECT_EQ(violation(schema, "0.5"), "");
}

TEST(Schema, CountsBeyondTheRangeOfAnIntegerAreUnreachableBounds) {
  const char* items = R"({"type":"array","minItems":77777777777777777777})";
  EXPECT_NE(violation(items, "[1, 2, 3]"), "");
  const char* length = R"({"type":"string","maxLength":1e30})";
  EXPECT_EQ(violation(length, R"("any string at all")"), "");
}

TEST(Schema, FractionIsNotAnInteger) {
  EXPECT_EQ(violation(kSearch, R"({"query":"x","limit":2.5})"),
            "/limit: expected integer, got number");
}

TEST(Schema, WholeNumberWrittenWithAFractionIsAnInteger) {
  EXPECT_EQ(violation(kSearch, R"({"query":"x","limit":2.0})"), "");
}

TEST(Schema, MissingRequiredPropertyIsNamedAtTheObject) {
  EXPECT_EQ(violation(kSearch, R"({"limit":1})"),
            "(root): the required property \"query\" is missing");
  EXPECT_EQ(violation(kSearch, R"({"query":"x","filter":{}})"),
            "/filter: the required property \"owner\" is missing");
}

TEST(Schema, AdditionalPropertyIsRefusedAtItsPointer) {
  EXPECT_EQ(violation(kSearch, R"({"query":"x","filter":{"owner":"me","a/b~c":1}})"),
            "/filter/a~1b~0c: the property is not allowed");
}

TEST(Schema, AdditionalPropertiesSchemaAppliesToUnlistedMembers) {
  const char* schema = R"({"properties":{"a":{}},"additionalProperties":{"type":"number"}})";
  EXPECT_EQ(violation(schema, R"({"a":"s","b":1})"), "");
  EXPECT_EQ(violation(schema, R"({"a":"s","b":"s"})"), "/b: expected number, got string");
}

TEST(Schema, WrongTypeNamesExpectedAndActual) {
  EXPECT_EQ(violation(kSearch, R"({"query":7})"), "/query: expected string, got integer");
  EXPECT_EQ(violation(kSearch, "[]"), "(root): expected object, got array");
}

TEST(Schema, TypeListAcceptsAnyOfItsTypes) {
  const char* schema = R"({"type":["string","null"]})";
  EXPECT_EQ(violation(schema, "null"), "");
  EXPECT_EQ(violation(schema, R"("s")"), "");
  EXPECT_EQ(violation(schema, "true"), "(root): expected string or null, got boolean");
}

TEST(Schema, StringLengthCountsCodePointsNotBytes) {
  // Eight code points, 24 bytes.
  EXPECT_EQ(violation(kSearch, R"({"query":"日本語日本語日本"})"), "");
  EXPECT_EQ(violation(kSearch, R"({"query":"日本語日本語日本語"})"),
            "/query: length 9 is above the maximum length 8");
  EXPECT_EQ(violation(kSearch, R"({"query":""})"),
            "/query: length 0 is below the minimum length 1");
}

TEST(Schema, EnumMismatchListsAllowedValuesButNotTheValue) {
  std::string v = violation(kSearch, R"({"query":"x","mode":"secret-token-123"})");
  EXPECT_EQ(v, R"(/mode: the value is not one of the allowed values ["fast","exact"])");
}

TEST(Schema, EnumAndConstCompareNumbersByValue) {
  EXPECT_EQ(violation(R"({"enum":[1,2]})", "1.0"), "");
  EXPECT_EQ(violation(R"({"const":{"a":[1,{"b":2}]}})", R"({"a":[1.0,{"b":2}]})"), "");
  EXPECT_EQ(violation(R"({"const":"on"})", R"("off")"),
            R"((root): the value is not the constant "on")");
}

TEST(Schema, ArrayItemsReportTheirIndex) {
  EXPECT_EQ(violation(kSearch, R"({"query":"x","tags":["a",3]})"),
            "/tags/1: expected string, got integer");
  EXPECT_EQ(violation(kSearch, R"({"query":"x","tags":["a","b","c"]})"),
            "/tags: 3 items are more than the maximum 2");
  EXPECT_EQ(violation(R"({"minItems":1})", "[]"), "(root): 0 items are fewer than the minimum 1");
}

TEST(Schema, AnyOfPassesWhenOneAlternativeMatches) {
  const char* schema = R"({"anyOf":[{"type":"string"},{"type":"integer"}]})";
  EXPECT_EQ(violation(schema, "3"), "");
  EXPECT_EQ(violation(schema, "true"),
            "(root): the value matches none of the schemas in anyOf (the first says "
            "\"(root): expected string, got boolean\")");
}

TEST(Schema, OneOfRefusesAValueMatchingTwoAlternatives) {
  const char* schema = R"({"oneOf":[{"type":"number"},{"type":"integer"}]})";
  EXPECT_EQ(violation(schema, "1.5"), "");
  EXPECT_EQ(violation(schema, "1"),
            "(root): the value matches 2 of the schemas in oneOf, not exactly one");
}

TEST(Schema, AllOfReportsTheFirstFailingSchema) {
  EXPECT_EQ(violation(R"({"allOf":[{"minimum":0},{"maximum":10}]})", "11"),
            "(root): 11 is above the maximum 10");
}

TEST(Schema, NotRefusesAMatchingValue) {
  EXPECT_EQ(violation(R"({"not":{"type":"null"}})", "null"),
            "(root): the value matches the schema in not");
  EXPECT_EQ(violation(R"({"not":{"type":"null"}})", "1"), "");
}

TEST(Schema, RefResolvesDefsAndDefinitions) {
  const char* schema =
      R"({"properties":{"a":{"$ref":"#/$defs/pos"},"b":{"$ref":"#/definitions/name"}},)"
      R"("$defs":{"pos":{"type":"integer","minimum":1}},"definitions":{"name":{"type":"string"}}})";
  EXPECT_EQ(violation(schema, R"({"a":1,"b":"x"})"), "");
  EXPECT_EQ(violation(schema, R"({"a":0})"), "/a: 0 is below the minimum 1");
  EXPECT_EQ(violation(schema, R"({"b":1})"), "/b: expected string, got integer");
}

TEST(Schema, UnresolvableRefFailsClosed) {
  EXPECT_EQ(violation(R"({"$ref":"#/$defs/missing"})", "1"),
            R"((root): the schema's $ref "#/$defs/missing" does not resolve)");
  EXPECT_EQ(violation(R"({"$ref":"https://example.com/s.json"})", "1"),
            R"((root): the schema's $ref "https://example.com/s.json" does not resolve)");
}

TEST(Schema, RecursiveRefIsBoundedByDepth) {
  const char* schema = R"({"$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"}}},)"
                       R"("$ref":"#/$defs/n"})";
  EXPECT_EQ(violation(schema, "[[[]]]"), "");
  boost::json::parse_options deep_ok;
  deep_ok.max_depth = 1000;
  json::value deep = json::parse(std::string(40, '[') + std::string(40, ']'), {}, deep_ok);
  auto r = validateArguments(json::parse(schema), deep);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("nests deeper than"), std::string::npos) << *r;
}

TEST(Schema, SelfReferenceWithoutProgressIsBoundedByDepth) {
  EXPECT_NE(violation(R"({"$ref":"#"})", "1").find("nests deeper than"), std::string::npos);
}

TEST(Schema, InfinitelyRecursiveAlternativesStopAtTheFirstDepthError) {
  // Every level tries both alternatives: 2^32 paths if the walk went on after the first error.
  const char* schema = R"({"anyOf":[{"$ref":"#"},{"$ref":"#"}]})";
  EXPECT_EQ(violation(schema, "1"), "(root): the schema nests deeper than 64 levels");
}

TEST(Schema, ExponentialAlternativesAreCutOffByTheStepBound) {
  // 30 levels of two alternatives each, within the depth bound, all failing at the bottom.
  json::object defs;
  for (int i = 0; i < 30; ++i) {
    std::string next = "#/$defs/d" + std::to_string(i + 1);
    defs["d" + std::to_string(i)] = json::object{
        {"anyOf", json::array{json::object{{"$ref", next}}, json::object{{"$ref", next}}}}};
  }
  defs["d30"] = json::object{{"type", "string"}};
  json::value schema = json::object{{"$defs", defs}, {"$ref", "#/$defs/d0"}};
  auto r = validateArguments(schema, json::value(1));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "(root): checking the arguments takes more than 262144 schema steps");
}

TEST(Schema, LargeValidArrayStaysWithinTheStepBound) {
  json::array items(100000, json::value(1));
  EXPECT_EQ(validateArguments(json::parse(R"({"type":"array","items":{"type":"integer"}})"),
                              json::value(std::move(items))),
            std::nullopt);
}

TEST(Schema, BooleanSchemas) {
  EXPECT_EQ(violation("true", R"({"anything":1})"), "");
  EXPECT_EQ(violation("false", "1"), "(root): no value is allowed here");
  EXPECT_EQ(violation(R"({"properties":{"x":false}})", R"({"x":1})"),
            "/x: no value is allowed here");
}

TEST(Schema, MalformedKeywordsFailClosed) {
  EXPECT_EQ(violation(R"({"required":3})", "{}"), "(root): the schema's required is malformed");
  EXPECT_EQ(violation(R"({"maximum":"50"})", "1"), "(root): the schema's maximum is malformed");
  EXPECT_EQ(violation(R"({"minLength":-1})", R"("")"),
            "(root): the schema's minLength is malformed");
  EXPECT_EQ(violation(R"({"anyOf":[]})", "1"), "(root): the schema's anyOf is malformed");
  EXPECT_EQ(violation(R"({"type":"float"})", "1"),
            R"((root): the schema names an unknown type "float")");
  EXPECT_EQ(violation("3", "1"), "(root): the schema is neither an object nor a boolean");
}

TEST(Schema, SchemaErrorsUnderNotOrInAnAlternativeStillFail) {
  EXPECT_EQ(violation(R"({"not":{"required":3}})", "{}"),
            "(root): the schema's required is malformed");
  EXPECT_EQ(violation(R"({"anyOf":[{"$ref":"#/nowhere"},{"type":"integer"}]})", "1"),
            R"((root): the schema's $ref "#/nowhere" does not resolve)");
  EXPECT_NE(violation(R"({"not":{"$ref":"#"}})", "1").find("nests deeper"), std::string::npos);
}

// The shape the TypeScript SDK writes for zod input schemas (draft-07 $schema, defaults).
constexpr std::string_view kZodShaped = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "kind": {"type": "string", "enum": ["error", "success", "debug"], "description": "d"},
    "count": {"default": 3, "description": "1-10", "type": "number", "minimum": 1,
              "maximum": 10},
    "verbose": {"default": false, "type": "boolean"},
    "source": {"default": "x.gz", "type": "string", "format": "uri"}
  },
  "required": ["kind"]
})";

TEST(Schema, SdkShapedSchemaAcceptsTypicalArgumentsAndRefusesBadOnes) {
  EXPECT_EQ(violation(kZodShaped, R"({"kind":"debug"})"), "");
  EXPECT_EQ(violation(kZodShaped, R"({"kind":"error","count":2.5,"verbose":true,"extra":1})"), "");
  EXPECT_EQ(violation(kZodShaped, R"({"kind":"error","count":11})"),
            "/count: 11 is above the maximum 10");
  EXPECT_EQ(violation(kZodShaped, R"({"kind":"error","verbose":"yes"})"),
            "/verbose: expected boolean, got string");
  EXPECT_EQ(violation(kZodShaped, R"({"count":1})"),
            "(root): the required property \"kind\" is missing");
}

TEST(Schema, AnnotationsAndPatternAreIgnored) {
  EXPECT_EQ(violation(R"({"type":"string","pattern":"^[a-z]+$","format":"email",)"
                      R"("description":"d","title":"t","default":"x","examples":["y"],)"
                      R"("$schema":"https://json-schema.org/draft/2020-12/schema"})",
                      R"("NOT AN EMAIL 123")"),
            "");
}

TEST(Schema, KeywordsForOtherTypesDoNotApply) {
  EXPECT_EQ(violation(R"({"minimum":5,"minLength":3,"required":["a"],"minItems":2})", "true"), "");
}

}  // namespace
}  // namespace jg::mcp
