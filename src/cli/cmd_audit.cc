// `jitgate audit keygen|verify|search|reindex`, `jitgate replay SESSION` and
// `jitgate replay SESSION --sandbox DSN` (re-runs the read-only statements, audit/sandbox.h) and
// `jitgate replay SESSION --sandbox-url URL` (re-sends an HTTP session's requests,
// audit/sandbox_http.h).
//
// Every command reads the audit directory, keys and store URL from `--config FILE` (only the
// `audit:` and `store:` sections are parsed) or from `--dir` / `--store` / key flags.
#include <unistd.h>

#include <boost/json.hpp>
#include <ctime>
#include <iostream>

#include "audit/anchor.h"
#include "audit/index.h"
#include "audit/recorder.h"
#include "audit/replay.h"
#include "audit/sandbox.h"
#include "audit/sandbox_http.h"
#include "audit/verify.h"
#include "cli/command.h"
#include "config/node.h"
#include "core/random.h"
#include "net/http.h"
#include "store/store.h"

namespace jg::cli {
namespace {

struct Common {
  std::string config;
  std::string dir;
  std::string store_url;
  std::vector<std::string> public_keys;  // verify
  std::vector<std::string> key_files;    // raw payload keys (replay --raw)
};

struct VerifyFlags {
  bool json = false;
  bool live = false;
  bool no_anchor = false;
  std::vector<std::string> anchors;  // INSTANCE:SEQ:HASH from a witness
  std::vector<std::string> instances;
};

struct Loaded {
  audit::Settings settings;
  std::string store_url;
};

void addCommon(CLI::App* cmd, Common& c, bool with_store) {
  cmd->add_option("-c,--config", c.config, "Gateway configuration (audit: and store: sections)");
  cmd->add_option("--dir", c.dir, "Audit directory (overrides the configuration)");
  if (with_store) {
    cmd->add_option("--store", c.store_url, "State store URL, e.g. sqlite:///var/lib/x.db");
  }
}

Result<Loaded> load(const Common& c) {
  Loaded l;
  if (!c.config.empty()) {
    auto root = config::Node::loadFile(c.config);
    if (!root) {
      return root.status();
    }
    config::Errors errors;  // only what a command needs is checked below
    l.settings = audit::parseSettings((*root)["audit"], errors);
    if (root->has("store")) {
      l.store_url = store::parseSettings((*root)["store"], errors);
    }
  }
  if (!c.dir.empty()) {
    l.settings.dir = c.dir;
  }
  if (!c.store_url.empty()) {
    l.store_url = c.store_url;
  }
  if (l.settings.dir.empty()) {
    return invalidArgument("no audit directory: pass --config FILE or --dir DIR");
  }
  return l;
}

Result<std::unique_ptr<store::Store>> openIndex(const Loaded& l) {
  if (l.store_url.empty()) {
    return invalidArgument("no state store: pass --config FILE or --store URL");
  }
  auto st = store::open(l.store_url);
  if (!st) {
    return st.status();
  }
  if (Status m = (*st)->migrate("audit", audit::indexMigrations()); !m) {
    return m;
  }
  return st;
}

int fail(const Status& st, int code = 2) {
  std::cerr << "jitgate: " << st.message() << "\n";
  return code;
}

// "2026-11-29", "2026-11-29T08:00:00Z", or a duration ago ("2h", "7d").
std::optional<int64_t> parseTime(const std::string& text) {
  if (auto d = config::parseDuration(text)) {
    return audit::toMicros(std::chrono::system_clock::now() - *d);
  }
  std::tm tm{};
  int n = std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
  if (n != 3 && n != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000;
}

std::string actor() {
  for (const char* var : {"SUDO_USER", "USER", "LOGNAME"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      return v;
    }
  }
  return "uid:" + std::to_string(::getuid());
}

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

void printVerifyJson(const audit::VerifyReport& r, const audit::VerifyOptions& o) {
  boost::json::object out{{"ok", r.ok}, {"live", o.live}, {"anchors_checked", o.anchors_given}};
  boost::json::array insts;
  for (const auto& s : r.instances) {
    insts.push_back({{"instance", s.instance},
                     {"first_segment", s.first_segment},
                     {"last_segment", s.last_segment},
                     {"first_seq", s.first_seq},
                     {"last_seq", s.last_seq},
                     {"last_signed_seq", s.last_signed_seq},
                     {"records", s.records},
                     {"checkpoints", s.checkpoints},
                     {"unsigned_tail", s.unsigned_tail},
                     {"removed_upto", s.removed_upto},
                     {"anchored_seq", s.anchored_seq},
                     {"torn_tail", s.torn_tail}});
  }
  out["instances"] = std::move(insts);
  if (r.first_bad) {
    const auto& p = *r.first_bad;
    out["first_bad"] = {{"instance", p.instance}, {"segment", p.segment}, {"path", p.path},
                        {"offset", p.offset},     {"seq", p.seq},         {"what", p.what}};
  }
  std::cout << boost::json::serialize(out) << "\n";
}

void printVerifyText(const audit::VerifyReport& r, const audit::VerifyOptions& o) {
  for (const auto& s : r.instances) {
    std::cout << s.instance << ": segments " << s.first_segment << ".." << s.last_segment
              << ", records " << s.first_seq << ".." << s.last_seq << " (" << s.records
              << " checked, " << s.checkpoints << " checkpoints, signed up to seq "
              << s.last_signed_seq << ")\n";
    if (s.removed_upto > 0) {
      std::cout << "  segments up to " << s.removed_upto
                << " were removed by retention (signed record)\n";
    }
    if (s.anchored_seq > 0) {
      std::cout << "  the anchored checkpoint (seq " << s.anchored_seq << ") is in the log\n";
    }
    if (r.ok && s.unsigned_tail > 0) {
      std::cout << "  note: " << s.unsigned_tail
                << " newest record(s) are chained but not yet covered by a checkpoint (--live: "
                   "not anchored yet)\n";
    }
    if (s.torn_tail) {
      std::cout << "  note: segment " << s.last_segment << " ends in a frame being written\n";
    }
  }
  if (!o.anchors_given) {
    std::cout << "note: --no-anchor: the end of the log was not checked against an anchor; "
                 "records cut from the end would not be noticed\n";
  }
  if (r.ok) {
    std::cout << "audit log OK\n";
  } else {
    std::cout << "audit log FAILED: first bad record: " << r.first_bad->describe() << "\n";
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
  audit::VerifyReport r = audit::verifyDir(l->settings.dir, *keys, *opts);
  if (f.json) {
    printVerifyJson(r, *opts);
  } else {
    printVerifyText(r, *opts);
  }
  return r.ok ? 0 : 1;
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
      *out = parseTime(*text);
      if (!*out) {
        return fail(invalidArgument("bad time '" + *text + "' (use 2026-11-29[T08:00:00] or 2h)"));
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
    std::string who = h.email.empty() ? h.subject : h.email;
    std::string text = h.text.size() > 80 ? h.text.substr(0, 77) + "..." : h.text;
    std::cout << when << "  " << who << "  " << h.resource << "  " << h.session_id << "#"
              << h.statement_id << "  " << h.decision << (h.rule.empty() ? "" : "(" + h.rule + ")")
              << (h.rows >= 0 ? "  rows=" + std::to_string(h.rows) : "")
              << (h.status != 0 ? "  status=" + std::to_string(h.status) : "") << "  " << text
              << "\n";
  }
  if (!o.json) {
    std::cerr << hits->size() << " statement(s) or request(s)\n";
  }
  return 0;
}

void addSearch(CLI::App& audit_cmd) {
  auto o = std::make_shared<SearchOpts>();
  auto* cmd = audit_cmd.add_subcommand("search",
                                       "Find recorded statements and HTTP requests (newest first)");
  addCommon(cmd, o->c, true);
  cmd->add_option("--user", o->q.user, "Subject or email");
  cmd->add_option("--group", o->q.group, "Group of the caller");
  cmd->add_option("--resource", o->q.resource, "Resource (database) name");
  cmd->add_option("--table", o->q.table, "Table, schema-qualified (crm.customers)");
  cmd->add_option("--kind", o->q.kind, "Statement kind (select, insert, ...)");
  cmd->add_option("--decision", o->q.decision, "allow, deny or review");
  cmd->add_option("--rule", o->q.rule, "Policy rule id");
  cmd->add_option("--review", o->q.review, "Review id");
  cmd->add_option("--fingerprint", o->q.fingerprint, "Statement fingerprint");
  cmd->add_option("--document", o->q.document, "Document id returned in a result");
  cmd->add_option("--contains", o->q.contains, "Text the statement contains");
  cmd->add_option("--session", o->q.session, "Session id");
  cmd->add_option("--protocol", o->q.protocol, "Session protocol")
      ->check(CLI::IsMember({"postgres", "http"}));
  cmd->add_option("--method", o->q.method, "HTTP method (GET, POST, ...)");
  cmd->add_option("--path", o->q.path, "HTTP path glob (/kb/collections/*/points/search)");
  cmd->add_option("--status", o->status, "HTTP status sent to the client")
      ->check(CLI::Range(100, 599));
  cmd->add_option("--since", o->since, "From (2026-11-29, 2026-11-29T08:00:00Z, or 2h ago)");
  cmd->add_option("--until", o->until, "Until (exclusive; same forms)");
  cmd->add_option("--limit", o->q.limit, "Most hits to print")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "One JSON object per line");
  cmd->callback([o] { setExitCode(runSearch(*o)); });
}

void addReindex(CLI::App& audit_cmd) {
  auto c = std::make_shared<Common>();
  auto* cmd = audit_cmd.add_subcommand("reindex", "Rebuild the search index from the segments");
  addCommon(cmd, *c, true);
  cmd->callback([c] {
    auto l = load(*c);
    auto st = l ? openIndex(*l) : Result<std::unique_ptr<store::Store>>(l.status());
    if (!st) {
      setExitCode(fail(st.status()));
      return;
    }
    auto n = audit::reindex(l->settings.dir, **st);
    if (!n) {
      setExitCode(fail(n.status()));
      return;
    }
    std::cout << "indexed " << *n << " record(s)\n";
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

// ---- replay ----------------------------------------------------------------------------------

struct ReplayOpts {
  Common c;
  std::string session;
  std::string format = "text";
  bool raw = false;
  std::string sandbox;      // DSN of the sandbox database
  std::string sandbox_url;  // base URL of the sandbox HTTP service
  std::string statement_timeout = "30s";
};

// Appends the ReplayEvent (and indexes it when a store is configured). Fails closed.
// `raw` says whether raw data (values before masking, bind parameters) was opened.
Status recordReplay(const Loaded& l, const ReplayOpts& o, bool raw) {
  if (l.settings.signing_key_file.empty()) {
    return invalidArgument("replay --raw must be recorded: give --config with audit keys");
  }
  audit::Settings s = l.settings;
  s.instance = "replay-" + (s.instance.empty() ? audit::defaultInstance() : s.instance);
  s.raw_payloads = false;
  s.retention = std::chrono::milliseconds(0);
  s.durability = audit::Durability::kStrict;
  std::unique_ptr<store::Store> index_store;
  std::unique_ptr<audit::Indexer> indexer;
  std::unique_ptr<audit::StoreAnchors> anchors;
  audit::RecorderOptions opt;
  if (!l.store_url.empty()) {
    auto st = openIndex(l);
    if (st && (*st)->migrate("audit_anchors", audit::anchorMigrations())) {
      index_store = std::move(*st);
      indexer = std::make_unique<audit::Indexer>(*index_store);
      anchors = std::make_unique<audit::StoreAnchors>(index_store.get(), s.witness);
      opt.index = indexer.get();
      opt.anchors = anchors.get();
    }
  }
  auto rec = audit::Recorder::open(s, opt);
  if (!rec) {
    return rec.status();
  }
  Status st = (*rec)->append(
      audit::Event{"replay-" + randomId(12), {}, audit::ReplayEvent{o.session, raw, actor()}});
  Status closed = (*rec)->close();
  if (indexer) {
    (void)indexer->flush();
  }
  if (anchors) {
    (void)anchors->flush();
  }
  return st ? closed : st;
}

// Loads the raw payload keys: every --key-file, and the configured key with --raw.
Result<size_t> loadKeys(const ReplayOpts& o, const Loaded& l, audit::RawOpener& opener) {
  std::vector<std::string> files = o.c.key_files;
  if (o.raw && !l.settings.key_file.empty()) {
    files.push_back(l.settings.key_file);
  }
  for (const auto& f : files) {
    auto k = audit::AeadKey::loadFile(f);
    if (!k) {
      return k.status();
    }
    opener.addKey(std::move(*k));
  }
  return files.size();
}

int runSandbox(const ReplayOpts& o, const Loaded& l,
               const std::optional<audit::SessionLocation>& hint) {
  audit::RawOpener opener;
  auto keys = loadKeys(o, l, opener);
  if (!keys) {
    return fail(keys.status());
  }
  auto timeout = config::parseDuration(o.statement_timeout);
  if (!timeout) {
    return fail(invalidArgument("bad --statement-timeout '" + o.statement_timeout + "'"));
  }
  auto exec = audit::connectSandbox(o.sandbox, *timeout);
  if (!exec) {
    return fail(exec.status());
  }
  if (*keys > 0 || !l.settings.signing_key_file.empty()) {
    if (Status st = recordReplay(l, o, *keys > 0); !st) {
      return fail(Status::error(st.code(), "cannot record this replay: " + st.message()));
    }
  }
  auto report =
      audit::sandboxReplay(l.settings.dir, o.session, hint, **exec, *keys > 0 ? &opener : nullptr);
  if (!report) {
    return fail(report.status());
  }
  if (o.format == "json") {
    std::cout << boost::json::serialize(audit::sandboxJson(*report)) << "\n";
  } else {
    audit::renderSandboxText(*report, std::cout);
  }
  return report->exitCode();
}

int runHttpSandbox(const ReplayOpts& o, const Loaded& l,
                   const std::optional<audit::SessionLocation>& hint) {
  audit::RawOpener opener;
  auto keys = loadKeys(o, l, opener);
  if (!keys) {
    return fail(keys.status());
  }
  auto timeout = config::parseDuration(o.statement_timeout);
  if (!timeout) {
    return fail(invalidArgument("bad --statement-timeout '" + o.statement_timeout + "'"));
  }
  if (*keys > 0 || !l.settings.signing_key_file.empty()) {
    if (Status st = recordReplay(l, o, *keys > 0); !st) {
      return fail(Status::error(st.code(), "cannot record this replay: " + st.message()));
    }
  }
  net::HttpClient client;
  auto wait = timeout->count() > 0 ? *timeout : std::chrono::milliseconds(std::chrono::hours(24));
  auto send = [&](const net::HttpRequest& r) { return client.send(r, wait); };
  auto report = audit::httpSandboxReplay(l.settings.dir, o.session, hint, o.sandbox_url, send,
                                         *keys > 0 ? &opener : nullptr);
  if (!report) {
    return fail(report.status());
  }
  if (o.format == "json") {
    std::cout << boost::json::serialize(audit::httpSandboxJson(*report)) << "\n";
  } else {
    audit::renderHttpSandboxText(*report, std::cout);
  }
  return report->exitCode();
}

int runReplay(const ReplayOpts& o) {
  auto l = load(o.c);
  if (!l) {
    return fail(l.status());
  }
  std::optional<audit::SessionLocation> hint;
  if (!l->store_url.empty()) {
    if (auto st = openIndex(*l)) {
      if (auto loc = audit::findSession(**st, o.session); loc && loc->has_value()) {
        hint = **loc;
      }
    }
  }
  if (!o.sandbox.empty()) {
    return runSandbox(o, *l, hint);
  }
  if (!o.sandbox_url.empty()) {
    return runHttpSandbox(o, *l, hint);
  }
  audit::RawOpener opener;
  if (o.raw) {
    auto keys = loadKeys(o, *l, opener);
    if (!keys) {
      return fail(keys.status());
    }
    if (*keys == 0) {
      return fail(invalidArgument("--raw needs the raw payload key (--key-file or --config)"));
    }
  }
  if (o.raw || !l->settings.signing_key_file.empty()) {
    if (Status st = recordReplay(*l, o, o.raw); !st) {
      return fail(Status::error(st.code(), "cannot record this replay: " + st.message()));
    }
  }
  auto n = audit::renderSession(
      l->settings.dir, o.session, hint,
      o.format == "json" ? audit::ReplayFormat::kJson : audit::ReplayFormat::kText,
      o.raw ? &opener : nullptr, std::cout);
  if (!n) {
    return fail(n.status(), n.status().code() == Code::kNotFound ? 1 : 2);
  }
  return 0;
}

void addReplay(CLI::App& app) {
  auto o = std::make_shared<ReplayOpts>();
  auto* cmd = app.add_subcommand("replay", "Print a recorded session as it happened");
  cmd->add_option("session", o->session, "Session id")->required();
  addCommon(cmd, o->c, true);
  cmd->add_option("--format", o->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--raw", o->raw,
                "Show pre-masking rows, parameters and HTTP bodies (needs the key; recorded)");
  cmd->add_option("--key-file", o->c.key_files, "Raw payload key file(s); repeatable");
  cmd->add_option("--sandbox", o->sandbox,
                  "Re-run the read-only statements on this PostgreSQL database (libpq DSN) in a "
                  "read-only transaction and compare rows; exit 0 all match, 1 differ, 2 error");
  cmd->add_option("--sandbox-url", o->sandbox_url,
                  "Re-send an HTTP session's allowed requests to this base URL "
                  "(http://127.0.0.1:8081) and compare status and body; exit codes as --sandbox")
      ->excludes("--sandbox");
  cmd->add_option("--statement-timeout", o->statement_timeout,
                  "With --sandbox: longest a statement may run; with --sandbox-url: longest a "
                  "request may take (default 30s; 0 = no limit)");
  cmd->callback([o] { setExitCode(runReplay(*o)); });
}

}  // namespace

JITGATE_COMMAND(addAudit);
JITGATE_COMMAND(addReplay);

}  // namespace jg::cli
