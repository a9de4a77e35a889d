// Fuzz target for the Prometheus text parser, its histogram view and the quantile math that
// consumes it. Any crash, sanitizer report or broken invariant below is a bug.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "etcdmon/histogram/quantile.h"
#include "etcdmon/promtext/parser.h"

namespace {

void Check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Small bounds, so that the fuzzer also reaches the limit paths.
  etcdmon::promtext::ParseOptions options;
  options.max_input_bytes = 4096;
  options.max_line_bytes = 512;
  options.max_labels_per_sample = 8;
  options.max_errors = 16;

  // Parse twice into the same result: the second parse reuses the first one's storage.
  etcdmon::promtext::ParseResult result;
  for (int round = 0; round < 2; ++round) {
    const etcdmon::Status status = etcdmon::promtext::Parse(text, result, options);
    Check(status.ok() == (size <= options.max_input_bytes));
    Check(result.bytes_parsed() <= size && result.bytes_parsed() <= options.max_input_bytes);
    Check(result.errors().size() <= options.max_errors);

    for (const auto& family : result.families()) {
      Check(result.FindFamily(family.name) == &family);
      for (const auto& sample : family.samples) {
        Check(sample.labels.size() <= options.max_labels_per_sample);
        for (const auto& label : sample.labels) {
          Check(!label.name.empty());
        }
      }
      if (family.type != etcdmon::promtext::MetricType::kHistogram) {
        continue;
      }
      auto view = etcdmon::promtext::HistogramView(family);
      if (!view.ok()) {
        continue;
      }
      for (const auto& series : *view) {
        for (double q : {0.0, 0.5, 0.99, 1.0}) {
          (void)etcdmon::histogram::HistogramQuantile(q, series.buckets);
        }
        (void)etcdmon::histogram::BucketDeltas(series.buckets, series.buckets);
      }
    }
  }
  return 0;
}
