// Fuzzes the configuration loader and the policy compiler: the input is a jitgate.yaml. It goes
// through parseConfig (YAML, every section's parser, Policy::compile), which must return a
// configuration or an error naming file, line and key, never crash. The `policies:` section
// alone is also compiled on its own (the path of `jitgate policy check`), and a policy that
// compiles is bound and evaluated for a few statements at a fixed instant.
//
// The file name points into a directory that does not exist, so relative paths the input names
// resolve to nothing; the loader only reads (secret files, existence checks), never writes.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/node.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "server/config.h"
#include "sql/classifier.h"
#include "sql/session_context.h"

namespace {

using namespace jg;

constexpr const char* kFile = "/nonexistent-jitgate-fuzz/jitgate.yaml";

const std::shared_ptr<const sql::Classification>& statement(int i) {
  static const std::shared_ptr<const sql::Classification> all[] = {
      std::make_shared<const sql::Classification>(sql::classifyUncached("SELECT * FROM t")),
      std::make_shared<const sql::Classification>(
          sql::classifyUncached("UPDATE app.users SET email = 'x' WHERE id = 1")),
      std::make_shared<const sql::Classification>(sql::classifyUncached("DROP TABLE orders")),
  };
  return all[i];
}

void evaluate(const policy::Policy& p) {
  identity::Identity who;
  who.issuer = "https://idp.example.com";
  who.subject = "alice";
  who.email = "alice@example.com";
  who.groups = {"dba", "eng"};
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  for (std::string_view resource : {"app", "orders"}) {
    policy::Binding b = p.bind(who, resource, now);
    sql::SessionContext ctx;
    for (int i = 0; i < 3; ++i) {
      (void)p.evaluateBatch(b, statement(i), ctx, now);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto cfg = server::parseConfig(yaml, kFile);
  if (cfg && (*cfg)->policy) {
    evaluate(*(*cfg)->policy);
  }
  auto root = config::Node::parse(yaml, kFile);
  if (root && root->isMap() && root->has("policies")) {
    config::Errors errors;
    auto p = policy::Policy::compile((*root)["policies"], errors);
    if (p) {
      evaluate(**p);
    }
  }
  return 0;
}
