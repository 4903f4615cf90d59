// `jitgate audit keygen|verify|search|reindex` (`jitgate replay` is in cmd_replay.cc).
//
// Every command reads the audit directory, keys and store URL from `--config FILE` (only the
// `audit:` and `store:` sections are parsed) or from `--dir` / `--store` / key flags.

#include <unistd.h>

#include <boost/json.hpp>
#include <iostream>

#include "audit/anchor.h"
#include "audit/codec.h"
#include "audit/index.h"
#include "audit/verify.h"
#include "audit/verify_replicas.h"
#include "cli/audit_common.h"
#include "cli/command.h"
#include "cli/time_arg.h"
#include "config/node.h"
#include "store/store.h"

namespace jg::cli {
namespace {

using namespace auditcli;  // NOLINT(google-build-using-namespace)

struct VerifyFlags {
  bool json = false;
  bool progress = false;
  bool live = false;
  bool no_anchor = false;
  std::vector<std::string> anchors;  // INSTANCE:SEQ:HASH from a witness
  std::vector<std::string> instances;
  std::vector<std::string> replica_dirs;  // other replicas' audit directories, mounted here
};

// Progress of a long walk over the segments, on stderr: a line rewritten in place on a
// terminal, one line per report with --progress elsewhere (a CI log). Off otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(std::string what, bool forced)
      : what_(std::move(what)), tty_(isatty(STDERR_FILENO) != 0), on_(forced || tty_) {}
  ~ProgressPrinter() {
    if (on_ && tty_ && printed_) {
      std::cerr << "\n";
    }
  }
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;

  audit::ProgressFn fn() {
    if (!on_) {
      return {};
    }
    return [this](const audit::Progress& p) {
      printed_ = true;
      std::cerr << (tty_ ? "\r" : "") << what_ << ": " << p.instance << " segment "
                << p.segments_done << "/" << p.segments_total << ", " << p.records << " record(s)"
                << (tty_ ? "\x1b[K" : "\n") << std::flush;
    };
  }

 private:
  std::string what_;
  bool tty_;
  bool on_;
  bool printed_ = false;
};

// ---- audit keygen ----------------------------------------------------------------------------

void addKeygen(CLI::App& audit_cmd) {
  struct Opts {
    std::string signing;
    std::string pub;
    std::string raw;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = audit_cmd.add_subcommand("keygen", "Create audit keys (files are never overwritten)");
  cmd->add_option("--signing-key", o->signing, "Ed25519 private key to create (PEM, 0600)");
  cmd->add_option("--public-key", o->pub, "Matching public key for verifiers (PEM)");
  cmd->add_option("--raw-key", o->raw, "AES-256-GCM key for raw payloads to create (hex, 0600)");
  cmd->callback([o] {
    if (o->signing.empty() && o->raw.empty()) {
      setExitCode(fail(invalidArgument("nothing to do: give --signing-key and/or --raw-key")));
      return;
    }
    if (!o->signing.empty()) {
      if (Status st = audit::SigningKey::generate(o->signing, o->pub); !st) {
        setExitCode(fail(st));
        return;
      }
      auto key = audit::SigningKey::loadPem(o->signing);
      std::cout << "signing key " << o->signing << " (key id " << (key ? key->id() : "?") << ")\n";
    }
    if (!o->raw.empty()) {
      if (Status st = audit::AeadKey::generate(o->raw); !st) {
        setExitCode(fail(st));
        return;
      }
      auto key = audit::AeadKey::loadFile(o->raw);
      std::cout << "raw payload key " << o->raw << " (key id " << (key ? key->id() : "?") << ")\n";
    }
  });
}

// ---- audit verify ----------------------------------------------------------------------------

Result<audit::KeyRing> verifyKeys(const Common& c, const Loaded& l) {
  audit::KeyRing keys;
  for (const auto& path : c.public_keys) {
    auto k = audit::PublicKey::loadPem(path);
    if (!k) {
      return k.status();
    }
    keys.add(std::move(*k));
  }
  if (keys.empty() && !l.settings.signing_key_file.empty()) {
    auto k = audit::PublicKey::loadPem(l.settings.signing_key_file);
    if (!k) {
      return k.status();
    }
    keys.add(std::move(*k));
  }
  if (keys.empty()) {
    return invalidArgument("no verification key: pass --public-key FILE or --config");
  }
  return keys;
}

// The anchors the end of the log is checked against: the state store's, and any given with
// --anchor (the newer one wins). Read before the log, so a checkpoint written meanwhile is in
// the log when it is looked for.
Result<audit::VerifyOptions> verifyOptions(const Loaded& l, const VerifyFlags& f) {
  audit::VerifyOptions o;
  o.live = f.live;
  o.only = f.instances;
  if (!l.store_url.empty()) {
    auto st = store::open(l.store_url);
    if (!st) {
      return st.status();
    }
    if (Status m = (*st)->migrate("audit_anchors", audit::anchorMigrations()); !m) {
      return m;
    }
    auto anchors = audit::loadAnchors(**st);
    if (!anchors) {
      return anchors.status();
    }
    o.anchors = std::move(*anchors);
    o.anchors_given = true;
  }
  for (const auto& token : f.anchors) {
    audit::Anchor a;
    if (!audit::parseAnchorToken(token, a)) {
      return invalidArgument("bad --anchor '" + token + "' (expected INSTANCE:SEQ:HASH)");
    }
    auto it = o.anchors.find(a.instance);
    if (it == o.anchors.end() || it->second.seq < a.seq) {
      o.anchors[a.instance] = a;
    }
    o.anchors_given = true;
  }
  if (!o.anchors_given && !f.no_anchor) {
    return invalidArgument(
        "nothing to check the end of the log against: give --config (with a store), --store URL "
        "or --anchor INSTANCE:SEQ:HASH, or --no-anchor to check the directory alone");
  }
  return o;
}

// One object per instance (replica) in `instances`, each with its `state`.
void printVerifyJson(const audit::ReplicasReport& r, const audit::VerifyOptions& o) {
  boost::json::object out = audit::toJson(r);
  out["live"] = o.live;
  out["anchors_checked"] = o.anchors_given;
  std::cout << boost::json::serialize(out) << "\n";
}

void printChainNotes(const audit::ChainOutcome& c) {
  const auto& s = c.summary;
  if (s.removed_upto > 0) {
    std::cout << "  segments up to " << s.removed_upto
              << " were removed by retention (signed record)\n";
  }
  if (s.anchored_seq > 0) {
    std::cout << "  the anchored checkpoint (seq " << s.anchored_seq << ") is in the log\n";
  }
  if (c.state == audit::ChainState::kIntact && s.unsigned_tail > 0) {
    std::cout << "  note: " << s.unsigned_tail
              << " newest record(s) are chained but not yet covered by a checkpoint (--live: "
                 "not anchored yet)\n";
  }
  if (s.torn_tail) {
    std::cout << "  note: segment " << s.last_segment << " ends in a frame being written\n";
  }
}

// One line per instance (replica): intact, FAILED or NOT CHECKED; then its notes.
void printVerifyText(const audit::ReplicasReport& r, const audit::VerifyOptions& o) {
  for (const auto& c : r.chains) {
    const auto& s = c.summary;
    if (c.state == audit::ChainState::kAbsent) {
      std::cout << s.instance << ": NOT CHECKED: " << c.problem->what << "\n";
      continue;
    }
    std::cout << s.instance << ": " << (c.state == audit::ChainState::kIntact ? "intact" : "FAILED")
              << ", segments " << s.first_segment << ".." << s.last_segment << ", records "
              << s.first_seq << ".." << s.last_seq << " (" << s.records << " checked, "
              << s.checkpoints << " checkpoints, signed up to seq " << s.last_signed_seq << ") in "
              << c.dir << "\n";
    printChainNotes(c);
  }
  if (!o.anchors_given) {
    std::cout << "note: --no-anchor: the end of the log was not checked against an anchor; "
                 "records cut from the end would not be noticed\n";
  }
  const auto* bad = r.firstNotIntact();
  if (bad == nullptr) {
    std::cout << "audit log OK\n";
  } else if (bad->state == audit::ChainState::kFailed) {
    std::cout << "audit log FAILED: first bad record: " << bad->problem->describe() << "\n";
  } else {
    std::cout << "audit log NOT FULLY CHECKED: " << r.count(audit::ChainState::kAbsent)
              << " instance(s) known to the store have no log directory here; verify each "
                 "on its replica's host (--instance NAME) or pass its audit directory with "
                 "--replica-dir DIR\n";
  }
}

int runVerify(const Common& c, const VerifyFlags& f) {
  auto l = load(c);
  if (!l) {
    return fail(l.status());
  }
  auto keys = verifyKeys(c, *l);
  if (!keys) {
    return fail(keys.status());
  }
  auto opts = verifyOptions(*l, f);
  if (!opts) {
    return fail(opts.status());
  }
  std::vector<std::string> dirs{l->settings.dir};
  dirs.insert(dirs.end(), f.replica_dirs.begin(), f.replica_dirs.end());
  audit::ReplicasReport r;
  {
    ProgressPrinter progress("verify", f.progress);
    opts->progress = progress.fn();
    r = audit::verifyReplicas(dirs, *keys, *opts);
  }
  if (f.json) {
    printVerifyJson(r, *opts);
  } else {
    printVerifyText(r, *opts);
  }
  return r.ok() ? 0 : 1;
}

void addVerify(CLI::App& audit_cmd) {
  auto c = std::make_shared<Common>();
  auto f = std::make_shared<VerifyFlags>();
  auto* cmd = audit_cmd.add_subcommand(
      "verify",
      "Check every chain link and signature, the head (retention) and the end of the log (the "
      "anchored checkpoint); exit 0 if intact, 1 at the first problem");
  addCommon(cmd, *c, true);
  cmd->add_option("--public-key", c->public_keys, "Ed25519 public key(s) (PEM); repeatable");
  cmd->add_flag("--json", f->json, "Machine-readable report");
  cmd->add_flag("--live", f->live,
                "The gateway is running: records after the newest checkpoint are reported, not "
                "an error");
  cmd->add_option("--anchor", f->anchors,
                  "A checkpoint the log must hold, INSTANCE:SEQ:HASH (from the syslog witness); "
                  "repeatable");
  cmd->add_option("--instance", f->instances,
                  "Check only this instance (default: every instance in the directory or the "
                  "store); repeatable");
  cmd->add_option("--replica-dir", f->replica_dirs,
                  "Another replica's audit directory (copied or mounted here), checked with this "
                  "one; repeatable. An instance anchored in the store whose directory is in none "
                  "of them is reported as not checked (exit 1)");
  cmd->add_flag("--progress", f->progress,
                "Report segments and records checked on stderr (always on a terminal)");
  cmd->add_flag("--no-anchor", f->no_anchor,
                "Check the directory alone, without a store or --anchor (the end of the log is "
                "then not checked)");
  cmd->callback([c, f] { setExitCode(runVerify(*c, *f)); });
}

// ---- audit search ----------------------------------------------------------------------------

struct SearchOpts {
  Common c;
  audit::SearchQuery q;
  std::string since;
  std::string until;
  int status = 0;  // 0: any
  bool json = false;
};

int runSearch(SearchOpts& o) {
  if (o.status != 0) {
    o.q.status = o.status;
  }
  auto l = load(o.c);
  if (!l) {
    return fail(l.status());
  }
  for (auto [text, out] :
       {std::pair{&o.since, &o.q.since_us}, std::pair{&o.until, &o.q.until_us}}) {
    if (!text->empty()) {
      *out = parseTimeArg(*text, std::chrono::system_clock::now());
      if (!*out) {
        return fail(invalidArgument("bad time '" + *text +
                                    "' (use 2026-11-29, 2026-11-29T08:00:00Z, 2h or \"2h ago\")"));
      }
    }
  }
  auto st = openIndex(*l);
  if (!st) {
    return fail(st.status());
  }
  auto hits = audit::search(**st, o.q);
  if (!hits) {
    return fail(hits.status());
  }
  for (const auto& h : *hits) {
    std::string when = formatUtc(audit::fromMicros(h.ts_us));
    if (o.json) {
      boost::json::object j = audit::toJson(h);
      std::cout << boost::json::serialize(j) << "\n";
      continue;
    }
    std::string who = !h.email.empty()     ? h.email
                      : !h.subject.empty() ? h.subject
                      : h.db_user.empty()  ? ""
                                           : h.db_user + " (claimed)";
    std::string text = h.text.size() > 80 ? h.text.substr(0, 77) + "..." : h.text;
    std::cout << when << "  " << who << "  " << h.resource << "  " << h.session_id << "#"
              << h.statement_id << "  " << h.decision << (h.rule.empty() ? "" : "(" + h.rule + ")")
              << (h.rows >= 0 ? "  rows=" + std::to_string(h.rows) : "")
              << (h.status != 0 ? "  status=" + std::to_string(h.status) : "")
              << (h.tool.empty() ? "" : "  tool=" + h.tool) << "  " << text << "\n";
  }
  if (!o.json) {
    std::cerr << hits->size() << " statement(s) or request(s)\n";
  }
  return 0;
}

void addSearch(CLI::App& audit_cmd) {
  auto o = std::make_shared<SearchOpts>();
  auto* cmd = audit_cmd.add_subcommand(
      "search", "Find recorded statements, HTTP requests and MCP calls (newest first)");
  addCommon(cmd, o->c, true);
  cmd->add_option("--user", o->q.user,
                  "Subject or email (a refused login: the user name it claimed)");
  cmd->add_option("--group", o->q.group, "Group of the caller");
  cmd->add_option("--resource", o->q.resource, "Resource (database) name");
  cmd->add_option("--table", o->q.table,
                  "Table, as policy names tables: crm.customers, crm.* (a schema), or chunks (that "
                  "table in any schema)");
  cmd->add_option("--kind", o->q.kind, "Statement kind (select, insert, ...)");
  cmd->add_option("--decision", o->q.decision, "allow, deny or review")
      ->check(CLI::IsMember({"allow", "deny", "review"}));
  cmd->add_option("--rule", o->q.rule, "Policy rule id");
  cmd->add_option("--review", o->q.review, "Review id");
  cmd->add_option("--fingerprint", o->q.fingerprint, "Statement fingerprint");
  cmd->add_option("--document", o->q.document,
                  "Document id: returned in a result, or named in the WHERE clause on the "
                  "resource's documents table");
  cmd->add_option("--contains", o->q.contains, "Text the statement contains");
  cmd->add_option("--session", o->q.session, "Session id");
  cmd->add_option("--protocol", o->q.protocol, "Session protocol")
      ->check(CLI::IsMember({"postgres", "http", "mcp"}));
  cmd->add_option("--method", o->q.method, "HTTP method (GET, POST, ...)");
  cmd->add_option("--path", o->q.path, "HTTP path glob (/kb/collections/*/points/search)");
  cmd->add_option("--status", o->status, "HTTP status sent to the client")
      ->check(CLI::Range(100, 599));
  cmd->add_option("--tool", o->q.tool, "MCP tool name glob (search_*)");
  cmd->add_option("--rpc-method", o->q.rpc_method, "MCP JSON-RPC method (tools/call, ...)");
  cmd->add_option("--since", o->since,
                  "From: 2026-11-29, 2026-11-29T08:00:00Z (UTC unless an offset is given), or a "
                  "duration before now: 2h, \"2h ago\", 7d");
  cmd->add_option("--until", o->until, "Until (exclusive; same forms)");
  cmd->add_option("--limit", o->q.limit, "Most hits to print")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "One JSON object per line");
  cmd->callback([o] { setExitCode(runSearch(*o)); });
}

void addReindex(CLI::App& audit_cmd) {
  auto c = std::make_shared<Common>();
  auto json = std::make_shared<bool>(false);
  auto show_progress = std::make_shared<bool>(false);
  auto* cmd = audit_cmd.add_subcommand("reindex", "Rebuild the search index from the segments");
  addCommon(cmd, *c, true);
  cmd->add_flag("--json", *json, "Print {\"indexed\": N}");
  cmd->add_flag("--progress", *show_progress,
                "Report segments and records indexed on stderr (always on a terminal)");
  cmd->callback([c, json, show_progress] {
    auto l = load(*c);
    auto st = l ? openIndex(*l) : Result<std::unique_ptr<store::Store>>(l.status());
    if (!st) {
      setExitCode(fail(st.status()));
      return;
    }
    ProgressPrinter progress("reindex", *show_progress);
    auto n = audit::reindex(l->settings.dir, **st, progress.fn());
    if (!n) {
      setExitCode(fail(n.status()));
      return;
    }
    if (*json) {
      std::cout << boost::json::serialize(boost::json::object{{"indexed", *n}}) << "\n";
    } else {
      std::cout << "indexed " << *n << " record(s)\n";
    }
  });
}

void addAudit(CLI::App& app) {
  auto* cmd = app.add_subcommand("audit", "Audit log: keys, verification, search");
  cmd->require_subcommand(1);
  addKeygen(*cmd);
  addVerify(*cmd);
  addSearch(*cmd);
  addReindex(*cmd);
}

}  // namespace

JITGATE_COMMAND(addAudit);

}  // namespace jg::cli
