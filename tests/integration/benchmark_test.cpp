// The benchmark runner against real etcd processes: a 3-member cluster shared by the suite
// (the member-stop test runs last and restarts the member), and a 1-member cluster with auth.

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "etcdmon/benchmark/runner.h"
#include "etcdmon/cli/benchmark_command.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/temp_dir.h"

// LeakSanitizer (ETCDMON_SANITIZE builds): c-ares, gRPC's DNS resolver, keeps a small
// allocation from resolving "localhost" for the life of the process. It is not ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcares.so\n"; }

namespace etcdmon::benchmark {
namespace {

using testing::EtcdCluster;
using testing::EtcdClusterOptions;

// Three members shared by the suite.
class BenchmarkRunnerTest : public testing::EtcdClusterSuite<BenchmarkRunnerTest> {
 protected:
  void SetUp() override {
    EtcdClusterSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    auto client = etcd::NewEtcdClient(cluster().ConnectionConfig());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }

  // Keys under `prefix`, counted by member 0.
  int64_t CountKeys(const std::string& prefix) {
    etcd::RangeRequest request;
    request.key = prefix;
    request.range_end = etcd::PrefixRangeEnd(prefix);
    request.count_only = true;
    Result<etcd::RangeResult> r = client_->Range(cluster().ClientEndpoint(0), request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->count : -1;
  }

  static BenchmarkSpec SmallSpec() {
    BenchmarkSpec spec;
    spec.clients = 8;
    spec.conns = 3;
    spec.key_space = 1000;
    spec.value_size = 64;
    spec.prefix = "/bench-test/";
    return spec;
  }

  static Result<BenchmarkReport> RunSpec(const BenchmarkSpec& spec,
                                         const ProgressCallback& progress = nullptr) {
    auto runner = BenchmarkRunner::Create(cluster().ConnectionConfig(), spec);
    if (!runner.ok()) {
      return runner.status();
    }
    return (*runner)->Run(progress);
  }

  std::unique_ptr<etcd::EtcdClient> client_;
};

// N writes are N successful Puts of N distinct keys; with --keep they stay, all under the
// run's prefix; without, the run deletes them.
TEST_F(BenchmarkRunnerTest, WriteCountsAreExactAndKeysAreCleanedUp) {
  BenchmarkSpec spec = SmallSpec();
  spec.ops = 500;
  spec.keep = true;
  Result<BenchmarkReport> kept = RunSpec(spec);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->ops, 500u);
  EXPECT_EQ(kept->succeeded, 500u);
  EXPECT_EQ(kept->writes, 500u);
  EXPECT_EQ(kept->reads, 0u);
  EXPECT_EQ(kept->failed, 0u);
  EXPECT_FALSE(kept->keys_deleted);
  EXPECT_EQ(kept->endpoints.size(), 3u);
  uint64_t per_second_total = 0;
  for (uint64_t n : kept->per_second) {
    per_second_total += n;
  }
  EXPECT_EQ(per_second_total, 500u);
  EXPECT_GT(kept->min.count(), 0);
  EXPECT_LE(kept->min, kept->percentiles[0]);
  EXPECT_LE(kept->percentiles[kReportedPercentileCount - 1], kept->max);
  EXPECT_EQ(CountKeys(kept->key_prefix), 500);
  EXPECT_EQ(kept->key_prefix.rfind("/bench-test/", 0), 0u) << kept->key_prefix;

  spec.keep = false;
  Result<BenchmarkReport> cleaned = RunSpec(spec);
  ASSERT_TRUE(cleaned.ok()) << cleaned.status().ToString();
  EXPECT_EQ(cleaned->writes, 500u);
  EXPECT_TRUE(cleaned->keys_deleted);
  EXPECT_NE(cleaned->key_prefix, kept->key_prefix);
  EXPECT_EQ(CountKeys(cleaned->key_prefix), 0);
  // The kept run's keys are not touched by the other run's cleanup.
  EXPECT_EQ(CountKeys(kept->key_prefix), 500);
  EXPECT_EQ(CountKeys("/bench-test/"), 500);
  etcd::DeleteRangeRequest del;
  del.key = "/bench-test/";
  del.range_end = etcd::PrefixRangeEnd(del.key);
  ASSERT_TRUE(client_->DeleteRange(cluster().ClientEndpoint(0), del).ok());
}

// A read run writes the key space first, then reads only; everything is deleted afterwards.
TEST_F(BenchmarkRunnerTest, ReadPopulatesKeySpaceFirst) {
  BenchmarkSpec spec = SmallSpec();
  spec.type = WorkloadType::kRead;
  spec.ops = 300;
  spec.key_space = 200;
  spec.consistency = Consistency::kSerializable;
  Result<BenchmarkReport> report = RunSpec(spec);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->keys_populated, 200u);
  EXPECT_EQ(report->reads, 300u);
  EXPECT_EQ(report->writes, 0u);
  EXPECT_EQ(report->failed, 0u);
  EXPECT_TRUE(report->keys_deleted);
  EXPECT_EQ(CountKeys(report->key_prefix), 0);
}

// Mixed is exactly 70% reads and 30% writes.
TEST_F(BenchmarkRunnerTest, MixedIsSeventyThirty) {
  BenchmarkSpec spec = SmallSpec();
  spec.type = WorkloadType::kMixed;
  spec.ops = 1000;
  Result<BenchmarkReport> report = RunSpec(spec);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->reads, 700u);
  EXPECT_EQ(report->writes, 300u);
  EXPECT_EQ(CountKeys(report->key_prefix), 0);
}

// --target=leader sends everything to the leader; a rate cap still does exactly N ops.
TEST_F(BenchmarkRunnerTest, LeaderTargetWithRateCap) {
  BenchmarkSpec spec = SmallSpec();
  spec.target = TargetKind::kLeader;
  spec.ops = 100;
  spec.rate = 200;
  Result<BenchmarkReport> report = RunSpec(spec);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->endpoints.size(), 1u);
  Result<etcd::EndpointStatus> status = client_->GetStatus(report->endpoints[0]);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->leader, status->member_id) << report->endpoints[0] << " is not the leader";
  EXPECT_EQ(report->writes, 100u);
  EXPECT_EQ(report->rate_limit, 200u);
}

// Cancel() from another thread ends a duration run early, with a partial report and cleanup.
TEST_F(BenchmarkRunnerTest, CancelEndsDurationRun) {
  BenchmarkSpec spec = SmallSpec();
  spec.duration = std::chrono::minutes(5);
  spec.rate = 500;
  auto runner = BenchmarkRunner::Create(cluster().ConnectionConfig(), spec);
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  std::atomic<uint64_t> done{0};
  Result<BenchmarkReport> report = Status::Internal("not run");
  std::thread run([&] {
    report = (*runner)->Run([&](const Progress& p) {
      if (p.phase == Progress::Phase::kRunning) {
        done = p.ops_done;
      }
    });
  });
  EXPECT_TRUE(testing::WaitFor([&] { return done.load() >= 100; }));
  (*runner)->Cancel();
  run.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->cancelled);
  EXPECT_GE(report->succeeded, 100u);
  EXPECT_TRUE(report->keys_deleted);
  EXPECT_EQ(CountKeys(report->key_prefix), 0);
}

// The `benchmark` subcommand end to end: flags in, JSON report out, exit code 0.
TEST_F(BenchmarkRunnerTest, CommandPrintsJson) {
  CLI::App app{"test"};
  cli::BenchmarkCommand command(app);
  const std::string endpoints =
      "--endpoints=" + cluster().ClientEndpoint(0) + "," + cluster().ClientEndpoint(1);
  const char* argv[] = {"etcd-monitor", "benchmark", endpoints.c_str(),
                        "--type=write", "--ops=200", "--clients=4",
                        "--conns=2",    "-o",        "json"};
  std::ostringstream out, err;
  Status parse_error;
  ASSERT_EQ(config::detail::ParseArgs(app, 9, argv, out, err, &parse_error),
            config::detail::ParseStep::kRun);
  ASSERT_TRUE(command.Build().ok());
  EXPECT_EQ(command.Run(out, err), 0) << err.str();
  const auto json = nlohmann::json::parse(out.str());
  EXPECT_EQ(json["ops"], 200);
  EXPECT_EQ(json["writes"], 200);
  EXPECT_EQ(json["keys_deleted"], true);
  EXPECT_EQ(json["endpoints"].size(), 2u);
}

// A member stopped mid-run: its requests fail and are counted by code; the op count stays
// exact (every operation either succeeded or failed). Runs last: it restarts the member.
TEST_F(BenchmarkRunnerTest, ZzMemberStoppedMidRunCountsErrors) {
  BenchmarkSpec spec = SmallSpec();
  spec.clients = 6;
  spec.conns = 3;
  spec.ops = 1500;
  spec.rate = 300;
  std::atomic<uint64_t> done{0};
  Result<BenchmarkReport> report = Status::Internal("not run");
  std::thread run([&] {
    report = RunSpec(spec, [&](const Progress& p) {
      if (p.phase == Progress::Phase::kRunning) {
        done = p.ops_done;
      }
    });
  });
  EXPECT_TRUE(testing::WaitFor([&] { return done.load() >= 300; }));
  Status stopped = cluster().Stop(2);
  run.join();
  ASSERT_TRUE(stopped.ok()) << stopped.ToString();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->ops, 1500u);
  EXPECT_EQ(report->succeeded + report->failed, 1500u);
  EXPECT_GT(report->failed, 0u);
  ASSERT_FALSE(report->errors.empty());
  EXPECT_EQ(report->errors[0].code, "unavailable") << report->errors[0].example;
  EXPECT_TRUE(report->keys_deleted) << report->cleanup_error;
  EXPECT_TRUE(cluster().Restart(2).ok());
}

// With etcd auth on, the runner authenticates and sends the token with every request; a
// wrong password fails the run before any load, and the password is not in the message.
TEST(BenchmarkAuthTest, AuthenticatesWithUserAndPassword) {
  EtcdClusterOptions options;
  options.members = 1;
  EtcdCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  ASSERT_TRUE(cluster.EnableAuth("s3cret-pw").ok());
  config::EtcdConnectionConfig connection = cluster.ConnectionConfig();
  connection.username = "root";
  connection.password = config::Secret("s3cret-pw");
  BenchmarkSpec spec;
  spec.ops = 100;
  spec.clients = 4;
  spec.conns = 2;
  auto runner = BenchmarkRunner::Create(connection, spec);
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  Result<BenchmarkReport> report = (*runner)->Run();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->writes, 100u);
  EXPECT_EQ(report->failed, 0u);
  EXPECT_TRUE(report->keys_deleted);

  connection.password = config::Secret("wrong-pw");
  auto bad = BenchmarkRunner::Create(connection, spec);
  ASSERT_TRUE(bad.ok());
  Result<BenchmarkReport> refused = (*bad)->Run();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("wrong-pw"), std::string::npos);
}

}  // namespace
}  // namespace etcdmon::benchmark
