#include "server/admin_request.h"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <cctype>

#include "core/text.h"

namespace jg::server {

bool parseAdminTarget(std::string_view target, AdminRequest& out) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    return false;
  }
  // Answers quote the path and parameters in JSON, which must be UTF-8.
  out.path = std::string(url->path());
  if (!isValidUtf8(out.path)) {
    return false;
  }
  for (const auto& p : url->params()) {
    if (!isValidUtf8(p.key) || !isValidUtf8(p.value)) {
      return false;
    }
    out.query[std::string(p.key)] = std::string(p.value);
  }
  return true;
}

std::string bearerToken(std::string_view authorization) {
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size()) {
    return {};
  }
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearer[i]) {
      return {};
    }
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') {
    token.remove_prefix(1);
  }
  return std::string(token);
}

AdminResponse fromReply(const access::ApiReply& r) {
  return AdminResponse{r.status, "application/json", boost::json::serialize(r.body), {}};
}

AdminResponse jsonError(int status, std::string code, std::string message) {
  return fromReply(access::Api::error(status, std::move(code), std::move(message)));
}

std::string clientApplication(std::string_view app_header, std::string_view user_agent) {
  std::string_view v = app_header.empty() ? user_agent : app_header;
  std::string out;
  for (char c : v.substr(0, 200)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

}  // namespace jg::server
