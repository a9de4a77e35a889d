#include "etcdmon/benchmark/report.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace etcdmon::benchmark {
namespace {

double Seconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }

// "99.9" -> "p99_9", "50" -> "p50".
std::string PercentileKey(double percent) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "p%g", percent);
  std::string key(buf);
  for (char& c : key) {
    if (c == '.') {
      c = '_';
    }
  }
  return key;
}

std::string FormatSeconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f secs.", Seconds(d));
  return buf;
}

}  // namespace

PerfVerdict JudgePerf(PerfProfile profile, const BenchmarkReport& report) {
  const PerfProfileParams params = ProfileParams(profile);
  PerfVerdict verdict;
  verdict.profile = std::string(params.name);
  char line[160];
  if (!(report.ops_per_second > 0.9 * params.rate)) {
    std::snprintf(line, sizeof(line),
                  "throughput too low: %.0f writes/s (need more than 90%% of %u)",
                  report.ops_per_second, params.rate);
    verdict.failures.emplace_back(line);
  }
  if (report.max > std::chrono::milliseconds(500)) {
    std::snprintf(line, sizeof(line), "slowest request took too long: %.4f s (limit 0.5 s)",
                  Seconds(report.max));
    verdict.failures.emplace_back(line);
  }
  if (report.stddev > std::chrono::milliseconds(100)) {
    std::snprintf(line, sizeof(line), "stddev too high: %.4f s (limit 0.1 s)",
                  Seconds(report.stddev));
    verdict.failures.emplace_back(line);
  }
  if (report.failed > 0) {
    std::snprintf(line, sizeof(line), "%llu requests failed",
                  static_cast<unsigned long long>(report.failed));
    verdict.failures.emplace_back(line);
  }
  verdict.pass = verdict.failures.empty();
  return verdict;
}

std::string ToJson(const BenchmarkReport& r) {
  nlohmann::json j;
  j["type"] = std::string(config::BenchmarkTypeName(r.type));
  j["key_prefix"] = r.key_prefix;
  j["endpoints"] = r.endpoints;
  j["clients"] = r.clients;
  j["conns"] = r.conns;
  j["rate_limit"] = r.rate_limit;
  j["consistency"] = r.consistency;
  j["ops"] = r.ops;
  j["succeeded"] = r.succeeded;
  j["failed"] = r.failed;
  j["reads"] = r.reads;
  j["writes"] = r.writes;
  nlohmann::json errors = nlohmann::json::array();
  for (const ErrorCount& e : r.errors) {
    errors.push_back({{"code", e.code}, {"count", e.count}, {"example", e.example}});
  }
  j["errors"] = std::move(errors);
  j["duration_seconds"] = Seconds(r.duration);
  j["ops_per_second"] = r.ops_per_second;
  nlohmann::json latency;
  latency["mean"] = Seconds(r.mean);
  latency["stddev"] = Seconds(r.stddev);
  latency["min"] = Seconds(r.min);
  latency["max"] = Seconds(r.max);
  for (size_t i = 0; i < kReportedPercentileCount; ++i) {
    latency[PercentileKey(kReportedPercentiles[i])] = Seconds(r.percentiles[i]);
  }
  j["latency_seconds"] = std::move(latency);
  j["per_second"] = r.per_second;
  j["keys_populated"] = r.keys_populated;
  j["keys_deleted"] = r.keys_deleted;
  if (!r.cleanup_error.empty()) {
    j["cleanup_error"] = r.cleanup_error;
  }
  j["cancelled"] = r.cancelled;
  if (r.verdict.has_value()) {
    j["check_perf"] = {{"profile", r.verdict->profile},
                       {"pass", r.verdict->pass},
                       {"failures", r.verdict->failures}};
  }
  // Error examples come from the network: replace invalid UTF-8 rather than throw.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ToText(const BenchmarkReport& r) {
  std::ostringstream out;
  out << "Benchmark: " << config::BenchmarkTypeName(r.type) << ", " << r.clients << " clients over "
      << r.conns << " connections";
  if (r.rate_limit > 0) {
    out << ", rate limit " << r.rate_limit << " ops/s";
  }
  if (r.type != WorkloadType::kWrite) {
    out << ", consistency " << r.consistency;
  }
  out << "\nEndpoints: ";
  for (size_t i = 0; i < r.endpoints.size(); ++i) {
    out << (i == 0 ? "" : ", ") << r.endpoints[i];
  }
  out << "\nOperations: " << r.ops << " (" << r.succeeded << " succeeded: " << r.reads << " reads, "
      << r.writes << " writes; " << r.failed << " failed)";
  if (r.cancelled) {
    out << " [cancelled]";
  }
  out << "\n";
  for (const ErrorCount& e : r.errors) {
    out << "  error " << e.code << ": " << e.count << " (e.g. " << e.example << ")\n";
  }
  char line[96];
  out << "\nSummary:\n";
  out << "  Total:\t" << FormatSeconds(r.duration) << "\n";
  out << "  Slowest:\t" << FormatSeconds(r.max) << "\n";
  out << "  Fastest:\t" << FormatSeconds(r.min) << "\n";
  out << "  Average:\t" << FormatSeconds(r.mean) << "\n";
  out << "  Stddev:\t" << FormatSeconds(r.stddev) << "\n";
  std::snprintf(line, sizeof(line), "  Requests/sec:\t%.4f\n", r.ops_per_second);
  out << line;
  out << "\nLatency distribution:\n";
  for (size_t i = 0; i < kReportedPercentileCount; ++i) {
    std::snprintf(line, sizeof(line), "  %g%% in %.4f secs.\n", kReportedPercentiles[i],
                  Seconds(r.percentiles[i]));
    out << line;
  }
  out << "\nThroughput per second:";
  for (size_t i = 0; i < r.per_second.size(); ++i) {
    out << (i % 10 == 0 ? "\n  " : " ") << r.per_second[i];
  }
  out << "\n";
  if (r.keys_populated > 0) {
    out << "\nKeys written before the run: " << r.keys_populated << "\n";
  }
  if (!r.cleanup_error.empty()) {
    out << "Cleanup failed, keys under " << r.key_prefix << " remain: " << r.cleanup_error << "\n";
  } else if (!r.keys_deleted) {
    out << "Keys kept under " << r.key_prefix << "\n";
  }
  if (r.verdict.has_value()) {
    out << "\ncheck-perf " << r.verdict->profile << ": " << (r.verdict->pass ? "PASS" : "FAIL")
        << "\n";
    for (const std::string& f : r.verdict->failures) {
      out << "  FAIL: " << f << "\n";
    }
  }
  return out.str();
}

}  // namespace etcdmon::benchmark
