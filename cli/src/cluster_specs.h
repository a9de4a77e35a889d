#pragma once

// The clusters one all-in-one `etcd-monitor` watches: from --endpoints (the quickstart's single
// cluster, named by --cluster-name), from each --cluster NAME=ENDPOINT[,ENDPOINT...], and from a
// --clusters-file. Each becomes one collector per endpoint, every collector naming its cluster.
//
// Plain functions on plain data; they read files (the clusters file, TLS files, password files)
// and the environment (auth.password_env), so call them once, on main()'s thread, before other
// threads start.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::cli {

/// At most this many clusters in all (and so in a clusters file): each costs collectors, a model
/// in the aggregator and rules in the alerter.
inline constexpr std::size_t kMaxClusters = 100;
/// At most this many endpoints per cluster (one collector each).
inline constexpr std::size_t kMaxEndpointsPerCluster = 64;
/// A clusters file larger than this is refused before it is parsed.
inline constexpr std::size_t kMaxClustersFileBytes = 1024 * 1024;

/// One watched cluster, resolved: what its collectors, and (once wired) its gateway backends and
/// alert rules, need.
struct ClusterSpec {
  std::string name;  // config::ValidateClusterName holds
  /// Endpoints (1..kMaxEndpointsPerCluster, distinct), timeouts, TLS and etcd auth of this
  /// cluster: the quickstart's flags, unless the clusters file gave this cluster `tls:` or
  /// `auth:` (each replaces the flags' settings as a whole).
  config::EtcdConnectionConfig etcd;
  /// The flags' thresholds (--max-latency-ms, ...), each key of the file's `thresholds:` over
  /// them.
  config::AlertThresholds thresholds;
  /// True when the clusters file gave this cluster at least one threshold: its alert rules then
  /// differ from the flags' defaults.
  bool thresholds_given = false;
  /// Where it was defined, for error lines: `--endpoints`, `--cluster "prod=..."`,
  /// `clusters.yaml:4`.
  std::string source;
};

/// What a cluster from --cluster or a clusters file inherits from the quickstart's flags.
struct ClusterDefaults {
  config::EtcdConnectionConfig etcd;   // timeouts, TLS, auth (its endpoints are not used)
  config::AlertThresholds thresholds;  // --max-latency-ms, --max-db-size-mb, ...
};

/// Parses an endpoint list as --endpoints does: comma-separated, items trimmed, at least one,
/// no empty item, none listed twice, at most kMaxEndpointsPerCluster. Errors are the reason
/// alone (`endpoint "x": missing port`), for the caller to name the input.
Result<std::vector<config::Endpoint>> ParseEndpointList(std::string_view list);

/// Parses one --cluster value, `NAME=ENDPOINT[,ENDPOINT...]`, into a cluster with `defaults`'
/// connection settings and thresholds. Errors are the reason alone (`want NAME=ENDPOINT[,...]`).
Result<ClusterSpec> ParseClusterFlag(std::string_view value, const ClusterDefaults& defaults);

/// Parses a clusters file's text (YAML; JSON is YAML too):
///
///   clusters:
///     - name: prod
///       endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]
///       tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem,
///             insecure_skip_tls: false}
///       auth: {username: monitor, password_file: /run/secrets/etcd-pass}  # or password_env: VAR
///       thresholds: {max_latency_ms: 100, max_db_size_mb: 8192, min_available_nodes: 2,
///                    max_leader_changes: 3}
///
/// `name` and `endpoints` are required; the rest is optional. Unknown keys, bad names, duplicate
/// names, bad or repeated endpoints, more than kMaxClusters clusters or kMaxEndpointsPerCluster
/// endpoints, missing or unreadable files, a private key others can read, a user without exactly
/// one password source, and thresholds out of the flags' ranges are refused. Relative paths are
/// resolved against `base_dir`. Every problem is one line `<source>:<line>: <reason>` of one
/// InvalidArgument; no line ever holds a password.
Result<std::vector<ClusterSpec>> ParseClustersText(std::string_view text, std::string_view source,
                                                   const std::string& base_dir,
                                                   const ClusterDefaults& defaults);

/// Reads `path` (a regular file of at most kMaxClustersFileBytes) and parses it with
/// ParseClustersText, relative paths resolved against the file's directory. Errors name the
/// path.
Result<std::vector<ClusterSpec>> LoadClustersFile(const std::string& path,
                                                  const ClusterDefaults& defaults);

}  // namespace etcdmon::cli
