// RFC 9457 problem details: the body of every error the HTTP front end answers itself.
//
// A Problem is a plain value; problemJson serializes it with Boost.JSON (members "type",
// "title", "status", "detail", then the extra members in order; an extra member never replaces
// one of those four). Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/http/framing.h"

namespace jg::http {

struct Problem {
  int status = 500;
  std::string title{};   // short, fixed per kind ("Forbidden by policy")
  std::string detail{};  // what happened and what to do, for a person
  std::string type{};    // a URI ("https://jitgate.dev/problems/policy-denied") or "about:blank"
  std::vector<std::pair<std::string, boost::json::value>>
      extra{};  // rule, review_id, review_url...
};

// The JSON document of `p`; an empty type is written as "about:blank", an empty detail is left
// out.
std::string problemJson(const Problem& p);

// The problem document of a framing or parse refusal (type "about:blank": the status says it).
Problem problemOf(const Refusal& r);

inline constexpr std::string_view kProblemContentType = "application/problem+json";

}  // namespace jg::http
