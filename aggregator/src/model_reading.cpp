#include "model_reading.h"

#include "etcdmonitor/v1/samples.pb.h"
#include "model_stats.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using Labels = google::protobuf::RepeatedPtrField<v1::Label>;

std::string_view LabelValue(const Labels& labels, std::string_view name) {
  for (const v1::Label& l : labels) {
    if (l.name() == name) {
      return l.value();
    }
  }
  return {};
}

// Copies one histogram series into `scratch` as histogram::Buckets.
void ToBuckets(const v1::HistogramMetric& h, std::vector<histogram::Bucket>& scratch) {
  scratch.resize(static_cast<std::size_t>(h.buckets_size()));
  for (int i = 0; i < h.buckets_size(); ++i) {
    scratch[static_cast<std::size_t>(i)] = histogram::Bucket{
        h.buckets(i).upper_bound(), static_cast<double>(h.buckets(i).cumulative_count())};
  }
}

enum class GrpcKind { kNone, kRead, kWrite };

// Which latency a grpc_server_handling_seconds series belongs to: unary KV calls only.
GrpcKind ClassifyGrpc(const Labels& labels) {
  if (LabelValue(labels, "grpc_type") != "unary") {
    return GrpcKind::kNone;
  }
  const std::string_view service = LabelValue(labels, "grpc_service");
  if (!service.empty() && service != "etcdserverpb.KV") {
    return GrpcKind::kNone;
  }
  const std::string_view method = LabelValue(labels, "grpc_method");
  if (method == "Range") {
    return GrpcKind::kRead;
  }
  if (method == "Put" || method == "DeleteRange" || method == "Txn") {
    return GrpcKind::kWrite;
  }
  return GrpcKind::kNone;
}

}  // namespace

void Reading::Clear() {
  at_ms = 0;
  has_metrics = false;
  has_leader = is_leader = leader_changes = kAbsent;
  proposals_committed = proposals_applied = proposals_failed = proposals_pending = kAbsent;
  quota_bytes = db_size = db_size_in_use = kAbsent;
  grpc_unary_handled = grpc_unary_failed = 0;
  wal_fsync.clear();
  backend_commit.clear();
  grpc_read.clear();
  grpc_write.clear();
}

bool IsFailureCode(std::string_view code) {
  return code == "Unknown" || code == "FailedPrecondition" || code == "ResourceExhausted" ||
         code == "Internal" || code == "Unavailable" || code == "DataLoss" ||
         code == "DeadlineExceeded";
}

void ExtractReading(const v1::MemberSample& sample, Reading& out,
                    std::vector<histogram::Bucket>& scratch) {
  out.Clear();
  out.at_ms = sample.collected_at_unix_ms();
  out.has_metrics = sample.scalars_size() > 0 || sample.histograms_size() > 0;
  for (const v1::ScalarMetric& s : sample.scalars()) {
    // A view: comparing it with a literal checks the length first, without a strlen per literal.
    const std::string_view name = s.name();
    const double v = s.value();
    if (name == "grpc_server_handled_total") {
      if (LabelValue(s.labels(), "grpc_type") == "unary") {
        out.grpc_unary_handled += v;
        if (IsFailureCode(LabelValue(s.labels(), "grpc_code"))) {
          out.grpc_unary_failed += v;
        }
      }
    } else if (name == "etcd_server_has_leader") {
      out.has_leader = v;
    } else if (name == "etcd_server_is_leader") {
      out.is_leader = v;
    } else if (name == "etcd_server_leader_changes_seen_total") {
      out.leader_changes = v;
    } else if (name == "etcd_server_proposals_committed_total") {
      out.proposals_committed = v;
    } else if (name == "etcd_server_proposals_applied_total") {
      out.proposals_applied = v;
    } else if (name == "etcd_server_proposals_failed_total") {
      out.proposals_failed = v;
    } else if (name == "etcd_server_proposals_pending") {
      out.proposals_pending = v;
    } else if (name == "etcd_server_quota_backend_bytes") {
      out.quota_bytes = v;
    } else if (name == "etcd_mvcc_db_total_size_in_bytes") {
      out.db_size = v;
    } else if (name == "etcd_mvcc_db_total_size_in_use_in_bytes") {
      out.db_size_in_use = v;
    }
  }
  // Series of one family are summed; a series with another bucket layout is left out.
  for (const v1::HistogramMetric& h : sample.histograms()) {
    std::vector<histogram::Bucket>* into = nullptr;
    const std::string_view name = h.name();
    if (name == "etcd_disk_wal_fsync_duration_seconds") {
      into = &out.wal_fsync;
    } else if (name == "etcd_disk_backend_commit_duration_seconds") {
      into = &out.backend_commit;
    } else if (name == "grpc_server_handling_seconds") {
      switch (ClassifyGrpc(h.labels())) {
        case GrpcKind::kRead:
          into = &out.grpc_read;
          break;
        case GrpcKind::kWrite:
          into = &out.grpc_write;
          break;
        case GrpcKind::kNone:
          break;
      }
    }
    if (into == nullptr || h.buckets_size() < 2) {
      continue;
    }
    ToBuckets(h, scratch);
    AddHistogram(*into, scratch);
  }
}

std::string_view UrlAuthority(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  const std::size_t end = url.find_first_of("/?#");
  return end == std::string_view::npos ? url : url.substr(0, end);
}

}  // namespace etcdmon::aggregator::detail
