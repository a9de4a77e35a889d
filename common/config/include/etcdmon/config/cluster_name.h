#pragma once

// Cluster names: what a collector's --cluster, the all-in-one's --cluster NAME=... and
// ?cluster= on the REST API spell. One aggregator keeps one model per name, so a name is an
// identity: it goes into history keys, alert keys, Prometheus labels and URLs, and is bounded
// and plain for all of them.

#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::config {

/// The name of a cluster nobody named: the quickstart's single cluster, and the samples of
/// collectors that send no name.
inline constexpr std::string_view kDefaultClusterName = "default";
inline constexpr std::size_t kMaxClusterNameBytes = 63;

/// OK for 1..63 bytes of letters, digits, '_', '-' and '.', starting with a letter or digit;
/// otherwise InvalidArgument naming the input ("invalid cluster name \"a b\": ...").
Status ValidateClusterName(std::string_view name);

}  // namespace etcdmon::config
