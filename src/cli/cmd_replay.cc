// `jitgate replay SESSION` (a recorded session as it happened, audit/replay.h),
// `jitgate replay SESSION --sandbox DSN` (re-runs the read-only statements, audit/sandbox.h) and
// `jitgate replay SESSION --sandbox-url URL` (re-sends an HTTP session's requests,
// audit/sandbox_http.h). A replay that opens raw data is itself recorded.
#include <boost/json.hpp>
#include <iostream>

#include "audit/anchor.h"
#include "audit/index.h"
#include "audit/recorder.h"
#include "audit/replay.h"
#include "audit/sandbox.h"
#include "audit/sandbox_http.h"
#include "cli/audit_common.h"
#include "cli/command.h"
#include "config/node.h"
#include "core/random.h"
#include "net/http.h"

namespace jg::cli {
namespace {

using namespace auditcli;  // NOLINT(google-build-using-namespace)

// ---- replay ----------------------------------------------------------------------------------

struct ReplayOpts {
  Common c;
  std::string session;
  std::string format = "text";
  bool raw = false;
  std::string reason;       // why raw data is opened (recorded with the replay)
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
      audit::Event{"replay-" + randomId(12),
                   {},
                   audit::ReplayEvent{o.session, raw, actor(), raw ? o.reason : ""}});
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

int runReplay(ReplayOpts& o) {
  // SESSION#N (as `audit search` prints it): only statement N.
  uint64_t only = 0;
  if (size_t hash = o.session.find('#'); hash != std::string::npos) {
    std::string n = o.session.substr(hash + 1);
    char* end = nullptr;
    unsigned long long v = std::strtoull(n.c_str(), &end, 10);
    if (n.empty() || *end != '\0' || v == 0 || n[0] == '-' || n[0] == '+') {
      return fail(invalidArgument("bad statement number in '" + o.session +
                                  "' (use SESSION#N, as audit search prints it)"));
    }
    only = v;
    o.session.resize(hash);
    if (!o.sandbox.empty() || !o.sandbox_url.empty()) {
      return fail(
          invalidArgument("SESSION#N replays one statement as recorded; "
                          "--sandbox and --sandbox-url replay whole sessions"));
    }
  }
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
      o.raw ? &opener : nullptr, std::cout, only);
  if (!n) {
    return fail(n.status(), n.status().code() == Code::kNotFound ? 1 : 2);
  }
  return 0;
}

void addReplay(CLI::App& app) {
  auto o = std::make_shared<ReplayOpts>();
  auto* cmd = app.add_subcommand("replay", "Print a recorded session as it happened");
  cmd->add_option("session", o->session,
                  "Session id, or SESSION#N for statement N alone (as audit search prints it)")
      ->required();
  addCommon(cmd, o->c, true);
  cmd->add_option("--format", o->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag_callback(
      "--json", [o] { o->format = "json"; }, "Same as --format json");
  cmd->add_flag("--raw", o->raw,
                "Show pre-masking rows, parameters and HTTP bodies (needs the key; recorded)");
  cmd->add_option("--key-file", o->c.key_files, "Raw payload key file(s); repeatable");
  cmd->add_option("--reason", o->reason,
                  "Why raw data is opened: recorded with the replay (as the console asks)");
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

JITGATE_COMMAND(addReplay);

}  // namespace jg::cli
