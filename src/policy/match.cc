#include "policy/match.h"

#include <algorithm>
#include <cctype>

#include "sql/function_catalog.h"
#include "sql/session_context.h"

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

// Runs `f` on the statement and, for EXECUTE, on the EXECUTE itself (its parameters are
// expressions that run too: EXECUTE p(nextval('s'))); true when `f` is for one of them.
template <typename F>
bool anyStatement(const Request& req, F&& f) {
  for (const sql::Statement* s : {req.stmt.stmt, req.stmt.execute}) {
    if (s != nullptr && f(*s)) {
      return true;
    }
  }
  return false;
}

// Runs `f` on every function the statement (and an EXECUTE's parameters) calls, lower-cased.
template <typename F>
bool anyFunction(const Request& req, F&& f) {
  return anyStatement(req, [&](const sql::Statement& s) {
    return std::any_of(s.functions.begin(), s.functions.end(),
                       [&](const std::string& fn) { return f(lower(fn)); });
  });
}

// Every kind the statement does, with the kinds of an EXECUTE's parameters.
sql::KindSet kindsOf(const Request& req) {
  sql::KindSet k = req.stmt.stmt->kinds;
  if (req.stmt.execute != nullptr) {
    k.add(req.stmt.execute->kinds);
  }
  return k;
}

bool writesOf(const Request& req) {
  return req.stmt.stmt->writes || (req.stmt.execute != nullptr && req.stmt.execute->writes);
}

// The first function of the statement (any schema, any case) whose catalogue family is `k`.
bool functionOfFamily(const Request& req, sql::Kind k, std::string& hit) {
  return anyFunction(req, [&](const std::string& f) {
    hit = f;
    return sql::builtinFunctionKinds(baseName(f)).has(k);
  });
}

bool isOn(std::string_view v) {
  std::string l = lower(v);
  return l == "on" || l == "true" || l == "yes" || l == "1";
}

// What the parser-settings guardrail refuses in one statement, or "".
std::string parserSettingChange(const sql::Statement& st) {
  if (std::find(st.settings.begin(), st.settings.end(), "*") != st.settings.end()) {
    return "set_config of a setting whose name is not a constant";
  }
  for (const auto& v : st.setting_values) {
    std::string shown = v.value ? "'" + *v.value + "'" : "a value that is not a constant";
    if (v.name == "client_encoding" && !(v.value && sql::isUtf8Encoding(*v.value))) {
      return "client_encoding set to " + shown +
             ": jitgate speaks UTF8 to the server; keep client_encoding UTF8 (convert on the "
             "client)";
    }
    if (v.name == "standard_conforming_strings" && !(v.value && isOn(*v.value))) {
      return "standard_conforming_strings set to " + shown +
             ": keep it on; write backslash escapes as E'...' strings";
    }
  }
  return {};
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

// The statement's kinds without the session housekeeping ones (every admitted session may run
// those), or all of them when it does nothing else.
sql::KindSet substantiveKinds(const sql::KindSet& kinds) {
  static const sql::KindSet kSession = *sql::kindGroupFromName("session");
  sql::KindSet rest(kinds.bits() & ~kSession.bits());
  return rest.empty() ? kinds : rest;
}

// A read (select only, nothing written) that `catalog: true` may extend to catalog relations.
bool readOnly(const Request& req) {
  return !writesOf(req) &&
         sql::KindSet::of(sql::Kind::kSelect).containsAll(substantiveKinds(kindsOf(req)));
}

bool catalogTable(const sql::TableRef& t) {
  return !t.write && isCatalogSchema(t.schema);
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

bool isCatalogSchema(std::string_view schema) {
  return schema == "pg_catalog" || schema == "information_schema";
}

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
    case Guardrail::kSqlText:
      return "sql-text";
    case Guardrail::kParserSettings:
      return "parser-settings";
  }
  return "";
}

bool guardrailUnlockable(Guardrail g) {
  return g != Guardrail::kParserSettings;
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
      guard(Guardrail::kSqlText,
            "functions that run SQL text or read relations named in a string (query_to_xml, "
            "table_to_xml, ts_stat, ...) run what the gateway cannot inspect"),
      guard(Guardrail::kParserSettings,
            "the server must read every statement as the gateway parsed it: keep client_encoding "
            "UTF8 and standard_conforming_strings on"),
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
      std::string hit;  // any schema, any case: stricter than the server-files kind
      return functionOfFamily(req, sql::Kind::kServerFiles, hit) && say("function " + hit);
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
      return functionOfFamily(req, sql::Kind::kSignal, hit) && say("function " + hit);
    }
    case Guardrail::kRoleChange:
      return anyStatement(req, [&](const sql::Statement& s) {
        for (const auto& name : s.settings) {
          if (name == "role" || name == "session_authorization" || name == "*") {
            return say(name == "*" ? "set_config of a setting that is not a constant"
                                   : "change of setting " + name);
          }
        }
        return false;
      });
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
    case Guardrail::kSqlText: {
      std::string hit;
      return kindsOf(req).has(sql::Kind::kSqlText) &&
             say(functionOfFamily(req, sql::Kind::kSqlText, hit) ? "function " + hit
                                                                 : "a function that runs SQL text");
    }
    case Guardrail::kParserSettings:
      return anyStatement(req, [&](const sql::Statement& s) {
        std::string change = parserSettingChange(s);
        return !change.empty() && say(std::move(change));
      });
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

bool catalogRead(const Request& req) {
  const auto& tables = req.stmt.tables;
  return !tables.empty() && readOnly(req) &&
         std::all_of(tables.begin(), tables.end(), catalogTable);
}

bool statementMatches(const Rule& r, const Request& req, Mode mode, std::string* why) {
  auto fail = [&](std::string s) {
    if (why != nullptr) {
      *why = std::move(s);
    }
    return false;
  };
  if (r.hasHttpConditions()) {
    return fail("the rule has HTTP conditions (HTTP only)");
  }
  const sql::Statement& st = *req.stmt.stmt;
  const bool any = mode == Mode::kAny;
  const sql::KindSet kinds = kindsOf(req);
  // Housekeeping kinds (set_config inside a SELECT, ...) are allowed in every admitted session,
  // so an allow rule need not name them unless the statement does nothing else.
  const sql::KindSet needed = any ? kinds : substantiveKinds(kinds);
  // `catalog: true`: a read of catalog relations only is covered whatever the rule's kinds,
  // tables and columns; in any other read, catalog relations count as named by the rule.
  const bool catalog_reads = !any && r.catalog && readOnly(req);
  const bool catalog_only = catalog_reads && catalogRead(req);
  if (r.has_kinds && !catalog_only &&
      !(any ? r.kinds.intersects(kinds) : r.kinds.containsAll(needed))) {
    return fail("statement kinds [" + kinds.toString() + "] " +
                (any ? "share none of" : "are not all in") + " [" + r.kinds.toString() + "]");
  }
  if (!any && r.read_only && writesOf(req)) {
    return fail("the rule is read-only and the statement writes");
  }
  const auto& tables = req.stmt.tables;
  if (!r.tables.empty()) {
    for (const auto& t : tables) {
      bool hit = std::any_of(r.tables.begin(), r.tables.end(),
                             [&](const TablePattern& p) {
                               return any ? tableAny(p, t) : tableCover(p, t);
                             }) ||
                 (catalog_reads && catalogTable(t));
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
  if (!r.columns.empty() && !catalog_only) {
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
  const sql::KindSet kinds = kindsOf(req);
  std::string out = "statement kind " + std::string(sql::kindName(st.kind));
  if (kinds != sql::KindSet::of(st.kind)) {
    out += " (does " + kinds.toString() + ")";
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
