// Namespace aliases shared by the HTTP protocol layer: the headers of this folder speak of
// Boost.Beast types as `beast::` and `bhttp::`, as the server code that calls them does.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

namespace jg::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

}  // namespace jg::http
