#include "etcdmon/cli/benchmark_command.h"

#include <CLI/CLI.hpp>

namespace etcdmon::cli {

// Placeholder until the benchmark runner lands: the subcommand exists and says so.
struct BenchmarkCommand::Impl {
  CLI::App* app = nullptr;
};

BenchmarkCommand::BenchmarkCommand(CLI::App& parent) : impl_(std::make_unique<Impl>()) {
  impl_->app = parent.add_subcommand("benchmark", "Measure an etcd cluster's throughput and latency");
  impl_->app->allow_extras();
}

BenchmarkCommand::~BenchmarkCommand() = default;

bool BenchmarkCommand::parsed() const { return impl_->app->parsed(); }

Status BenchmarkCommand::Build() { return Status::Ok(); }

int BenchmarkCommand::Run(std::ostream&, std::ostream& err) {
  err << "error: the benchmark runner is not available in this build yet\n";
  return 1;
}

int RunQuickstartBenchmark(const config::MonitorConfig&, std::ostream&, std::ostream& err) {
  err << "error: the benchmark runner is not available in this build yet\n";
  return 1;
}

}  // namespace etcdmon::cli
