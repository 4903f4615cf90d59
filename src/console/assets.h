// The console's static files (console/*.html, *.css, *.js), embedded in the binary at build
// time by cmake/embed_assets.cmake: nothing is read from disk or the network at run time.
// Immutable data; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace jg::console {

struct Asset {
  std::string_view path;  // relative to console/, e.g. "index.html"
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // quoted, strong
};

// The asset at `path`; nullptr when there is none.
const Asset* findAsset(std::string_view path);
std::span<const Asset> allAssets();

}  // namespace jg::console
