// `jitgate review list|show|approve|reject` and `jitgate review grants|revoke`: what approvers
// do, through the gateway's admin API with their own OIDC token (see access/api_client.h for
// where the URL and the token come from). Exit status: 0 done, 1 refused by the gateway
// (not allowed, not found, already decided), 2 unusable input or gateway unreachable.
#include <boost/json.hpp>
#include <iostream>

#include "access/api_client.h"
#include "access/repository.h"
#include "cli/command.h"
#include "core/duration.h"

namespace jg::cli {
namespace {

namespace json = boost::json;

struct ReviewOptions {
  access::ClientOptions client;
  std::string id;
  std::string comment;
  std::string state;
  std::string resource;
  bool json = false;
};

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) {
    return {};
  }
  if (v->is_string()) {
    return std::string(v->get_string());
  }
  return v->is_null() ? std::string() : json::serialize(*v);
}

std::string who(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? str(v->get_object(), "display") : std::string();
}

// "203.0.113.7:51234 (psql)" from a review's `client`; "" when not recorded.
std::string client(const json::object& r) {
  const auto* v = r.if_contains("client");
  if (v == nullptr || !v->is_object()) {
    return {};
  }
  std::string addr = str(v->get_object(), "address");
  std::string app = str(v->get_object(), "application");
  if (app.empty()) {
    return addr;
  }
  return addr.empty() ? "(" + app + ")" : addr + " (" + app + ")";
}

// A session review's window as people write it ("1h", "1h30m"): the gateway's grant_duration,
// else formatted from grant_duration_seconds (an older gateway).
std::string window(const json::object& r) {
  std::string w = str(r, "grant_duration");
  if (!w.empty()) {
    return w;
  }
  const auto* secs = r.if_contains("grant_duration_seconds");
  return secs != nullptr && secs->is_int64()
             ? formatDuration(std::chrono::seconds(secs->get_int64()))
             : std::string();
}

using Row = std::vector<std::string>;

// Prints rows under a header, each column as wide as its widest cell; the last column is free.
void printTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  auto widen = [&width](const Row& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  widen(header);
  for (const Row& row : rows) {
    widen(row);
  }
  auto print = [&width](const Row& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(width[i] - row[i].size() + 2, ' ');
      }
    }
    std::cout << line << "\n";
  };
  print(header);
  for (const Row& row : rows) {
    print(row);
  }
}

Row reviewRow(const json::object& r) {
  const auto& approvers = r.at("approvers").as_object();
  return {str(r, "id"),
          str(r, "state"),
          who(r, "requester"),
          client(r),
          str(r, "scope") + " " + str(r, "resource") +
              (str(r, "role").empty() ? "" : "/" + str(r, "role")) +
              (str(r, "scope") == "session" && !window(r).empty() ? " for " + window(r) : ""),
          str(r, "approvals") + "/" + str(approvers, "count"),
          str(r, "rule"),
          str(r, "reason")};
}

// "no pending reviews", "no reviews on kb", ...
std::string nothingListed(const std::string& what, const std::string& state,
                          const std::string& resource) {
  return "no " + (state.empty() ? "" : state + " ") + what +
         (resource.empty() ? "" : " on " + resource);
}

void printReviewList(const json::array& reviews, const ReviewOptions& o) {
  if (reviews.empty()) {
    std::cout << nothingListed("reviews", o.state, o.resource) << "\n";
    return;
  }
  std::vector<Row> rows;
  for (const auto& r : reviews) {
    rows.push_back(reviewRow(r.as_object()));
  }
  printTable({"ID", "STATE", "REQUESTER", "CLIENT", "ASKS FOR", "APPROVALS", "RULE", "REASON"},
             rows);
}

void printReview(const json::object& r) {
  const auto& approvers = r.at("approvers").as_object();
  std::string groups;
  for (const auto& g : approvers.at("groups").as_array()) {
    groups += (groups.empty() ? "" : ", ") + std::string(g.as_string());
  }
  std::cout << "review     " << str(r, "id") << " (" << str(r, "state") << ")\n"
            << "requester  " << who(r, "requester") << "\n"
            << (client(r).empty() ? "" : "client     " + client(r) + "\n") << "asks for   "
            << str(r, "scope") << " access to " << str(r, "resource")
            << (str(r, "role").empty() ? "" : " as " + str(r, "role")) << "\n";
  if (const auto* s = r.if_contains("statement"); s && s->is_object()) {
    std::cout << "statement  " << str(s->get_object(), "text") << "\n";
  } else {
    std::cout << "window     " << window(r) << " once approved\n";
  }
  std::cout << "reason     " << str(r, "reason") << "\n"
            << "rule       " << str(r, "rule") << "\n"
            << "approvers  " << str(r, "approvals") << " of " << str(approvers, "count") << " from "
            << groups << "\n"
            << "created    " << str(r, "created_at") << "\n";
  if (str(r, "state") == "pending") {
    std::cout << "expires    " << str(r, "expires_at") << "\n";
  }
  for (const auto& d : r.at("decisions").as_array()) {
    const auto& x = d.as_object();
    std::cout << "decision   " << str(x, "verdict") << " by " << who(x, "approver") << " at "
              << str(x, "at") << (str(x, "comment").empty() ? "" : ": " + str(x, "comment"))
              << "\n";
  }
  if (!str(r, "grant_id").empty()) {
    std::cout << "grant      " << str(r, "grant_id") << "\n";
  }
}

void printGrantList(const json::array& grants, const ReviewOptions& o) {
  if (grants.empty()) {
    std::cout << nothingListed("grants", o.state, o.resource) << "\n";
    return;
  }
  std::vector<Row> rows;
  for (const auto& v : grants) {
    const auto& g = v.as_object();
    rows.push_back({str(g, "id"), str(g, "state"), who(g, "grantee"),
                    str(g, "resource") + (str(g, "role").empty() ? "" : "/" + str(g, "role")),
                    str(g, "starts_at") + " to " + str(g, "expires_at"),
                    str(g, "ended_by").empty() ? "" : "revoked by " + str(g, "ended_by")});
  }
  printTable({"ID", "STATE", "GRANTEE", "RESOURCE", "WINDOW", "ENDED"}, rows);
}

int exitFor(const Status& st) {
  std::cerr << "jitgate: " << st.message() << "\n";
  return st.code() == Code::kUnavailable || st.code() == Code::kInvalidArgument
             ? (access::isConflict(st) ? 1 : 2)
             : 1;
}

std::string listQuery(const ReviewOptions& o) {
  std::string q;
  if (!o.state.empty()) {
    q += "state=" + o.state;
  }
  if (!o.resource.empty()) {
    q += (q.empty() ? "" : "&") + std::string("resource=") + o.resource;
  }
  return q.empty() ? q : "?" + q;
}

int run(const ReviewOptions& o, const std::string& action) {
  auto client = access::ApiClient::make(o.client);
  if (!client) {
    return exitFor(client.status());
  }
  Result<json::value> res = Status::error(Code::kInternal, "unknown action");
  if (action == "list") {
    res = client->call("GET", "/api/v1/reviews" + listQuery(o));
  } else if (action == "grants") {
    res = client->call("GET", "/api/v1/grants" + listQuery(o));
  } else if (action == "show") {
    res = client->call("GET", "/api/v1/reviews/" + o.id);
  } else if (action == "approve" || action == "reject") {
    res = client->call("POST", "/api/v1/reviews/" + o.id + "/" + action,
                       json::object{{"comment", o.comment}});
  } else if (action == "revoke") {
    res = client->call("POST", "/api/v1/grants/" + o.id + "/revoke",
                       json::object{{"reason", o.comment}});
  }
  if (!res) {
    return exitFor(res.status());
  }
  if (o.json) {
    std::cout << json::serialize(*res) << "\n";
    return 0;
  }
  const auto& body = res->as_object();
  if (action == "list") {
    printReviewList(body.at("reviews").as_array(), o);
  } else if (action == "grants") {
    printGrantList(body.at("grants").as_array(), o);
  } else if (action == "revoke") {
    std::cout << "grant " << str(body, "id") << " revoked; sessions under it were ended\n";
  } else if (action == "show") {
    printReview(body);
  } else {
    const std::string state = str(body, "state");
    std::cout << "review " << str(body, "id") << ": " << state;
    if (state == "pending") {
      std::cout << " (" << str(body, "approvals") << " of "
                << str(body.at("approvers").as_object(), "count") << " approvals)";
    }
    if (!str(body, "grant_id").empty()) {
      std::cout << "; grant " << str(body, "grant_id");
    }
    std::cout << "\n";
  }
  return 0;
}

void addClientOptions(CLI::App* cmd, ReviewOptions& o) {
  cmd->add_option("--gateway", o.client.gateway, "Admin API URL (http://host:port)")
      ->envname("JITGATE_ADMIN_URL");
  cmd->add_option("--token", o.client.token,
                  "OIDC access token (default: $JITGATE_TOKEN or "
                  "the `jitgate login` cache)");
  cmd->add_option("-c,--config", o.client.config_file, "Gateway configuration (for listen.admin)");
  cmd->add_flag("--json", o.json, "Print the API's JSON");
}

void addReview(CLI::App& app) {
  auto* review = app.add_subcommand("review", "Approve or reject access requests; list grants");
  review->require_subcommand(1);
  struct Action {
    const char* name;
    const char* help;
    const char* id_help;  // nullptr: no id argument
    bool comment;
  };
  const Action actions[] = {
      {"list", "List reviews (approvers see all, others their own)", nullptr, false},
      {"show", "Show one review with its decisions", "Review id (r-...)", false},
      {"approve", "Approve a review", "Review id (r-...)", true},
      {"reject", "Reject a review", "Review id (r-...)", true},
      {"grants", "List grants", nullptr, false},
      {"revoke", "Revoke a grant now (ends its live sessions)", "Grant id (g-...)", true},
  };
  for (const auto& a : actions) {
    auto o = std::make_shared<ReviewOptions>();
    auto* cmd = review->add_subcommand(a.name, a.help);
    if (a.id_help != nullptr) {
      cmd->add_option("id", o->id, a.id_help)->required();
    }
    if (a.comment) {
      cmd->add_option(std::string(a.name) == "revoke" ? "--reason" : "--comment", o->comment,
                      "Recorded with the decision");
    }
    if (a.id_help == nullptr) {
      const bool grants = std::string(a.name) == "grants";
      cmd->add_option("--state", o->state, "Only this state")
          ->check(grants
                      ? CLI::IsMember({"active", "expired", "revoked"})
                      : CLI::IsMember({"pending", "approved", "rejected", "expired", "revoked"}));
      cmd->add_option("--resource", o->resource, "Only this resource");
    }
    addClientOptions(cmd, *o);
    cmd->callback([o, name = std::string(a.name)] { setExitCode(run(*o, name)); });
  }
}

}  // namespace

JITGATE_COMMAND(addReview);

}  // namespace jg::cli
