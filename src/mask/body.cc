#include "mask/body.h"

#include <algorithm>
#include <utility>

#include "core/text.h"
#include "mask/body_maskers.h"
#include "mask/json_stream.h"

namespace jg::mask {
namespace {

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (isAsciiUpper(c)) {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// True when the parameters (after the first `;`) name no charset or utf-8 / us-ascii.
bool charsetOk(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view param = trimSpace(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos || lowerAscii(trimSpace(param.substr(0, eq))) != "charset") {
      continue;
    }
    std::string value = lowerAscii(trimSpace(param.substr(eq + 1)));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (value != "utf-8" && value != "us-ascii") {
      return false;
    }
  }
  return true;
}

// The label of a rule without one: its last named step, upper-cased.
std::string defaultLabel(const JsonPath& path) {
  for (auto it = path.steps.rbegin(); it != path.steps.rend(); ++it) {
    if (!it->name.empty()) {
      std::string label = it->name;
      for (char& c : label) {
        if (isAsciiLower(c)) {
          c = static_cast<char>(c - 'a' + 'A');
        }
      }
      return label;
    }
  }
  return "JSON";
}

}  // namespace

std::optional<BodyKind> bodyKindOf(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string type = lowerAscii(trimSpace(content_type.substr(0, semi)));
  if (semi != std::string_view::npos && !charsetOk(content_type.substr(semi + 1))) {
    return std::nullopt;
  }
  size_t slash = type.find('/');
  if (slash == std::string::npos) {
    return std::nullopt;
  }
  std::string_view top = std::string_view(type).substr(0, slash);
  std::string_view sub = std::string_view(type).substr(slash + 1);
  if (top == "application") {
    if (sub == "json" || (sub.size() > 5 && sub.ends_with("+json"))) {
      return BodyKind::kJson;
    }
    if (sub == "x-ndjson" || sub == "ndjson" || sub == "jsonl" || sub == "x-jsonlines" ||
        sub == "jsonlines") {
      return BodyKind::kNdjson;
    }
    return std::nullopt;
  }
  if (top == "text" && !sub.empty()) {
    return sub == "event-stream" ? BodyKind::kSse : BodyKind::kText;
  }
  return std::nullopt;
}

Result<std::shared_ptr<const BodyPlan>> BodyPlan::compile(
    const Profile* profile, std::vector<JsonPathRule> rules,
    std::vector<std::string> document_id_paths, std::optional<std::string> item_limit_path) {
  std::vector<JsonPath> paths;
  std::vector<Use> uses;
  std::vector<ColumnRule> column_rules;
  auto add = [&](std::string_view text, Use use) -> Result<JsonPath*> {
    Result<JsonPath> p = parseJsonPath(text);
    if (!p) {
      return p.status();
    }
    if (paths.size() >= 0xFFFF) {
      return invalidArgument("too many json paths");
    }
    paths.push_back(std::move(*p));
    uses.push_back(use);
    return &paths.back();
  };
  for (JsonPathRule& rule : rules) {
    if (rule.keep_last < 0) {
      return invalidArgument("json path '" + rule.path + "': keep_last must not be negative");
    }
    Result<JsonPath*> p = add(rule.path, Use{.role = Role::kRule, .rule = column_rules.size()});
    if (!p) {
      return p.status();
    }
    ColumnRule cr;
    cr.column = rule.path;
    cr.strategy = rule.strategy;
    cr.keep_last = rule.keep_last;
    cr.label = rule.label.empty() ? defaultLabel(**p) : rule.label;
    column_rules.push_back(std::move(cr));
  }
  for (const std::string& path : document_id_paths) {
    if (Result<JsonPath*> p = add(path, Use{.role = Role::kDocumentId}); !p) {
      return p.status();
    }
  }
  if (Result<JsonPath*> p = add(item_limit_path.value_or("$"), Use{.role = Role::kItemLimit}); !p) {
    return p.status();
  }
  return std::shared_ptr<const BodyPlan>(new BodyPlan(profile, PathMatcher(std::move(paths)),
                                                      std::move(uses), std::move(column_rules)));
}

void BodyStats::addDocumentId(std::string_view id) {
  if (document_ids_seen >= kMaxDocumentIds) {
    document_ids_capped = true;
    return;
  }
  ++document_ids_seen;
  document_ids.emplace_back(id);
}

Status maskText(const BodyPlan& plan, Scanner& scanner, std::string_view text, std::string& scratch,
                Counters& counters, std::string& out) {
  if (!plan.detects()) {
    out.append(text);
    return Status::ok();
  }
  Result<CellResult> r = scanner.maskFreeText(*plan.profile(), text, scratch, counters);
  if (!r) {
    return r.status();
  }
  out.append(*r == CellResult::kRewritten ? std::string_view(scratch) : text);
  return Status::ok();
}

namespace {

class JsonMasker final : public BodyMasker {
 public:
  JsonMasker(const BodyPlan& plan, Scanner& scanner, BodyLimits limits)
      : stream_(plan, scanner, limits, stats_, /*item_limit=*/true) {}
  Status write(std::string_view chunk, std::string& out) override {
    return stream_.write(chunk, out);
  }
  Status finish(std::string& out) override { return stream_.finish(out); }

 private:
  JsonStream stream_;
};

}  // namespace

std::unique_ptr<BodyMasker> makeJsonMasker(const BodyPlan& plan, Scanner& scanner,
                                           BodyLimits limits) {
  return std::make_unique<JsonMasker>(plan, scanner, limits);
}

std::unique_ptr<BodyMasker> makeBodyMasker(BodyKind kind, const BodyPlan& plan, Scanner& scanner,
                                           BodyLimits limits) {
  switch (kind) {
    case BodyKind::kJson:
      return makeJsonMasker(plan, scanner, limits);
    case BodyKind::kNdjson:
      return makeNdjsonMasker(plan, scanner, limits);
    case BodyKind::kSse:
      return makeSseMasker(plan, scanner, limits);
    case BodyKind::kText:
      return makeTextMasker(plan, scanner, limits);
  }
  return nullptr;
}

}  // namespace jg::mask
