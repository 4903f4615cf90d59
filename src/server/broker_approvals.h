// BrokerApprovals: the gate's Approvals over the access Broker, for one caller on one resource.
// Its calls reach the state store: use it off the I/O threads.
#pragma once

#include <string>

#include "access/broker.h"
#include "gate/approvals.h"
#include "identity/identity.h"

namespace jg::server {

class BrokerApprovals : public gate::Approvals {
 public:
  // `client`: where the caller connects from, recorded in the reviews it creates.
  BrokerApprovals(access::Broker& broker, const identity::Identity& who, std::string resource,
                  std::string session_id, access::ClientInfo client = {})
      : broker_(broker),
        who_(who),
        resource_(std::move(resource)),
        session_id_(std::move(session_id)),
        client_(std::move(client)) {}

  std::optional<std::string> consume(const gate::ApprovalKey& key) override;
  Result<gate::CreatedReview> create(const gate::ReviewDraft& draft) override;
  std::optional<gate::GrantInfo> activeGrant(std::string_view role) override;

 private:
  access::Broker& broker_;
  const identity::Identity& who_;
  std::string resource_;
  std::string session_id_;
  access::ClientInfo client_;
};

}  // namespace jg::server
