#pragma once

// The web console's files, compiled into the gateway (cmake/embed_web_assets.cmake generates the
// definition from gateway/web/ and the charting library's npm package at build time), so the
// console works on an isolated network with no file to install beside the binary.

#include <string_view>

namespace etcdmon::gateway::detail {

struct WebAsset {
  std::string_view path;          // "/" for the page, "/assets/<stem>.<version>.<ext>" otherwise
  std::string_view content_type;  // with its charset
  bool immutable;                 // versioned by its content: cacheable for a year
  std::string_view body;
};

/// The asset served at `path`, or null.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace etcdmon::gateway::detail
