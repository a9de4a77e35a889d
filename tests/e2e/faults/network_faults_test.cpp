// Slow peer traffic: the whole scenario runs in a network namespace of this test's process (its
// own loopback), where `tc netem` delays only the packets to and from the members' peer ports.
// Raft round trips grow, so every write and linearizable read waits for them: the monitor
// reports the raised latency and RequestLatencyDegraded fires, then resolves once the delay is
// gone.

#include <errno.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "etcdmon/testing/process.h"
#include "fault_stack.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::FaultStack;
using testing::FaultStackOptions;
using testing::Poll;

constexpr int kDelayMs = 150;       // each way: a raft round trip takes 300 ms more
constexpr int kMaxLatencyMs = 200;  // --max-latency-ms: RequestLatencyDegraded's threshold

Result<std::string> RunNet(const testing::TempDir& dir, const std::vector<std::string>& argv) {
  return testing::RunCommand(argv, dir.File("net.log"), 30s);
}

// Moves this process into a network namespace of its own with its loopback up and checks that
// `tc qdisc ... netem` works there; the reason when it does not.
std::string PrivateNetworkWithNetem(const testing::TempDir& dir) {
  if (::unshare(CLONE_NEWNET) != 0) {
    return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) + " (needs CAP_SYS_ADMIN)";
  }
  Result<std::string> up = RunNet(dir, {"/usr/sbin/ip", "link", "set", "lo", "up"});
  if (!up.ok()) return "ip link set lo up: " + up.status().message();
  Result<std::string> probe =
      RunNet(dir, {"/usr/sbin/tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"});
  if (!probe.ok()) {
    return "tc netem is unavailable (the kernel has no sch_netem, or tc is missing): " +
           probe.status().message();
  }
  Result<std::string> del = RunNet(dir, {"/usr/sbin/tc", "qdisc", "del", "dev", "lo", "root"});
  if (!del.ok()) return "tc qdisc del: " + del.status().message();
  return "";
}

// Delays the traffic of every member's peer port (both directions) by kDelayMs: a prio qdisc
// whose third band holds the netem, and u32 filters sending peer packets to it.
Status DelayPeers(const testing::TempDir& dir, testing::EtcdCluster& cluster) {
  const std::string tc = "/usr/sbin/tc";
  std::vector<std::vector<std::string>> commands = {
      {tc, "qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio"},
      {tc, "qdisc", "add", "dev", "lo", "parent", "1:3", "handle", "30:", "netem", "delay",
       std::to_string(kDelayMs) + "ms"}};
  for (size_t i = 0; i < cluster.size(); ++i) {
    const std::string url = cluster.PeerUrl(i);
    const std::string port = url.substr(url.rfind(':') + 1);
    for (const char* direction : {"dport", "sport"}) {
      commands.push_back({tc, "filter", "add", "dev", "lo", "protocol", "ip", "parent", "1:0",
                          "prio", "1", "u32", "match", "ip", direction, port, "0xffff", "flowid",
                          "1:3"});
    }
  }
  for (const auto& argv : commands) {
    Result<std::string> r = RunNet(dir, argv);
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

TEST(FaultsTest, SlowPeerTrafficRaisesLatencyAlert) {
  testing::TempDir dir;
  const std::string reason = PrivateNetworkWithNetem(dir);
  if (!reason.empty()) {
    GTEST_SKIP() << "cannot delay peer traffic here: " << reason;
  }
  FaultStackOptions options;
  options.monitor_args = {"--max-latency-ms=" + std::to_string(kMaxLatencyMs)};
  options.rules = std::string(testing::kFaultRules) + "  RequestLatencyDegraded: {for: 2s}\n";
  FaultStack stack(options);
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const std::string name = stack.cluster().Name(0);

  ASSERT_TRUE(DelayPeers(dir, stack.cluster()).ok())
      << testing::TailOfFile(dir.File("net.log"), 20);
  nlohmann::json member;
  EXPECT_TRUE(stack.WaitForMember(
      name,
      [](const nlohmann::json& m) {
        return m["write_latency"].is_object() &&
               m["write_latency"].value("p99_ms", 0.0) > 2 * kDelayMs;
      },
      60s, &member))
      << member.dump();
  EXPECT_TRUE(stack.WaitForNotification("firing", "RequestLatencyDegraded", "*", 60s))
      << FaultStack::Describe(stack.Notifications()) << stack.Logs();

  ASSERT_TRUE(RunNet(dir, {"/usr/sbin/tc", "qdisc", "del", "dev", "lo", "root"}).ok());
  EXPECT_TRUE(stack.WaitForNotification("resolved", "RequestLatencyDegraded", "*", 150s))
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(stack.CriticalFirings(), "");
}

}  // namespace
}  // namespace etcdmon
