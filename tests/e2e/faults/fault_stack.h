#pragma once

// The fixture of the fault suite (tests/e2e/faults/, label `faults`): a real etcd cluster, the
// real monitor binaries on it with short intervals and shortened rule durations, and a webhook
// receiver collecting the notifications; helpers that wait, bounded, for what the monitor says
// through its REST API and for what reaches the webhook.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "etcdmon/status/status.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/testing/webhook_notifications.h"

namespace etcdmon::testing {

/// WaitFor() at a 200 ms period (REST calls: a tighter loop would load the 2 cores the cluster
/// needs).
template <typename Condition>
bool Poll(Condition condition, std::chrono::milliseconds timeout) {
  return WaitFor(std::move(condition), timeout, std::chrono::milliseconds(200));
}

/// Checks `invariant` every 200 ms for all of `duration` (an observation window, e.g. "no
/// critical notification while the election settles"); returns false at its first failure.
template <typename Invariant>
bool HoldsFor(Invariant invariant, std::chrono::milliseconds duration) {
  const auto end = std::chrono::steady_clock::now() + duration;
  do {
    if (!invariant()) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < end);
  return invariant();
}

/// Milliseconds since the epoch of an RFC 3339 UTC time as the gateway writes it
/// ("2026-01-02T03:04:05.678Z"); 0 when it is not one.
int64_t ParseRfc3339Ms(const std::string& text);

/// The rules file every scenario runs with unless it gives its own: MemberUnavailable and
/// CollectorStale after 2 s instead of a minute; every other rule keeps its designed `for`
/// (NoLeader and QuorumLost 10 s: an election must not page anyone; the latency and resource
/// warnings 5 m: a restart's slow first requests are no alert).
extern const char kFaultRules[];

struct FaultStackOptions {
  EtcdClusterOptions cluster;
  /// false: the all-in-one `etcd-monitor`; true: aggregator, alerter, gateway and one collector
  /// per member, each a process of its own.
  bool distributed = false;
  /// The content of the rules file (YAML).
  std::string rules = kFaultRules;
  /// The monitor's data dir (all-in-one) or the aggregator's and alerter's databases' dir;
  /// empty: a directory under the stack's temporary one.
  std::string data_dir;
  /// Collection interval (and the aggregator's tick).
  std::chrono::milliseconds interval{1000};
  /// Appended to the all-in-one's (or the alerter's) command line.
  std::vector<std::string> monitor_args;
};

using Notification = WebhookNotification;

/// Owns the cluster, the monitor's processes, the webhook receiver and a temporary directory.
/// Every process is a child of the thread that calls Start() (the test's main thread) and dies
/// with it; the destructor resumes paused members, then stops everything.
class FaultStack {
 public:
  explicit FaultStack(FaultStackOptions options = {});
  ~FaultStack();
  FaultStack(const FaultStack&) = delete;
  FaultStack& operator=(const FaultStack&) = delete;

  /// Starts the cluster, the receiver and the monitor, then waits (bounded) until the REST API
  /// reports every member healthy with a leader and no alert is open (what the start itself
  /// raised is resolved, at the webhook too).
  Status Start();

  EtcdCluster& cluster() { return *cluster_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& data_dir() const { return data_dir_; }
  const FaultStackOptions& options() const { return options_; }

  // --- The monitor's processes -----------------------------------------------------------
  /// The all-in-one (or, distributed, every service). Ports and data stay across restarts.
  Status StartMonitor();
  /// SIGKILL of the all-in-one; distributed: of every service.
  Status KillMonitor();
  Status StartAggregator();
  Status KillAggregator();
  Status StartCollector(size_t i);
  Status KillCollector(size_t i);
  /// SIGTERM to collector `i`; its log then holds the final `collector_stopped` line.
  Status StopCollector(size_t i);
  std::string CollectorId(size_t i) const;
  std::string CollectorLog(size_t i) const;
  /// The history database (all-in-one: under the data dir).
  std::string HistoryDb() const;
  /// The tails of the monitor's logs, for failure messages.
  std::string Logs() const;

  // --- REST ------------------------------------------------------------------------------
  std::string ApiUrl(const std::string& path) const;
  /// GET `path` as JSON (any status; a discarded value when not JSON); `status` gets the code.
  nlohmann::json GetJson(const std::string& path, long* status = nullptr) const;
  /// The member named `name` in /api/v1/cluster/members; null when absent.
  nlohmann::json Member(const std::string& name) const;
  /// Waits until /api/v1/cluster/members shows member `name` for which `condition` holds.
  template <typename Condition>
  bool WaitForMember(const std::string& name, Condition condition,
                     std::chrono::milliseconds timeout, nlohmann::json* last = nullptr) const {
    nlohmann::json m;
    const bool ok = Poll(
        [&] {
          m = Member(name);
          return m.is_object() && condition(m);
        },
        timeout);
    if (last) *last = m;
    return ok;
  }
  /// The alert `rule` about `member` ("" = cluster-wide) in /api/v1/alerts; null when absent.
  nlohmann::json Alert(const std::string& rule, const std::string& member) const;
  /// Waits until that alert is in `state` (pending, firing); "absent" waits for it to be gone.
  bool WaitForAlertState(const std::string& rule, const std::string& member,
                         const std::string& state, std::chrono::milliseconds timeout) const;

  // --- The webhook -----------------------------------------------------------------------
  /// The notifications received since Start() returned, in arrival order.
  std::vector<Notification> Notifications() const;
  /// Waits until a notification of `kind` for `alert` about `member` ("*": any) arrived.
  bool WaitForNotification(const std::string& kind, const std::string& alert,
                           const std::string& member, std::chrono::milliseconds timeout) const;
  static bool Has(const std::vector<Notification>& got, const std::string& kind,
                  const std::string& alert, const std::string& member = "*");
  static std::string Describe(const std::vector<Notification>& got);
  /// Every critical firing notification received, described; empty when none.
  std::string CriticalFirings() const;

 private:
  struct Child {
    pid_t pid = -1;
    std::string log;
  };
  Status SpawnChild(Child& child, const std::vector<std::string>& argv);
  static Status KillChild(Child& child, int signal);
  std::string EndpointsFlag() const;

  FaultStackOptions options_;
  TempDir dir_;
  std::string data_dir_;
  std::unique_ptr<EtcdCluster> cluster_;
  HttpServer webhook_;
  std::string rules_file_;
  uint16_t api_port_ = 0;
  // Distributed shape only.
  uint16_t ingest_port_ = 0;
  uint16_t publish_port_ = 0;
  uint16_t aggregator_grpc_port_ = 0;
  uint16_t alerter_grpc_port_ = 0;
  Child all_in_one_;
  Child aggregator_;
  Child alerter_;
  Child gateway_;
  std::vector<Child> collectors_;
  size_t baseline_ = 0;  // webhook requests received before Start() returned; set once
};

}  // namespace etcdmon::testing
