#include "policy/match.h"

#include <algorithm>
#include <cctype>

namespace jg::policy {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view baseName(std::string_view f) {
  auto dot = f.rfind('.');
  return dot == std::string_view::npos ? f : f.substr(dot + 1);
}

Rule guard(Guardrail g, std::string reason) {
  Rule r;
  r.id = "builtin:" + std::string(guardrailName(g));
  r.reason = std::move(reason);
  r.effect = Effect::kDeny;
  r.guardrail = g;
  r.where = "built-in";
  return r;
}

// Runs `f` on every function the statement (and an EXECUTE's parameters) calls, lower-cased.
template <typename F>
bool anyFunction(const Request& req, F&& f) {
  for (const sql::Statement* s : {req.stmt.stmt, req.stmt.execute}) {
    if (s == nullptr) {
      continue;
    }
    for (const auto& fn : s->functions) {
      if (f(lower(fn))) {
        return true;
      }
    }
  }
  return false;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? ", " : "") + v[i];
  }
  return out + "]";
}

bool anyGlob(const std::vector<std::string>& patterns, const std::string& text) {
  for (const auto& p : patterns) {
    if (globMatch(p, text)) {
      return true;
    }
  }
  return false;
}

bool tableAny(const TablePattern& p, const sql::TableRef& t) {
  return (t.schema == "*" || globMatch(p.schema, t.schema)) &&
         (t.name == "*" || globMatch(p.name, t.name));
}

bool tableCover(const TablePattern& p, const sql::TableRef& t) {
  return (t.schema == "*" ? p.schema == "*" : globMatch(p.schema, t.schema)) &&
         (t.name == "*" ? p.name == "*" : globMatch(p.name, t.name));
}

bool functionMatches(const std::string& pattern, const std::string& fn) {
  if (pattern.find('.') != std::string::npos) {
    return globMatch(pattern, fn.find('.') == std::string::npos ? "pg_catalog." + fn : fn);
  }
  return globMatch(pattern, std::string(baseName(fn)));
}

bool columnMatches(const ColumnPattern& p, const std::string& c, const Request& req,
                   detail::Mode mode) {
  bool col = c == "*" ? (mode == detail::Mode::kAny || p.column == "*") : globMatch(p.column, c);
  if (!col || !p.table) {
    return col;
  }
  const auto& tables = req.stmt.tables;
  if (mode == detail::Mode::kAny) {
    return std::any_of(tables.begin(), tables.end(),
                       [&](const sql::TableRef& t) { return tableAny(*p.table, t); });
  }
  return std::all_of(tables.begin(), tables.end(),
                     [&](const sql::TableRef& t) { return tableCover(*p.table, t); });
}

}  // namespace

std::string_view guardrailName(Guardrail g) {
  switch (g) {
    case Guardrail::kNone:
      return "";
    case Guardrail::kCopyProgram:
      return "copy-program";
    case Guardrail::kCopyFile:
      return "copy-file";
    case Guardrail::kServerFiles:
      return "server-files";
    case Guardrail::kDblink:
      return "dblink";
    case Guardrail::kBackendSignals:
      return "backend-signals";
    case Guardrail::kRoleChange:
      return "role-change";
    case Guardrail::kAlterSystem:
      return "alter-system";
    case Guardrail::kCreateExtension:
      return "create-extension";
    case Guardrail::kCatalogWrites:
      return "catalog-writes";
    case Guardrail::kDoBlock:
      return "do-block";
  }
  return "";
}

std::vector<Rule> builtinGuardrails() {
  return {
      guard(Guardrail::kCopyProgram, "COPY to or from a program runs commands on the server"),
      guard(Guardrail::kCopyFile, "COPY to or from a server file reads or writes its disk"),
      guard(Guardrail::kServerFiles, "functions that read or write server files are blocked"),
      guard(Guardrail::kDblink, "dblink opens connections the gateway cannot see"),
      guard(Guardrail::kBackendSignals, "signalling server processes is blocked"),
      guard(Guardrail::kRoleChange, "changing the session role bypasses the gateway's role"),
      guard(Guardrail::kAlterSystem, "ALTER SYSTEM changes the server configuration"),
      guard(Guardrail::kCreateExtension, "CREATE EXTENSION loads code into the server"),
      guard(Guardrail::kCatalogWrites, "writes to the system catalogs are blocked"),
      guard(Guardrail::kDoBlock, "DO blocks run procedural code the gateway cannot inspect"),
  };
}

namespace detail {

bool guardrailMatches(const Rule& r, const Request& req, std::string* what) {
  const sql::Statement& st = *req.stmt.stmt;
  auto say = [&](std::string s) {
    if (what != nullptr) {
      *what = std::move(s);
    }
    return true;
  };
  switch (r.guardrail) {
    case Guardrail::kNone:
      return false;
    case Guardrail::kCopyProgram:
      return st.copy_program && say("COPY ... PROGRAM");
    case Guardrail::kCopyFile:
      return st.copy_file && say("COPY with a server file");
    case Guardrail::kServerFiles: {
      static const char* const kFns[] = {
          "pg_read_file",   "pg_read_binary_file", "pg_ls_dir",     "pg_stat_file",
          "pg_ls_logdir",   "pg_ls_waldir",        "pg_ls_tmpdir",  "pg_ls_archive_statusdir",
          "lo_import",      "lo_export",           "pg_file_write", "pg_file_rename",
          "pg_file_unlink", "pg_logdir_ls",        "pg_file_sync"};
      std::string hit;
      bool m = anyFunction(req, [&](const std::string& f) {
        for (const char* k : kFns) {
          if (baseName(f) == k) {
            hit = f;
            return true;
          }
        }
        return false;
      });
      return m && say("function " + hit);
    }
    case Guardrail::kDblink: {
      std::string hit;
      bool m = anyFunction(req, [&](const std::string& f) {
        hit = f;
        return baseName(f).starts_with("dblink");
      });
      return m && say("function " + hit);
    }
    case Guardrail::kBackendSignals: {
      std::string hit;
      bool m = anyFunction(req, [&](const std::string& f) {
        hit = f;
        auto b = baseName(f);
        return b == "pg_terminate_backend" || b == "pg_cancel_backend" || b == "pg_reload_conf" ||
               b == "pg_rotate_logfile" || b == "pg_promote" || b == "pg_signal_backend";
      });
      return m && say("function " + hit);
    }
    case Guardrail::kRoleChange:
      for (const auto& s : st.settings) {
        if (s == "role" || s == "session_authorization" || s == "*") {
          return say(s == "*" ? "set_config of a setting that is not a constant"
                              : "change of setting " + s);
        }
      }
      return false;
    case Guardrail::kAlterSystem:
      return st.tag == "AlterSystemStmt" && say("ALTER SYSTEM");
    case Guardrail::kCreateExtension:
      return st.tag == "CreateExtensionStmt" && say("CREATE EXTENSION");
    case Guardrail::kCatalogWrites:
      for (const auto& t : req.stmt.tables) {
        if (t.write && (t.schema == "pg_catalog" || t.schema == "information_schema" ||
                        (t.schema == "*" && t.name.starts_with("pg_")))) {
          return say("write to " + t.qualified());
        }
      }
      return false;
    case Guardrail::kDoBlock:
      return st.kind == sql::Kind::kDo && say("DO block");
  }
  return false;
}

bool identityMatches(const Rule& r, const identity::Identity& who, std::string_view resource,
                     std::string* why) {
  auto fail = [&](std::string s) {
    if (why != nullptr) {
      *why = std::move(s);
    }
    return false;
  };
  if (!r.resources.empty() && !anyGlob(r.resources, std::string(resource))) {
    return fail("resource '" + std::string(resource) + "' is not in " + joined(r.resources));
  }
  if (!r.subjects.empty() && !anyGlob(r.subjects, who.subject)) {
    return fail("subject '" + who.subject + "' is not in " + joined(r.subjects));
  }
  if (!r.emails.empty() && (who.email.empty() || !anyGlob(r.emails, lower(who.email)))) {
    return fail("email '" + who.email + "' is not in " + joined(r.emails));
  }
  if (!r.client_ids.empty() && !anyGlob(r.client_ids, who.client_id)) {
    return fail("client id '" + who.client_id + "' is not in " + joined(r.client_ids));
  }
  if (!r.groups.empty()) {
    bool any = std::any_of(who.groups.begin(), who.groups.end(),
                           [&](const std::string& g) { return anyGlob(r.groups, g); });
    if (!any) {
      return fail("groups " + joined(who.groups) + " share none of " + joined(r.groups));
    }
  }
  return true;
}

bool statementMatches(const Rule& r, const Request& req, Mode mode, std::string* why) {
  auto fail = [&](std::string s) {
    if (why != nullptr) {
      *why = std::move(s);
    }
    return false;
  };
  const sql::Statement& st = *req.stmt.stmt;
  const bool any = mode == Mode::kAny;
  // Housekeeping kinds (set_config inside a SELECT, ...) are allowed in every admitted session,
  // so an allow rule need not name them unless the statement does nothing else.
  sql::KindSet needed = st.kinds;
  if (!any) {
    static const sql::KindSet kSession = *sql::kindGroupFromName("session");
    sql::KindSet rest(st.kinds.bits() & ~kSession.bits());
    needed = rest.empty() ? st.kinds : rest;
  }
  if (r.has_kinds && !(any ? r.kinds.intersects(st.kinds) : r.kinds.containsAll(needed))) {
    return fail("statement kinds [" + st.kinds.toString() + "] " +
                (any ? "share none of" : "are not all in") + " [" + r.kinds.toString() + "]");
  }
  if (!any && r.read_only && st.writes) {
    return fail("the rule is read-only and the statement writes");
  }
  const auto& tables = req.stmt.tables;
  if (!r.tables.empty()) {
    for (const auto& t : tables) {
      bool hit = std::any_of(r.tables.begin(), r.tables.end(), [&](const TablePattern& p) {
        return any ? tableAny(p, t) : tableCover(p, t);
      });
      if (any && hit) {
        goto tables_ok;
      }
      if (!any && !hit) {
        return fail("table " + t.qualified() + " is not named by the rule");
      }
    }
    if (any) {
      return fail(tables.empty() ? "the statement touches no table"
                                 : "no table of the statement is named by the rule");
    }
  }
tables_ok:
  if (!r.columns.empty()) {
    bool found_any = false;
    for (const auto& c : st.columns) {
      bool hit = std::any_of(r.columns.begin(), r.columns.end(), [&](const ColumnPattern& p) {
        return columnMatches(p, c, req, mode);
      });
      if (!any && !hit) {
        return fail("column " + c + " is not named by the rule");
      }
      found_any = found_any || hit;
    }
    if (any && !found_any) {
      return fail("no column of the statement is named by the rule");
    }
  }
  if (!r.functions.empty()) {
    bool found_any = false;
    std::string missing;
    anyFunction(req, [&](const std::string& f) {
      bool hit = std::any_of(r.functions.begin(), r.functions.end(),
                             [&](const std::string& p) { return functionMatches(p, f); });
      found_any = found_any || hit;
      if (!hit && missing.empty()) {
        missing = f;
      }
      return false;
    });
    if (any && !found_any) {
      return fail("the statement calls none of the rule's functions");
    }
    if (!any && !missing.empty()) {
      return fail("function " + missing + " is not named by the rule");
    }
  }
  if (r.when && !r.when->contains(req.now)) {
    return fail("outside the time window " + r.when->describe());
  }
  return true;
}

std::string describe(const Request& req) {
  const sql::Statement& st = *req.stmt.stmt;
  std::string out = "statement kind " + std::string(sql::kindName(st.kind));
  if (st.kinds != sql::KindSet::of(st.kind)) {
    out += " (does " + st.kinds.toString() + ")";
  }
  if (!req.stmt.tables.empty()) {
    out += "; tables ";
    for (size_t i = 0; i < req.stmt.tables.size(); ++i) {
      const auto& t = req.stmt.tables[i];
      out += (i ? ", " : "") + t.qualified() + (t.write ? " (write)" : "");
    }
  }
  return out;
}

}  // namespace detail
}  // namespace jg::policy
