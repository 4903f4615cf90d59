#include "server/broker_approvals.h"

namespace jg::server {

std::optional<std::string> BrokerApprovals::consume(const gate::ApprovalKey& key) {
  return broker_.consumeStatementApproval(who_, resource_, key.fingerprint, key.params_hash);
}

Result<gate::CreatedReview> BrokerApprovals::create(const gate::ReviewDraft& draft) {
  access::ReviewRequest req;
  req.requester = who_;
  req.scope = draft.scope == gate::ReviewDraft::Scope::kStatement ? access::Scope::kStatement
                                                                  : access::Scope::kSession;
  req.resource = resource_;
  req.role = std::string(draft.role);
  req.rule_id = std::string(draft.rule_id);
  req.reason = std::string(draft.reason);
  if (draft.spec != nullptr) {
    req.spec = *draft.spec;
  }
  req.statement_text = std::string(draft.text);
  req.fingerprint = draft.key.fingerprint;
  req.params_hash = draft.key.params_hash;
  req.session_id = session_id_;
  req.client = client_;
  auto review = broker_.createReview(req);
  if (!review) {
    return review.status();
  }
  return gate::CreatedReview{review->id, broker_.approvalHint(review->id)};
}

std::optional<gate::GrantInfo> BrokerApprovals::activeGrant(std::string_view role) {
  auto grant = broker_.activeGrant(who_, resource_, role);
  if (!grant) {
    return std::nullopt;
  }
  return gate::GrantInfo{grant->id, grant->rule_id, grant->expires_at};
}

}  // namespace jg::server
