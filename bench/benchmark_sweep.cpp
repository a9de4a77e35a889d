// Is the benchmark runner the bottleneck? Starts a local 3-member etcd cluster (real processes
// on free loopback ports, tests/support), then runs a write benchmark at 1, 16, 64 and 256
// concurrent clients and prints, per step, ops/s, p99, and the CPU seconds the runner (this
// process) and the etcd processes used during that step. The runner's share of the step's
// total CPU is the figure to watch: it should stay at or below 20%.
//   benchmark_sweep [--seconds=N] [--conns=N] [--type=write|read|mixed]
// Note that the cluster and the runner share the machine's cores.

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/benchmark/runner.h"
#include "etcdmon/testing/etcd_cluster.h"

namespace {

using etcdmon::benchmark::BenchmarkReport;
using etcdmon::benchmark::BenchmarkRunner;
using etcdmon::benchmark::BenchmarkSpec;
using etcdmon::benchmark::WorkloadType;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// The pids of processes whose command line mentions `needle` (the cluster's directory).
std::vector<int> FindPids(const std::string& needle) {
  std::vector<int> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return pids;
  }
  while (dirent* entry = readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) {
      continue;
    }
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos && cmdline.rfind("/usr/bin/etcd", 0) == 0) {
      pids.push_back(pid);
    }
  }
  closedir(proc);
  return pids;
}

// utime + stime of `pid`, in seconds (fields 14 and 15 of /proc/<pid>/stat).
double PidCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) {
      ticks += std::atof(field.c_str());
    }
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double EtcdCpuSeconds(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    total += PidCpuSeconds(pid);
  }
  return total;
}

std::string FlagValue(int argc, char** argv, const std::string& name, const std::string& def) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0) {
      return std::string(argv[i]).substr(prefix.size());
    }
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = std::atoi(FlagValue(argc, argv, "seconds", "8").c_str());
  const uint32_t conns =
      static_cast<uint32_t>(std::atoi(FlagValue(argc, argv, "conns", "4").c_str()));
  const std::string type = FlagValue(argc, argv, "type", "write");

  etcdmon::testing::EtcdClusterOptions options;
  options.members = 3;
  // Production-like raft timing: the tests' fast elections are not what is measured here.
  options.heartbeat_interval_ms = 100;
  options.election_timeout_ms = 1000;
  etcdmon::testing::EtcdCluster cluster(options);
  etcdmon::Status started = cluster.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "cannot start etcd: %s\n", started.ToString().c_str());
    return 1;
  }
  const std::vector<int> etcd_pids = FindPids(cluster.Dir());
  std::printf("cluster: 3 members, etcd pids found: %zu, %u cores, %d s per step, %s\n",
              etcd_pids.size(), std::thread::hardware_concurrency(), seconds, type.c_str());
  std::printf("%8s %6s %12s %10s %10s %12s %12s %10s %8s\n", "clients", "conns", "ops/s", "p50_ms",
              "p99_ms", "runner_cpu_s", "etcd_cpu_s", "runner_%", "errors");
  for (uint32_t clients : {1u, 16u, 64u, 256u}) {
    BenchmarkSpec spec;
    spec.type = type == "read"    ? WorkloadType::kRead
                : type == "mixed" ? WorkloadType::kMixed
                                  : WorkloadType::kWrite;
    spec.duration = std::chrono::seconds(seconds);
    spec.clients = clients;
    spec.conns = std::min(clients, conns);
    spec.prefix = "/sweep/";
    auto runner = BenchmarkRunner::Create(cluster.ConnectionConfig(), spec);
    if (!runner.ok()) {
      std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
      return 1;
    }
    const double runner_before = ProcessCpuSeconds();
    const double etcd_before = EtcdCpuSeconds(etcd_pids);
    etcdmon::Result<BenchmarkReport> report = (*runner)->Run();
    const double runner_cpu = ProcessCpuSeconds() - runner_before;
    const double etcd_cpu = EtcdCpuSeconds(etcd_pids) - etcd_before;
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
      return 1;
    }
    const double total = runner_cpu + etcd_cpu;
    std::printf("%8u %6u %12.0f %10.3f %10.3f %12.2f %12.2f %9.1f%% %8llu\n", clients, spec.conns,
                report->ops_per_second, report->percentiles[2].count() / 1e6,
                report->percentiles[6].count() / 1e6, runner_cpu, etcd_cpu,
                total > 0 ? 100.0 * runner_cpu / total : 0.0,
                static_cast<unsigned long long>(report->failed));
    std::fflush(stdout);
  }
  return 0;
}
