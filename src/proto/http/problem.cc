#include "proto/http/problem.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace jg::http {

std::string problemJson(const Problem& p) {
  boost::json::object doc;
  doc["type"] = p.type.empty() ? std::string_view("about:blank") : std::string_view(p.type);
  doc["title"] = p.title;
  doc["status"] = p.status;
  if (!p.detail.empty()) {
    doc["detail"] = p.detail;
  }
  for (const auto& [name, value] : p.extra) {
    if (name != "detail" && !doc.contains(name)) {
      doc[name] = value;
    }
  }
  return boost::json::serialize(doc);
}

Problem problemOf(const Refusal& r) {
  return Problem{.status = r.status, .title = r.title, .detail = r.detail, .type = "about:blank"};
}

}  // namespace jg::http
