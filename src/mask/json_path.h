// JSON paths for the body maskers: a small JSONPath subset, compiled into steps, and a matcher
// that follows many paths at once while a document streams past.
//
// Syntax: `$` (the document), `.name` or `['name']` (a member), `[*]` or `.*` (every member or
// element), `..name`, `..['name']` or `..*` (recursive descent: at any depth below). Names in
// brackets take `\'` and `\\` escapes; dotted names run to the next `.` or `[`.
//
// Matching runs on states: a state (path p, step i) at a node says that p's first i steps lead
// to this node; the node is at p's end when i equals p's length. The streaming code keeps the
// states of every open container and asks for a child's states with step(). PathMatcher is
// immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jg::mask {

enum class StepKind {
  kName,         // .name / ['name']
  kAny,          // [*] / .*
  kDescendName,  // ..name
  kDescendAny,   // ..*
};

struct PathStep {
  StepKind kind = StepKind::kName;
  std::string name{};  // kName and kDescendName
};

struct JsonPath {
  std::string text{};
  std::vector<PathStep> steps{};
};

// Errors name the path and what is wrong with it.
Result<JsonPath> parseJsonPath(std::string_view text);

class PathMatcher {
 public:
  using State = uint32_t;  // path index << 16 | step index

  // REQUIRES: fewer than 65536 paths of fewer than 65536 steps each.
  explicit PathMatcher(std::vector<JsonPath> paths);

  size_t size() const { return paths_.size(); }
  const JsonPath& path(size_t index) const { return paths_[index]; }
  bool empty() const { return paths_.empty(); }

  // Appends the states of the document root to `out`.
  void root(std::vector<State>& out) const;
  // Appends to `out` the states of a child of a node whose states are `parent`: the member
  // named `*key`, or an array element when `key` is null. Each state appears once; at most
  // two per parent state (`parent` may live in `out` when out has room for them).
  void step(std::span<const State> parent, const std::string_view* key,
            std::vector<State>& out) const;
  // The index of the path `state` ends, or -1 when the state is not at a path's end.
  int32_t ends(State state) const;

 private:
  static void add(std::vector<State>& out, size_t from, State s);

  std::vector<JsonPath> paths_;
};

}  // namespace jg::mask
