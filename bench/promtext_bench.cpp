// Parsing speed of the Prometheus text parser on a page shaped like etcd's /metrics with
// --metrics=extensive: about 2000 series and 200 KB, most of them gRPC per-method counters
// and histograms. The collector parses one such page per member every interval.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "etcdmon/promtext/parser.h"

namespace {

void AddHeader(std::string& page, const std::string& name, const char* type, const char* help) {
  page += "# HELP " + name + " " + help + "\n";
  page += "# TYPE " + name + " " + type + "\n";
}

void AddHistogram(std::string& page, const std::string& name, const std::string& labels,
                  const std::vector<std::string>& bounds, int scale) {
  const std::string prefix = labels.empty() ? "" : labels + ",";
  long cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += static_cast<long>((i * 7 + 3) * scale);
    page += name + "_bucket{" + prefix + "le=\"" + bounds[i] + "\"} " + std::to_string(cumulative) +
            "\n";
  }
  page += name + "_bucket{" + prefix + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  page += name + "_sum" + braces + " " + std::to_string(static_cast<double>(cumulative) * 0.00123) +
          "\n";
  page += name + "_count" + braces + " " + std::to_string(cumulative) + "\n";
}

std::string EtcdLikePage() {
  std::string page;
  const std::vector<std::string> disk_bounds = {"0.001", "0.002", "0.004", "0.008", "0.016",
                                                "0.032", "0.064", "0.128", "0.256", "0.512",
                                                "1.024", "2.048", "4.096", "8.192"};
  const std::vector<std::string> grpc_bounds = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                                "0.5",   "1",    "2.5",   "5",    "10"};

  AddHeader(page, "go_gc_duration_seconds", "summary",
            "A summary of the pause duration of garbage collection cycles.");
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    page += std::string("go_gc_duration_seconds{quantile=\"") + q + "\"} 4.2197e-05\n";
  }
  page += "go_gc_duration_seconds_sum 0.178226358\ngo_gc_duration_seconds_count 1712\n";

  for (int i = 0; i < 60; ++i) {
    const std::string name = "go_memstats_field_" + std::to_string(i) + "_bytes";
    AddHeader(page, name, "gauge", "Number of bytes used by some runtime structure.");
    page += name + " " + std::to_string(1234567 + i * 4099) + "\n";
  }
  for (int i = 0; i < 40; ++i) {
    const std::string name = "etcd_debugging_mvcc_counter_" + std::to_string(i) + "_total";
    AddHeader(page, name, "counter", "Total number of some mvcc event.");
    page += name + " " + std::to_string(98765 + i) + "\n";
  }
  for (const char* h :
       {"etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds",
        "etcd_disk_backend_defrag_duration_seconds", "etcd_disk_backend_snapshot_duration_seconds",
        "etcd_snap_db_fsync_duration_seconds",
        "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds"}) {
    AddHeader(page, h, "histogram", "The latency distributions of some disk operation.");
    AddHistogram(page, h, "", disk_bounds, 11);
  }
  AddHeader(page, "etcd_network_peer_round_trip_time_seconds", "histogram",
            "Round-Trip-Time histogram between peers");
  for (const char* peer : {"8211f1d0f64f3269", "91bc3c398fb3c146"}) {
    AddHistogram(page, "etcd_network_peer_round_trip_time_seconds",
                 std::string("To=\"") + peer + "\"", disk_bounds, 3);
  }

  std::vector<std::string> methods;
  for (const char* service : {"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease",
                              "etcdserverpb.Cluster", "etcdserverpb.Maintenance"}) {
    for (int m = 0; m < 10; ++m) {
      methods.push_back(std::string("grpc_method=\"Method") + std::to_string(m) +
                        "\",grpc_service=\"" + service + "\",grpc_type=\"unary\"");
    }
  }
  const char* codes[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  AddHeader(page, "grpc_server_handled_total", "counter",
            "Total number of RPCs completed on the server, regardless of success or failure.");
  for (const std::string& method : methods) {
    for (const char* code : codes) {
      page += std::string("grpc_server_handled_total{grpc_code=\"") + code + "\"," + method + "} " +
              std::to_string(method.size() * 31) + "\n";
    }
  }
  for (const char* counter : {"grpc_server_started_total", "grpc_server_msg_received_total",
                              "grpc_server_msg_sent_total"}) {
    AddHeader(page, counter, "counter", "Total number of RPCs started on the server.");
    for (const std::string& method : methods) {
      page += std::string(counter) + "{" + method + "} 4711\n";
    }
  }
  AddHeader(page, "grpc_server_handling_seconds", "histogram",
            "Histogram of response latency (seconds) of gRPC that had been application-level "
            "handled by the server.");
  for (const std::string& method : methods) {
    AddHistogram(page, "grpc_server_handling_seconds", method, grpc_bounds, 5);
  }
  return page;
}

std::size_t CountSeries(const etcdmon::promtext::ParseResult& result) {
  std::size_t n = 0;
  for (const auto& family : result.families()) {
    n += family.samples.size();
  }
  return n;
}

// The collector's case: one ParseResult reused for every scrape.
void BM_ParseEtcdPageReused(benchmark::State& state) {
  const std::string page = EtcdLikePage();
  etcdmon::promtext::ParseResult result;
  for (auto _ : state) {
    etcdmon::Status status = etcdmon::promtext::Parse(page, result);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(result.families().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
  state.counters["page_bytes"] = static_cast<double>(page.size());
  state.counters["series"] = static_cast<double>(CountSeries(result));
  state.counters["errors"] = static_cast<double>(result.errors().size());
}
BENCHMARK(BM_ParseEtcdPageReused);

// A fresh ParseResult per parse, for comparison: the cost of not reusing storage.
void BM_ParseEtcdPageFresh(benchmark::State& state) {
  const std::string page = EtcdLikePage();
  for (auto _ : state) {
    etcdmon::promtext::ParseResult result;
    etcdmon::Status status = etcdmon::promtext::Parse(page, result);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(result.families().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
}
BENCHMARK(BM_ParseEtcdPageFresh);

// Turning the largest histogram family into per-series buckets after a parse.
void BM_HistogramView(benchmark::State& state) {
  const std::string page = EtcdLikePage();
  etcdmon::promtext::ParseResult result;
  (void)etcdmon::promtext::Parse(page, result);
  const auto* family = result.FindFamily("grpc_server_handling_seconds");
  for (auto _ : state) {
    auto view = etcdmon::promtext::HistogramView(*family);
    benchmark::DoNotOptimize(view);
  }
  state.counters["series"] = static_cast<double>(family->samples.size());
}
BENCHMARK(BM_HistogramView);

}  // namespace
