#pragma once

// What the model takes from one sample's /metrics series: the few counters and gauges it uses,
// and the histograms it computes windows of, summed over their label sets. Private to the
// aggregator. Pure functions.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/histogram/quantile.h"

namespace etcdmonitor::v1 {
class MemberSample;
}  // namespace etcdmonitor::v1

namespace etcdmon::aggregator::detail {

inline constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
inline bool Present(double v) { return v == v; }

/// The /metrics part of one sample. Scalars are kAbsent when the page did not have them.
struct Reading {
  int64_t at_ms = 0;         // the sample's collection time
  bool has_metrics = false;  // the page was read (the sample has series)

  double has_leader = kAbsent;      // etcd_server_has_leader
  double is_leader = kAbsent;       // etcd_server_is_leader
  double leader_changes = kAbsent;  // etcd_server_leader_changes_seen_total
  double proposals_committed = kAbsent;
  double proposals_applied = kAbsent;
  double proposals_failed = kAbsent;
  double proposals_pending = kAbsent;
  double quota_bytes = kAbsent;     // etcd_server_quota_backend_bytes
  double db_size = kAbsent;         // etcd_mvcc_db_total_size_in_bytes
  double db_size_in_use = kAbsent;  // etcd_mvcc_db_total_size_in_use_in_bytes
  // grpc_server_handled_total, unary only (a missing series is zero: collectors drop zeros).
  double grpc_unary_handled = 0;
  double grpc_unary_failed = 0;

  // Cumulative histograms summed over series of one layout; empty when absent. Bounds in s.
  std::vector<histogram::Bucket> wal_fsync;
  std::vector<histogram::Bucket> backend_commit;
  std::vector<histogram::Bucket> grpc_read;   // grpc_server_handling_seconds, unary Range
  std::vector<histogram::Bucket> grpc_write;  // unary Put, DeleteRange, Txn

  /// Forgets everything, keeping the histograms' capacity.
  void Clear();
};

/// Fills `out` (cleared first) from the sample's scalars and histograms. `scratch` is reused
/// working storage.
void ExtractReading(const etcdmonitor::v1::MemberSample& sample, Reading& out,
                    std::vector<histogram::Bucket>& scratch);

/// Whether a grpc_code is a server-side failure. etcd's own alerting counts Unknown,
/// FailedPrecondition, ResourceExhausted, Internal, Unavailable, DataLoss and DeadlineExceeded;
/// Canceled (a client hanging up, a Watch ending) and client errors (NotFound, InvalidArgument,
/// PermissionDenied, ...) are not failures of the server.
bool IsFailureCode(std::string_view code);

/// "host:port" of a URL ("http://10.0.0.1:2379/" -> "10.0.0.1:2379"); the input when it has no
/// scheme.
std::string_view UrlAuthority(std::string_view url);

}  // namespace etcdmon::aggregator::detail
