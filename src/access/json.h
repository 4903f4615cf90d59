// JSON forms of reviews, grants and events: the admin API's bodies, the webhooks' generic body,
// and what `jitgate review show --json` prints. Times are RFC 3339 UTC strings; unset times are
// omitted. Field names are part of the API (docs/openapi.yaml). Pure functions; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "access/types.h"

namespace jg::access {

boost::json::object toJson(const Person& p);
boost::json::object toJson(const Review& r);
boost::json::object toJson(const Grant& g);
// {"event": ..., "time": ..., "actor": ..., "comment": ..., "review": ..., "grant": ...}
boost::json::object toJson(const AccessEvent& e);

// A one-line summary of an event for people (chat messages, logs).
std::string summary(const AccessEvent& e);

}  // namespace jg::access
