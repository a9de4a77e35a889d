#include "etcdmon/transport/batch_validation.h"

namespace etcdmon::transport {

std::string_view BatchProblemName(BatchProblem problem) {
  switch (problem) {
    case BatchProblem::kNone:
      return "none";
    case BatchProblem::kBadCollectorId:
      return "bad_collector_id";
    case BatchProblem::kSequenceRange:
      return "sequence_range";
    case BatchProblem::kClockSkew:
      return "clock_skew";
    case BatchProblem::kTooOld:
      return "too_old";
    case BatchProblem::kTooManySamples:
      return "too_many_samples";
    case BatchProblem::kBadName:
      return "bad_name";
  }
  return "unknown";
}

// Placeholder until the checks land: every batch passes.
BatchVerdict ValidateBatch(const etcdmonitor::v1::SampleBatch& /*batch*/,
                           const BatchLimits& /*limits*/, int64_t /*now_unix_ms*/) {
  return {};
}

}  // namespace etcdmon::transport
