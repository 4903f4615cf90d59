#include "audit/verify_replicas.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace jg::audit {
namespace {

std::string joined(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& d : dirs) {
    out += (out.empty() ? "" : ", ") + d;
  }
  return out;
}

// Every instance name to check, with the directories that hold it.
std::map<std::string, std::vector<std::string>> instancesToCheck(
    const std::vector<std::string>& dirs, const VerifyOptions& options) {
  std::map<std::string, std::vector<std::string>> found;
  for (const auto& dir : dirs) {
    for (const auto& inst : listInstances(dir)) {
      found[inst].push_back(dir);
    }
  }
  std::map<std::string, std::vector<std::string>> out;
  if (!options.only.empty()) {
    for (const auto& inst : options.only) {
      out[inst] = found[inst];
    }
    return out;
  }
  out = std::move(found);
  for (const auto& [name, anchor] : options.anchors) {
    out.try_emplace(name);  // anchored in the store; its directory may be elsewhere
  }
  return out;
}

ChainOutcome absent(const std::string& instance, const std::vector<std::string>& dirs,
                    const VerifyOptions& options) {
  ChainOutcome out{.state = ChainState::kAbsent};
  out.summary.instance = instance;
  std::string what = fmt::format("no log directory of this instance under {}", joined(dirs));
  if (auto it = options.anchors.find(instance); it != options.anchors.end()) {
    what += fmt::format(
        ", but its checkpoint at seq {} (segment {}) is anchored: the log is on another "
        "replica's host, or it was deleted; nothing of it was checked",
        it->second.seq, it->second.segment);
  }
  out.problem = Problem{};
  out.problem->instance = instance;
  out.problem->what = std::move(what);
  return out;
}

ChainOutcome twice(const std::string& instance, const std::vector<std::string>& dirs) {
  ChainOutcome out{.state = ChainState::kFailed};
  out.summary.instance = instance;
  out.problem = Problem{};
  out.problem->instance = instance;
  out.problem->what = fmt::format("two directories claim this one chain: {}", joined(dirs));
  return out;
}

}  // namespace

const char* chainStateName(ChainState state) {
  switch (state) {
    case ChainState::kIntact:
      return "intact";
    case ChainState::kFailed:
      return "failed";
    case ChainState::kAbsent:
      return "absent";
  }
  return "?";
}

bool ReplicasReport::ok() const {
  return firstNotIntact() == nullptr;
}

size_t ReplicasReport::count(ChainState state) const {
  return static_cast<size_t>(std::count_if(chains.begin(), chains.end(),
                                           [state](const auto& c) { return c.state == state; }));
}

const ChainOutcome* ReplicasReport::firstNotIntact() const {
  auto it = std::find_if(chains.begin(), chains.end(),
                         [](const auto& c) { return c.state != ChainState::kIntact; });
  return it == chains.end() ? nullptr : &*it;
}

ReplicasReport verifyReplicas(const std::vector<std::string>& dirs, const KeyRing& keys,
                              const VerifyOptions& options) {
  ReplicasReport report;
  VerifyOptions opts = options;
  for (const auto& [instance, holders] : instancesToCheck(dirs, options)) {
    if (holders.empty()) {
      report.chains.push_back(absent(instance, dirs, options));
      continue;
    }
    if (holders.size() > 1) {
      report.chains.push_back(twice(instance, holders));
      continue;
    }
    VerifyReport r = verifyInstance(holders.front() + "/" + instance, keys, opts);
    ChainOutcome out{.state = r.ok ? ChainState::kIntact : ChainState::kFailed,
                     .dir = holders.front(),
                     .problem = r.first_bad};
    if (!r.instances.empty()) {
      out.summary = r.instances.front();
      opts.records_before += out.summary.records;
    }
    report.chains.push_back(std::move(out));
  }
  return report;
}

namespace {

boost::json::object summaryJson(const InstanceSummary& s) {
  return {{"instance", s.instance},
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
          {"torn_tail", s.torn_tail}};
}

boost::json::object problemJson(const Problem& p) {
  return {{"instance", p.instance}, {"segment", p.segment}, {"path", p.path},
          {"offset", p.offset},     {"seq", p.seq},         {"what", p.what}};
}

}  // namespace

boost::json::object toJson(const ReplicasReport& r) {
  boost::json::object out{{"ok", r.ok()}, {"absent", r.count(ChainState::kAbsent)}};
  boost::json::array insts;
  for (const auto& c : r.chains) {
    boost::json::object inst = summaryJson(c.summary);
    inst["state"] = chainStateName(c.state);
    inst["dir"] = c.dir;
    if (c.problem) {
      inst["problem"] = problemJson(*c.problem);
    }
    insts.push_back(std::move(inst));
  }
  out["instances"] = std::move(insts);
  if (const auto* bad = r.firstNotIntact(); bad != nullptr && bad->problem) {
    out["first_bad"] = problemJson(*bad->problem);
  }
  return out;
}

}  // namespace jg::audit
