#include "mask/json_path.h"

#include <algorithm>

namespace jg::mask {
namespace {

Status pathError(std::string_view text, size_t at, std::string_view why) {
  return invalidArgument("json path '" + std::string(text) + "': " + std::string(why) +
                         " at offset " + std::to_string(at));
}

// A bracketed name `['a\'b']` or `["a"]` starting at the quote `text[i]`; `i` ends past `]`.
bool readQuotedName(std::string_view text, size_t& i, std::string& name) {
  char quote = text[i++];
  name.clear();
  while (i < text.size() && text[i] != quote) {
    if (text[i] == '\\') {
      if (++i == text.size()) {
        return false;
      }
    }
    name.push_back(text[i++]);
  }
  if (i + 1 >= text.size() || text[i + 1] != ']') {
    return false;
  }
  i += 2;
  return true;
}

// A dotted name: up to the next `.` or `[`.
std::string readDottedName(std::string_view text, size_t& i) {
  size_t end = text.find_first_of(".[", i);
  end = end == std::string_view::npos ? text.size() : end;
  std::string name(text.substr(i, end - i));
  i = end;
  return name;
}

// One step after `.`, `..` or at `[`; `descend` for `..`.
Status readStep(std::string_view text, size_t& i, bool descend, PathStep& step) {
  size_t at = i;
  if (i < text.size() && text[i] == '[') {
    if (text.substr(i, 3) == "[*]") {
      i += 3;
      step.kind = descend ? StepKind::kDescendAny : StepKind::kAny;
      return Status::ok();
    }
    if (i + 1 < text.size() && (text[i + 1] == '\'' || text[i + 1] == '"')) {
      ++i;
      if (!readQuotedName(text, i, step.name)) {
        return pathError(text, at, "unterminated bracketed name");
      }
      step.kind = descend ? StepKind::kDescendName : StepKind::kName;
      return Status::ok();
    }
    return pathError(text, at, "expected [*] or a quoted name (indexes are not supported)");
  }
  if (i < text.size() && text[i] == '*') {
    ++i;
    step.kind = descend ? StepKind::kDescendAny : StepKind::kAny;
    return Status::ok();
  }
  step.name = readDottedName(text, i);
  if (step.name.empty()) {
    return pathError(text, at, "empty name");
  }
  step.kind = descend ? StepKind::kDescendName : StepKind::kName;
  return Status::ok();
}

}  // namespace

Result<JsonPath> parseJsonPath(std::string_view text) {
  if (text.empty() || text[0] != '$') {
    return pathError(text, 0, "must start with $");
  }
  JsonPath path{.text = std::string(text), .steps = {}};
  size_t i = 1;
  while (i < text.size()) {
    bool descend = false;
    if (text[i] == '.') {
      ++i;
      if (i < text.size() && text[i] == '.') {
        descend = true;
        ++i;
      }
    } else if (text[i] != '[') {
      return pathError(text, i, "expected . or [");
    }
    PathStep step;
    if (Status s = readStep(text, i, descend, step); !s) {
      return s;
    }
    path.steps.push_back(std::move(step));
  }
  if (path.steps.size() >= 0xFFFF) {
    return pathError(text, 0, "too many steps");
  }
  return path;
}

PathMatcher::PathMatcher(std::vector<JsonPath> paths) : paths_(std::move(paths)) {}

void PathMatcher::add(std::vector<State>& out, size_t from, State s) {
  if (std::find(out.begin() + static_cast<ptrdiff_t>(from), out.end(), s) == out.end()) {
    out.push_back(s);
  }
}

void PathMatcher::root(std::vector<State>& out) const {
  for (size_t p = 0; p < paths_.size(); ++p) {
    out.push_back(static_cast<State>(p << 16));
  }
}

void PathMatcher::step(std::span<const State> parent, const std::string_view* key,
                       std::vector<State>& out) const {
  size_t from = out.size();
  for (State s : parent) {
    const std::vector<PathStep>& steps = paths_[s >> 16].steps;
    size_t i = s & 0xFFFF;
    if (i == steps.size()) {
      continue;
    }
    const PathStep& st = steps[i];
    switch (st.kind) {
      case StepKind::kName:
        if (key != nullptr && *key == st.name) {
          add(out, from, s + 1);
        }
        break;
      case StepKind::kAny:
        add(out, from, s + 1);
        break;
      case StepKind::kDescendName:
        add(out, from, s);
        if (key != nullptr && *key == st.name) {
          add(out, from, s + 1);
        }
        break;
      case StepKind::kDescendAny:
        add(out, from, s);
        add(out, from, s + 1);
        break;
    }
  }
}

int32_t PathMatcher::ends(State state) const {
  size_t p = state >> 16;
  return (state & 0xFFFF) == paths_[p].steps.size() ? static_cast<int32_t>(p) : -1;
}

}  // namespace jg::mask
