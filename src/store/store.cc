#include "store/store.h"

#include "store/pg_store.h"
#include "store/pg_url.h"
#include "store/sqlite_store.h"

namespace jg::store {

std::string asString(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return std::to_string(*d);
  }
  return {};
}

int64_t asInt(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return *i;
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return static_cast<int64_t>(*d);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    return std::strtoll(s->c_str(), nullptr, 10);
  }
  return 0;
}

bool isNull(const Value& v) {
  return std::holds_alternative<std::monostate>(v);
}

Result<std::unique_ptr<Store>> open(std::string_view url) {
  if (url == "sqlite::memory:") {
    return openSqlite(":memory:");
  }
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.substr(0, kSqlite.size()) == kSqlite) {
    std::string path(url.substr(kSqlite.size()));
    if (path.empty()) {
      return invalidArgument("state store URL names no file: " + std::string(url));
    }
    return openSqlite(path);
  }
  if (url.substr(0, 13) == "postgresql://" || url.substr(0, 11) == "postgres://") {
    return openPostgres(url);
  }
  return invalidArgument("state store URL must start with sqlite:// or postgresql:// (got '" +
                         redactUrl(url) + "')");
}

std::string parseSettings(const config::Node& node, config::Errors& errors) {
  std::string url = node.str(errors, "sqlite:///var/lib/jitgate/state.db");
  if (url.rfind("sqlite://", 0) != 0 && url != "sqlite::memory:" &&
      url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0) {
    errors.add(node, "must be a sqlite:///path or postgresql:// URL");
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    // Checked here so that a bad URL is a configuration error, not a failure at startup.
    if (auto pg = parsePgUrl(url); !pg) {
      errors.add(node, pg.status().message());
    } else if (!pg->password_file.empty() && !pg->password_file.starts_with('/')) {
      errors.add(node, "password_file= in the store URL must be an absolute path");
    }
    return url;
  }
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite) && node.defined()) {
    // sqlite://state.db names a file beside the configuration file, like every relative path.
    url = std::string(kSqlite) + config::resolvePath(node.file(), url.substr(kSqlite.size()));
  }
  return url;
}

}  // namespace jg::store
