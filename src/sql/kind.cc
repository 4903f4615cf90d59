#include "sql/kind.h"

#include <array>

namespace jg::sql {

namespace {
constexpr std::array<std::string_view, kKindCount> kNames = {
    "select",      "insert",       "update",       "delete",     "merge",    "copy-in",
    "copy-out",    "ddl",          "dcl",          "set",        "reset",    "show",
    "transaction", "prepare",      "execute",      "deallocate", "call",     "do",
    "listen",      "notify",       "lock",         "truncate",   "vacuum",   "analyze",
    "explain",     "cursor",       "maintenance",  "sql-text",   "sequence", "large-object",
    "signal",      "server-files", "server-admin", "two-phase",  "other",    "unknown",
};
static_assert(kNames.back() == "unknown", "one name per kind, in enum order");

constexpr KindSet setOf(std::initializer_list<Kind> kinds) {
  KindSet s;
  for (Kind k : kinds) {
    s.add(k);
  }
  return s;
}
}  // namespace

std::string_view kindName(Kind k) {
  return kNames[static_cast<size_t>(k)];
}

std::optional<Kind> kindFromName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      return static_cast<Kind>(i);
    }
  }
  return std::nullopt;
}

std::string KindSet::toString() const {
  std::string out;
  for (int i = 0; i < kKindCount; ++i) {
    if (has(static_cast<Kind>(i))) {
      if (!out.empty()) {
        out += ", ";
      }
      out += kNames[i];
    }
  }
  return out;
}

std::optional<KindSet> kindGroupFromName(std::string_view name) {
  if (name == "read") {
    return setOf({Kind::kSelect, Kind::kCopyOut, Kind::kShow, Kind::kExplain, Kind::kCursor});
  }
  if (name == "write") {
    return kWriteKinds;
  }
  if (name == "session") {
    return setOf({Kind::kSet, Kind::kReset, Kind::kShow, Kind::kTransaction, Kind::kDeallocate,
                  Kind::kCursor});
  }
  if (name == "all") {
    KindSet s = KindSet::all();
    return KindSet(s.bits() & ~KindSet::of(Kind::kUnknown).bits());
  }
  return std::nullopt;
}

}  // namespace jg::sql
