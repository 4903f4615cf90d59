#include "server/refusal.h"

#include "proto/pg/decode.h"
#include "proto/pg/encode.h"

namespace jg::server {

std::string_view pgSqlstate(gate::Refusal r) {
  switch (r) {
    case gate::Refusal::kNone:
    case gate::Refusal::kForbidden:
    case gate::Refusal::kNeedsApproval:
      return "42501";
    case gate::Refusal::kInvalidRequest:
      return "42601";
    case gate::Refusal::kLimit:
      return "54000";
    case gate::Refusal::kUnknownName:
      return "26000";
    case gate::Refusal::kAborted:
      return "25P02";
    case gate::Refusal::kUnrecorded:
      return "58030";
    case gate::Refusal::kInternal:
      return "XX000";
  }
  return "42501";
}

void substituteRefused(const pg::Frame& frame, std::string_view name, std::string& substitute) {
  constexpr std::string_view kRefused = "JITGATE REFUSED";
  constexpr std::string_view kNoSuchName = "jitgate refused";
  switch (frame.type) {
    case pg::fe::kParse:
      pg::encodeParse(substitute, pg::Parse{name, kRefused, {}});
      return;
    case pg::fe::kBind: {
      pg::Bind b;
      b.statement = kNoSuchName;
      pg::encodeBind(substitute, b);
      return;
    }
    case pg::fe::kExecute:
      pg::encodeExecute(substitute, pg::Execute{kNoSuchName, 0});
      return;
    case pg::fe::kDescribe: {
      pg::Describe d;
      (void)pg::decodeDescribe(frame.payload, d);
      pg::encodeDescribe(substitute, pg::Describe{d.target, kNoSuchName});
      return;
    }
    default:
      pg::encodeQuery(substitute, kRefused);
  }
}

}  // namespace jg::server
