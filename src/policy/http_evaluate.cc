// Policy evaluation of HTTP requests: decisions and explanations.
#include <algorithm>

#include "policy/match.h"
#include "policy/policy.h"
#include "policy/rule.h"

namespace jg::policy {

namespace {

// Guardrails and builtin:session are SQL only; so is a rule with statement conditions.
bool appliesToHttp(const Rule& r) {
  return r.guardrail == Guardrail::kNone && r.id != "builtin:session" &&
         !r.hasStatementConditions();
}

void applyResponseLimits(Decision& d, const Rule& r) {
  d.max_items = r.response.max_items;
  d.items_path = r.response.items;
  d.max_response_bytes = r.response.max_bytes;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : "; ") + s;
  }
  return out;
}

}  // namespace

// What a default deny says: when the closest allow rule failed exactly one condition, that
// condition ("body /limit is 500, above the maximum 50 of rule kb-search"); else the request.
std::string Policy::closestMiss(const Binding& b, const HttpRequest& req) const {
  const Rule* closest = nullptr;
  std::vector<std::string> best;
  for (uint32_t i : b.rules()) {
    const Rule& r = rules_[i];
    if (r.effect != Effect::kAllow || !appliesToHttp(r)) {
      continue;
    }
    std::vector<std::string> why;
    (void)detail::httpFailures(r, req, detail::Mode::kCover, &why);
    if (closest == nullptr || why.size() < best.size()) {
      closest = &r;
      best = std::move(why);
    }
  }
  if (closest != nullptr && best.size() == 1) {
    return best.front() + " of rule " + closest->id;
  }
  return detail::describeHttp(req.facts);
}

Decision Policy::evaluateHttp(const Binding& b, const HttpRequest& req) const {
  const Rule* deny = nullptr;
  const Rule* review = nullptr;
  const Rule* allow = nullptr;
  for (uint32_t i : b.rules()) {
    const Rule& r = rules_[i];
    if (!appliesToHttp(r)) {
      continue;
    }
    if (r.effect == Effect::kDeny) {
      if (deny == nullptr && detail::httpMatches(r, req, detail::Mode::kAny)) {
        deny = &r;
      }
    } else if (r.effect == Effect::kReview) {
      if (review == nullptr && !detail::isGranted(req.granted, r.id) &&
          detail::httpMatches(r, req, detail::Mode::kAny)) {
        review = &r;
      }
    } else if (allow == nullptr && detail::httpMatches(r, req, detail::Mode::kCover)) {
      allow = &r;
    }
  }
  if (deny != nullptr) {
    return detail::denyWith(deny->id, deny->reason, detail::describeHttp(req.facts));
  }
  if (allow == nullptr) {
    return detail::denyWith("default-deny", "no rule allows this request", closestMiss(b, req));
  }
  Decision d;
  detail::applyModifiers(d, *allow);
  applyResponseLimits(d, *allow);  // an approved request is still limited by its allow rule
  if (d.role.empty()) {
    d.role = b.session.role;
  }
  if (review != nullptr) {
    d.effect = Effect::kReview;
    d.rule_id = review->id;
    d.reason = review->reason;
    d.detail = detail::describeHttp(req.facts);
    d.review = &review->review;
    d.sqlstate = "42501";
    d.role = review->role.empty() ? d.role : std::string_view(review->role);
    d.mask_profile = review->mask.empty() ? d.mask_profile : std::string_view(review->mask);
    return d;
  }
  d.effect = Effect::kAllow;
  d.rule_id = allow->id;
  d.reason = allow->reason;
  return d;
}

Explanation Policy::explainHttp(const identity::Identity& who, std::string_view resource,
                                const HttpRequest& req) const {
  Explanation ex;
  Binding b = bind(who, resource, req.now);
  ex.lines.push_back(detail::sessionLine(b));
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    std::string head = detail::ruleHead(r);
    if (r.guardrail != Guardrail::kNone || r.id == "builtin:session") {
      ex.lines.push_back(head + "not applicable: SQL only");
      continue;
    }
    if (std::find(b.rules().begin(), b.rules().end(), i) == b.rules().end()) {
      ex.lines.push_back(head + "not applicable: " + detail::unboundWhy(r, who, resource));
      continue;
    }
    auto mode = r.effect == Effect::kAllow ? detail::Mode::kCover : detail::Mode::kAny;
    std::vector<std::string> why;
    if (detail::httpFailures(r, req, mode, &why) > 0) {
      ex.lines.push_back(head + "not matched: " + joined(why));
      continue;
    }
    bool granted = r.effect == Effect::kReview && detail::isGranted(req.granted, r.id);
    ex.lines.push_back(head + "MATCHED" + (granted ? " (approved)" : ""));
  }
  ex.decision = b.session.effect == Effect::kDeny ? b.session : evaluateHttp(b, req);
  return ex;
}

}  // namespace jg::policy
