#include "proto/http/router.h"

#include <gtest/gtest.h>

#include <string>

namespace jg::http {
namespace {

Router table() {
  return Router({
      {.resource = "kb", .prefix = "/kb", .host = ""},
      {.resource = "kb-search", .prefix = "/kb/search", .host = ""},
      {.resource = "vectors", .prefix = "/v1", .host = ""},
      {.resource = "vectors-eu", .prefix = "/v1", .host = "EU.Vectors.example"},
      {.resource = "eu-root", .prefix = "/", .host = "root.example"},
  });
}

// "resource rest" for a request, or "-" when no route matches.
std::string route(const Router& r, std::string_view host, std::string_view path) {
  auto m = r.match(host, path);
  if (!m) {
    return "-";
  }
  return m->mount->resource + " " + std::string(m->rest);
}

TEST(Router, LongestPrefixOnASegmentBoundaryWins) {
  const Router r = table();
  EXPECT_EQ(route(r, "a", "/kb/search/q"), "kb-search /q");
  EXPECT_EQ(route(r, "a", "/kb/searchx"), "kb /searchx");
  EXPECT_EQ(route(r, "a", "/kb/docs/1"), "kb /docs/1");
  EXPECT_EQ(route(r, "a", "/kbx"), "-");
  EXPECT_EQ(route(r, "a", "/k"), "-");
  EXPECT_EQ(route(r, "a", "/"), "-");
}

TEST(Router, ExactPrefixHasRestSlash) {
  const Router r = table();
  EXPECT_EQ(route(r, "a", "/kb"), "kb /");
  EXPECT_EQ(route(r, "a", "/kb/"), "kb /");
  EXPECT_EQ(route(r, "a", "/kb/search"), "kb-search /");
}

TEST(Router, HostSpecificMountBeatsHostLessOne) {
  const Router r = table();
  EXPECT_EQ(route(r, "eu.vectors.example", "/v1/embeddings"), "vectors-eu /embeddings");
  EXPECT_EQ(route(r, "us.vectors.example", "/v1/embeddings"), "vectors /embeddings");
  // Even when the host-less mount has a longer prefix.
  EXPECT_EQ(route(r, "root.example", "/kb/search/q"), "eu-root /kb/search/q");
}

TEST(Router, HostIsComparedCaseInsensitivelyWithoutThePort) {
  const Router r = table();
  EXPECT_EQ(route(r, "EU.VECTORS.EXAMPLE:8443", "/v1/x"), "vectors-eu /x");
  EXPECT_EQ(route(r, "eu.vectors.example.", "/v1/x"), "vectors-eu /x");
  EXPECT_EQ(route(r, "eu.vectors.example.evil", "/v1/x"), "vectors /x");
}

TEST(Router, PathComparisonIsCaseSensitive) {
  EXPECT_EQ(route(table(), "a", "/KB/x"), "-");
}

TEST(Router, EmptyTableRoutesNothing) {
  EXPECT_EQ(route(Router({}), "a", "/kb"), "-");
}

TEST(Router, HostWithoutPortHandlesIpv6Literals) {
  EXPECT_EQ(hostWithoutPort("[::1]:8443"), "[::1]");
  EXPECT_EQ(hostWithoutPort("[FE80::1]"), "[fe80::1]");
  EXPECT_EQ(hostWithoutPort("Example.COM:80"), "example.com");
  EXPECT_EQ(hostWithoutPort(""), "");
}

TEST(Router, IPv6HostMountMatchesWithAndWithoutPort) {
  const Router r({{.resource = "local", .prefix = "/x", .host = "[::1]"}});
  EXPECT_EQ(route(r, "[::1]:9000", "/x/y"), "local /y");
  EXPECT_EQ(route(r, "[::2]", "/x/y"), "-");
}

}  // namespace
}  // namespace jg::http
