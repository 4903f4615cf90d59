#include "config/node.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "config/suggest.h"

namespace jg::config {

void Errors::add(const Node& at, std::string_view message) {
  list_.push_back(fmt::format("{}: {}", at.where(), message));
}

namespace {

// Levenshtein distance, for suggestions.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closestWord(std::string_view word, const std::vector<std::string_view>& known) {
  std::string_view best;
  size_t best_distance = 3;
  for (auto k : known) {
    size_t d = editDistance(word, k);
    if (d < best_distance && d * 2 < std::max(word.size(), k.size())) {
      best = k;
      best_distance = d;
    }
  }
  return std::string(best);
}

std::string Errors::joined() const {
  std::string out;
  for (const auto& e : list_) {
    out += e;
    out += '\n';
  }
  return out;
}

Node::Node(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, int line)
    // A missing key yields an "invalid" node on which most calls throw (even assignment); keep a
    // valid, undefined one instead so every getter works and reports the parent's line.
    : node_(node.IsDefined() ? std::move(node) : YAML::Node(YAML::NodeType::Undefined)),
      file_(std::move(file)),
      path_(std::move(path)),
      line_(line) {
  if (node_.IsDefined() && node_.Mark().line >= 0) {
    line_ = node_.Mark().line + 1;
  }
}

Result<Node> Node::parse(std::string_view text, std::string file) {
  auto name = std::make_shared<const std::string>(std::move(file));
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return Node(root, name, "", 1);
  } catch (const YAML::Exception& e) {
    return invalidArgument(fmt::format("{}:{}: invalid YAML: {}", *name, e.mark.line + 1, e.msg));
  }
}

Result<Node> Node::loadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return invalidArgument(fmt::format("{}: cannot open configuration file", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

std::string Node::where() const {
  if (path_.empty()) {
    return fmt::format("{}:{}", *file_, line_);
  }
  return fmt::format("{}:{}: {}", *file_, line_, path_);
}

bool Node::has(std::string_view key) const {
  return node_.IsMap() && node_[std::string(key)].IsDefined();
}

Node Node::operator[](std::string_view key) const {
  std::string p = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!node_.IsMap()) {
    return Node(YAML::Node(YAML::NodeType::Undefined), file_, std::move(p), line_);
  }
  return Node(node_[std::string(key)], file_, std::move(p), line_);
}

Node Node::at(size_t index) const {
  std::string p = fmt::format("{}[{}]", path_, index);
  if (!node_.IsSequence() || index >= node_.size()) {
    return Node(YAML::Node(YAML::NodeType::Undefined), file_, std::move(p), line_);
  }
  return Node(node_[index], file_, std::move(p), line_);
}

std::vector<std::string> Node::keys() const {
  std::vector<std::string> out;
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      out.push_back(kv.first.Scalar());
    }
  }
  return out;
}

void Node::checkKeys(Errors& errors, std::initializer_list<std::string_view> allowed) const {
  if (!node_.IsDefined() || node_.IsNull()) {
    return;
  }
  if (!node_.IsMap()) {
    errors.add(*this, "expected a mapping");
    return;
  }
  for (const auto& kv : node_) {
    const std::string& key = kv.first.Scalar();
    bool ok = false;
    for (auto a : allowed) {
      ok = ok || a == key;
    }
    if (!ok) {
      std::string list;
      for (auto a : allowed) {
        list += list.empty() ? "" : ", ";
        list += a;
      }
      Node child = (*this)[key];
      std::string guess = closestWord(key, std::vector<std::string_view>(allowed));
      errors.add(child, fmt::format("unknown key{} (expected one of: {})",
                                    guess.empty() ? "" : "; did you mean '" + guess + "'?", list));
    }
  }
}

std::string Node::str(Errors& errors, std::string def) const {
  if (!defined()) {
    return def;
  }
  if (!node_.IsScalar()) {
    errors.add(*this, "expected a string");
    return def;
  }
  return node_.Scalar();
}

std::string Node::requiredStr(Errors& errors) const {
  if (!defined()) {
    errors.add(*this, "required");
    return {};
  }
  return str(errors);
}

std::string Node::path(Errors& errors, std::string def) const {
  return resolvePath(file(), str(errors, std::move(def)));
}

std::string Node::requiredPath(Errors& errors) const {
  return resolvePath(file(), requiredStr(errors));
}

int64_t Node::integer(Errors& errors, int64_t def, int64_t min, int64_t max) const {
  if (!defined()) {
    return def;
  }
  const std::string s = node_.IsScalar() ? node_.Scalar() : std::string();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!node_.IsScalar() || ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
    errors.add(*this,
               fmt::format("expected an integer between {} and {}, got \"{}\"", min, max, s));
    return def;
  }
  return v;
}

bool Node::boolean(Errors& errors, bool def) const {
  if (!defined()) {
    return def;
  }
  const std::string s = node_.IsScalar() ? node_.Scalar() : std::string();
  if (s == "true" || s == "yes" || s == "on") {
    return true;
  }
  if (s == "false" || s == "no" || s == "off") {
    return false;
  }
  errors.add(*this, fmt::format("expected true or false, got \"{}\"", s));
  return def;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || v < 0) {
    return std::nullopt;
  }
  std::string_view unit(p, text.data() + text.size() - p);
  int64_t unit_ms = 0;
  if (unit.empty() || unit == "s") {
    unit_ms = 1000;
  } else if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else if (unit == "d") {
    unit_ms = 86'400'000;
  }
  if (unit_ms == 0 || v > kMaxDuration.count() / unit_ms) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(v * unit_ms);
}

std::chrono::milliseconds Node::duration(Errors& errors, std::chrono::milliseconds def) const {
  if (!defined()) {
    return def;
  }
  auto d = node_.IsScalar() ? parseDuration(node_.Scalar()) : std::nullopt;
  if (!d) {
    errors.add(*this,
               fmt::format("expected a duration such as 500ms, 30s, 5m, 1h or 2d (at most 36500d), "
                           "got \"{}\"",
                           node_.IsScalar() ? node_.Scalar() : std::string("(not a scalar)")));
    return def;
  }
  return *d;
}

std::vector<std::string> Node::strings(Errors& errors) const {
  std::vector<std::string> out;
  if (!defined()) {
    return out;
  }
  if (node_.IsScalar()) {
    out.push_back(node_.Scalar());
    return out;
  }
  if (!node_.IsSequence()) {
    errors.add(*this, "expected a string or a list of strings");
    return out;
  }
  for (size_t i = 0; i < node_.size(); ++i) {
    out.push_back(at(i).str(errors));
  }
  return out;
}

std::string Node::oneOf(Errors& errors, std::initializer_list<std::string_view> words,
                        std::string def) const {
  if (!defined()) {
    return def;
  }
  std::string s = str(errors, def);
  std::string list;
  for (auto w : words) {
    if (w == s) {
      return s;
    }
    list += list.empty() ? "" : ", ";
    list += w;
  }
  errors.add(*this, fmt::format("expected one of {}, got \"{}\"", list, s));
  return def;
}

Result<std::string> readSecretFile(const std::string& path, bool strict_mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return invalidArgument(fmt::format("secret file {} does not exist or is not readable", path));
  }
  if (strict_mode && (st.st_mode & 077) != 0) {
    return invalidArgument(
        fmt::format("secret file {} is readable by group or others; chmod 600 it", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return invalidArgument(fmt::format("secret file {} cannot be opened", path));
  }
  // Bounded: the path may name a device or a pipe (/dev/zero never ends).
  std::string s(kMaxSecretFileBytes + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  if (s.size() > kMaxSecretFileBytes) {
    return invalidArgument(fmt::format("secret file {} is larger than 64 KiB", path));
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.pop_back();
  }
  if (s.empty()) {
    return invalidArgument(fmt::format("secret file {} is empty", path));
  }
  return s;
}

std::string resolvePath(const std::string& config_file, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) {
    return path;
  }
  auto dir = std::filesystem::path(config_file).parent_path();
  return (dir / path).lexically_normal().string();
}

std::optional<std::string> readPassword(const Node& n, Errors& errors, bool required) {
  if (n.has("password")) {
    errors.add(n["password"],
               "inline passwords are not allowed; use password_file or password_env");
    return std::nullopt;
  }
  if (n.has("password_file")) {
    auto s = readSecretFile(n["password_file"].path(errors));
    if (!s) {
      errors.add(n["password_file"], s.status().message());
      return std::nullopt;
    }
    return std::move(*s);
  }
  if (n.has("password_env")) {
    std::string var = n["password_env"].str(errors);
    const char* v = std::getenv(var.c_str());
    if (v == nullptr || *v == '\0') {
      errors.add(n["password_env"], fmt::format("environment variable {} is not set", var));
      return std::nullopt;
    }
    return std::string(v);
  }
  if (required) {
    errors.add(n, "password_file or password_env is required");
  }
  return std::nullopt;
}

}  // namespace jg::config
