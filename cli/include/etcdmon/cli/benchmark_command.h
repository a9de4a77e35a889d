#pragma once

// `etcd-monitor benchmark ...` and the quickstart's `etcd-monitor --run-benchmark`: the command
// line side of the benchmark runner.

#include <memory>
#include <ostream>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace etcdmon::cli {

/// The `benchmark` subcommand and its flags. Register it before parsing; after parsing, when
/// parsed() is true, call Build() then Run().
class BenchmarkCommand {
 public:
  /// Adds the `benchmark` subcommand to `parent`, which must outlive this object.
  explicit BenchmarkCommand(CLI::App& parent);
  ~BenchmarkCommand();
  BenchmarkCommand(const BenchmarkCommand&) = delete;
  BenchmarkCommand& operator=(const BenchmarkCommand&) = delete;

  /// True when the command line named the subcommand.
  bool parsed() const;

  /// Checks every flag; every problem one line each, as InvalidArgument.
  Status Build();

  /// Runs the benchmark Build() configured and prints the report. Returns the exit code:
  /// 0 done (or PASS), 1 failed (or FAIL), kExitUsage for what only shows at run time.
  int Run(std::ostream& out, std::ostream& err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The quickstart's one-shot benchmark: `etcd-monitor --endpoints=... --run-benchmark
/// --benchmark-type=write|read|mixed --benchmark-ops=N`. Returns the exit code.
int RunQuickstartBenchmark(const config::EtcdConnectionConfig& etcd, const config::LogConfig& log,
                           const config::BenchmarkConfig& run, std::ostream& out,
                           std::ostream& err);

}  // namespace etcdmon::cli
