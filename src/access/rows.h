// Row mapping of the access tables: the schema (migrations of the store component "access"),
// column lists, and conversions between store rows and Review/Grant values. Internal to the
// access module (repository.cc). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "access/types.h"
#include "store/store.h"

namespace jg::access::rows {

// Append only: never edit a released migration.
const std::vector<store::Migration>& migrations();

extern const std::string_view kReviewCols;
extern const std::string_view kGrantCols;

// Unix milliseconds; an unset time is NULL.
store::Value ms(TimePoint t);
TimePoint fromMs(const store::Value& v);
std::string toJson(const std::vector<std::string>& items);
std::vector<std::string> fromJson(const std::string& text);
std::string col(const store::Row& r, size_t i);
// Rows selected with kReviewCols / kGrantCols, in that order.
Review reviewFromRow(const store::Row& r);
Grant grantFromRow(const store::Row& r);

}  // namespace jg::access::rows
