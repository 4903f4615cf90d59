// Boost.URL's implementation, compiled once for the whole binary (Debian ships it header-only).
#include <boost/url/src.hpp>
