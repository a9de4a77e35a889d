#pragma once

// The sample every simulated collector of the ingest benchmark sends, shared by ingest_bench
// (the plain insert derives its rows from it) and ingest_sender (the collectors' process).

#include <cstdint>

#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::bench {

/// The collection time of a run's first sample: now, on a whole second. Batch b of a run is
/// collected b seconds later. Live data, as collectors send it: timestamps of the past would land
/// in rolled-up, soon pruned buckets and measure the store's catch-up path instead.
int64_t FirstSampleMs();

/// A sample the size of a real one: status, probes, the scalars collectors keep, two histograms.
etcdmonitor::v1::MemberSample MakeSample(int member, int64_t unix_ms);

}  // namespace etcdmon::bench
