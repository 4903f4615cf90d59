// config::Node: a YAML node that knows where it came from, so every configuration error can
// name the file, the line and the key path (`gateway.yaml:12: resources[0].upstream.port: ...`).
//
// Typed getters never throw: a missing or ill-typed value records an error in the Errors
// collector and returns the default, so one pass reports every problem at once. Each module
// parses its own section from a Node (identity, policy, mask, audit, ...); the gateway config
// composes them. Nodes are cheap to copy. Not thread-safe; used only while loading.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jg::config {

class Node;

class Errors {
 public:
  void add(const Node& at, std::string_view message);
  void addRaw(std::string message) { list_.push_back(std::move(message)); }
  bool empty() const { return list_.empty(); }
  const std::vector<std::string>& list() const { return list_; }
  // All errors, one per line.
  std::string joined() const;

 private:
  std::vector<std::string> list_;
};

class Node {
 public:
  Node(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, int line);

  // Parses YAML text; `file` names it in errors.
  static Result<Node> parse(std::string_view text, std::string file);
  static Result<Node> loadFile(const std::string& path);

  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool isMap() const { return node_.IsMap(); }
  bool isSequence() const { return node_.IsSequence(); }
  bool isScalar() const { return node_.IsScalar(); }
  size_t size() const { return node_.size(); }
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  // 1-based line of this node, or of its parent when the node is missing.
  int line() const { return line_; }
  // "file:line: path" — the prefix of every error about this node.
  std::string where() const;

  bool has(std::string_view key) const;
  Node operator[](std::string_view key) const;
  Node at(size_t index) const;
  // Keys of a mapping, in document order.
  std::vector<std::string> keys() const;
  // Records an error for each key not in `allowed`.
  void checkKeys(Errors& errors, std::initializer_list<std::string_view> allowed) const;

  // Typed getters; when the node is missing they return `def` without an error, unless
  // `required` variants are used.
  std::string str(Errors& errors, std::string def = {}) const;
  std::string requiredStr(Errors& errors) const;
  // A file or directory name: a relative one is resolved against the directory of the
  // configuration file that names it (resolvePath), never against the working directory.
  std::string path(Errors& errors, std::string def = {}) const;
  std::string requiredPath(Errors& errors) const;
  int64_t integer(Errors& errors, int64_t def, int64_t min, int64_t max) const;
  bool boolean(Errors& errors, bool def) const;
  // Durations like "250ms", "30s", "5m", "1h", "2d", or a bare number of seconds.
  std::chrono::milliseconds duration(Errors& errors, std::chrono::milliseconds def) const;
  // A scalar or a sequence of scalars.
  std::vector<std::string> strings(Errors& errors) const;
  // One of the listed words.
  std::string oneOf(Errors& errors, std::initializer_list<std::string_view> words,
                    std::string def) const;

  const YAML::Node& raw() const { return node_; }

 private:
  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
  int line_;
};

// The longest duration accepted: 100 years, so that a point in time that far from now is still
// representable (the system clock counts nanoseconds in an int64, up to the year 2262).
inline constexpr std::chrono::milliseconds kMaxDuration{int64_t{36'500} * 86'400'000};

// Parses "250ms", "30s", "5m", "1h", "2d" or a bare number of seconds; nullopt when malformed
// or longer than kMaxDuration.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

inline constexpr size_t kMaxSecretFileBytes = 64 * 1024;

// Reads a secret from a file (trailing newline stripped) of at most kMaxSecretFileBytes. The
// error names the file, never the content. Files readable by group or others are refused when
// `strict_mode` is set.
Result<std::string> readSecretFile(const std::string& path, bool strict_mode = false);

// `path` as named in `config_file`: absolute as is, relative to the file's directory otherwise.
std::string resolvePath(const std::string& config_file, const std::string& path);

// A password under `n`: `password_file` (resolved like every path) or `password_env` (the name
// of an environment variable); an inline `password` is an error, never accepted. nullopt when
// none is given (an error too when `required`) or when it cannot be read.
std::optional<std::string> readPassword(const Node& n, Errors& errors, bool required);

}  // namespace jg::config
