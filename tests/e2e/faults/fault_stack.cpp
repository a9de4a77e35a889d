#include "fault_stack.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"

namespace etcdmon::testing {

const char kFaultRules[] = R"(rules:
  MemberUnavailable: {for: 2s}
  CollectorStale: {for: 2s}
  MonitorStorageFailing: {for: 2s}
)";

namespace {

using namespace std::chrono_literals;

std::string Interval(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

int64_t ParseRfc3339Ms(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

FaultStack::FaultStack(FaultStackOptions options) : options_(std::move(options)) {
  data_dir_ = options_.data_dir.empty() ? dir_.File("data") : options_.data_dir;
  cluster_ = std::make_unique<EtcdCluster>(options_.cluster);
}

FaultStack::~FaultStack() {
  // A paused member would keep its collector's request (and the teardown) waiting.
  for (size_t i = 0; i < cluster_->size(); ++i) {
    (void)cluster_->Resume(i);
  }
  for (Child& c : collectors_) (void)KillChild(c, SIGKILL);
  (void)KillChild(gateway_, SIGKILL);
  (void)KillChild(alerter_, SIGKILL);
  (void)KillChild(aggregator_, SIGKILL);
  (void)KillChild(all_in_one_, SIGKILL);
  webhook_.Stop();
  cluster_.reset();
}

Status FaultStack::Start() {
  ETCDMON_RETURN_IF_ERROR(cluster_->Start());
  webhook_.Set("/hook",
               CannedResponse{CannedResponse::Action::kRespond, 200, "application/json", "{}"});
  ETCDMON_RETURN_IF_ERROR(webhook_.Start());
  rules_file_ = dir_.File("rules.yaml");
  std::ofstream(rules_file_) << options_.rules;
  std::error_code ec;
  std::filesystem::create_directories(data_dir_, ec);
  auto ports = PickFreeLoopbackPorts(5);
  ETCDMON_RETURN_IF_ERROR(ports.status());
  api_port_ = (*ports)[0];
  ingest_port_ = (*ports)[1];
  publish_port_ = (*ports)[2];
  aggregator_grpc_port_ = (*ports)[3];
  alerter_grpc_port_ = (*ports)[4];
  collectors_.resize(cluster_->size());
  ETCDMON_RETURN_IF_ERROR(StartMonitor());
  nlohmann::json status;
  const bool healthy = Poll(
      [&] {
        status = GetJson("/api/v1/cluster/status");
        return status.is_object() &&
               status.value("healthy_members", 0) == static_cast<int>(cluster_->size()) &&
               status.value("has_leader", false);
      },
      60s);
  if (!healthy) {
    return Status::DeadlineExceeded(
        "the monitor did not report every member healthy: " + status.dump() + "\n" + Logs());
  }
  // A settled start: what the first seconds raised (a member whose collector has not sampled it
  // yet is "never sampled", and CollectorStale's `for` is short here) is resolved, at the
  // webhook too; scenarios see only the notifications that come after.
  nlohmann::json alerts;
  const bool settled = Poll(
      [&] {
        alerts = GetJson("/api/v1/alerts");
        if (!alerts.is_object() || !alerts["alerts"].is_array() || !alerts["alerts"].empty()) {
          return false;
        }
        std::map<std::string, std::string> last_kind;  // fingerprint -> kind
        for (const Notification& n : Notifications()) last_kind[n.fingerprint] = n.kind;
        for (const auto& [fingerprint, kind] : last_kind) {
          if (kind != "resolved") return false;
        }
        return true;
      },
      60s);
  if (!settled) {
    return Status::DeadlineExceeded("alerts still open after the start: " + alerts.dump() + "\n" +
                                    Describe(Notifications()));
  }
  baseline_ = webhook_.requests().size();
  return Status::Ok();
}

std::string FaultStack::EndpointsFlag() const {
  std::string endpoints;
  for (size_t i = 0; i < cluster_->size(); ++i) {
    endpoints += (i ? "," : "") + cluster_->ClientEndpoint(i);
  }
  return "--endpoints=" + endpoints;
}

Status FaultStack::SpawnChild(Child& child, const std::vector<std::string>& argv) {
  if (child.pid > 0) {
    return Status::FailedPrecondition(argv[0] + " runs already");
  }
  auto pid = Spawn(argv, child.log);
  ETCDMON_RETURN_IF_ERROR(pid.status());
  child.pid = *pid;
  return Status::Ok();
}

Status FaultStack::KillChild(Child& child, int signal) {
  if (child.pid <= 0) {
    return Status::Ok();
  }
  ::kill(child.pid, signal);
  Result<int> exited = WaitForExit(child.pid, 20s);
  if (!exited.ok()) {
    ::kill(child.pid, SIGKILL);
    exited = WaitForExit(child.pid, 10s);
  }
  child.pid = -1;
  return exited.status();
}

Status FaultStack::StartMonitor() {
  const std::string interval = Interval(options_.interval);
  if (!options_.distributed) {
    all_in_one_.log = dir_.File("etcd-monitor.log");
    std::vector<std::string> argv = {ETCDMON_BINARY,
                                     EndpointsFlag(),
                                     "--api-host=127.0.0.1",
                                     "--api-port=" + std::to_string(api_port_),
                                     "--data-dir=" + data_dir_,
                                     "--metrics-interval=" + interval,
                                     "--health-check-interval=" + interval,
                                     "--dial-timeout=1s",
                                     "--rules-file=" + rules_file_,
                                     "--webhook-url=" + webhook_.Url("/hook")};
    argv.insert(argv.end(), options_.monitor_args.begin(), options_.monitor_args.end());
    return SpawnChild(all_in_one_, argv);
  }
  ETCDMON_RETURN_IF_ERROR(StartAggregator());
  alerter_.log = dir_.File("alerter.log");
  std::vector<std::string> alerter = {
      ETCDMON_ALERTER_BINARY,
      "--snapshots=tcp://127.0.0.1:" + std::to_string(publish_port_),
      "--grpc-listen=127.0.0.1:" + std::to_string(alerter_grpc_port_),
      "--db=" + data_dir_ + "/alerts.db",
      "--rules-file=" + rules_file_,
      "--webhook-url=" + webhook_.Url("/hook")};
  alerter.insert(alerter.end(), options_.monitor_args.begin(), options_.monitor_args.end());
  ETCDMON_RETURN_IF_ERROR(SpawnChild(alerter_, alerter));
  gateway_.log = dir_.File("gateway.log");
  ETCDMON_RETURN_IF_ERROR(SpawnChild(
      gateway_,
      {ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1", "--api-port=" + std::to_string(api_port_),
       "--aggregator=127.0.0.1:" + std::to_string(aggregator_grpc_port_),
       "--alerter=127.0.0.1:" + std::to_string(alerter_grpc_port_),
       "--snapshots=tcp://127.0.0.1:" + std::to_string(publish_port_)}));
  for (size_t i = 0; i < cluster_->size(); ++i) {
    ETCDMON_RETURN_IF_ERROR(StartCollector(i));
  }
  return Status::Ok();
}

Status FaultStack::KillMonitor() {
  if (!options_.distributed) {
    return KillChild(all_in_one_, SIGKILL);
  }
  for (Child& c : collectors_) ETCDMON_RETURN_IF_ERROR(KillChild(c, SIGKILL));
  ETCDMON_RETURN_IF_ERROR(KillChild(gateway_, SIGKILL));
  ETCDMON_RETURN_IF_ERROR(KillChild(alerter_, SIGKILL));
  return KillChild(aggregator_, SIGKILL);
}

Status FaultStack::StartAggregator() {
  aggregator_.log = dir_.File("aggregator.log");
  return SpawnChild(
      aggregator_,
      {ETCDMON_AGGREGATOR_BINARY, "--listen=tcp://127.0.0.1:" + std::to_string(ingest_port_),
       "--publish=tcp://127.0.0.1:" + std::to_string(publish_port_),
       "--grpc-listen=127.0.0.1:" + std::to_string(aggregator_grpc_port_), "--db=" + HistoryDb(),
       "--metrics-interval=" + Interval(options_.interval),
       "--tick=" + Interval(options_.interval)});
}

Status FaultStack::KillAggregator() { return KillChild(aggregator_, SIGKILL); }

std::string FaultStack::CollectorId(size_t i) const { return "collector-" + cluster_->Name(i); }

std::string FaultStack::CollectorLog(size_t i) const {
  return dir_.File("collector-" + cluster_->Name(i) + ".log");
}

Status FaultStack::StartCollector(size_t i) {
  Child& c = collectors_.at(i);
  c.log = CollectorLog(i);
  const std::string interval = Interval(options_.interval);
  return SpawnChild(c, {ETCDMON_COLLECTOR_BINARY, "--endpoints=" + cluster_->ClientEndpoint(i),
                        "--member-name=" + cluster_->Name(i), "--collector-id=" + CollectorId(i),
                        "--aggregator=tcp://127.0.0.1:" + std::to_string(ingest_port_),
                        "--metrics-interval=" + interval, "--health-check-interval=" + interval,
                        "--dial-timeout=1s", "--data-dir=" + cluster_->DataDir(i),
                        "--state-file=" + dir_.File("collector-" + cluster_->Name(i) + ".seq")});
}

Status FaultStack::KillCollector(size_t i) { return KillChild(collectors_.at(i), SIGKILL); }

Status FaultStack::StopCollector(size_t i) { return KillChild(collectors_.at(i), SIGTERM); }

std::string FaultStack::HistoryDb() const { return data_dir_ + "/history.db"; }

std::string FaultStack::Logs() const {
  std::string out;
  for (const Child* c : {&all_in_one_, &aggregator_, &alerter_, &gateway_}) {
    if (!c->log.empty()) {
      out += "--- " + c->log + "\n" + TailOfFile(c->log, 25);
    }
  }
  return out;
}

std::string FaultStack::ApiUrl(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(api_port_) + path;
}

nlohmann::json FaultStack::GetJson(const std::string& path, long* status) const {
  const HttpResult r = Http("GET", ApiUrl(path));
  if (status) *status = r.status;
  return r.Json();
}

nlohmann::json FaultStack::Member(const std::string& name) const {
  const nlohmann::json members = GetJson("/api/v1/cluster/members");
  if (!members.is_object() || !members["members"].is_array()) return nullptr;
  for (const nlohmann::json& m : members["members"]) {
    if (m.value("name", "") == name) return m;
  }
  return nullptr;
}

nlohmann::json FaultStack::Alert(const std::string& rule, const std::string& member) const {
  const nlohmann::json alerts = GetJson("/api/v1/alerts");
  if (!alerts.is_object() || !alerts["alerts"].is_array()) return nullptr;
  for (const nlohmann::json& a : alerts["alerts"]) {
    if (a.value("rule", "") == rule && a.value("member", "") == member) return a;
  }
  return nullptr;
}

bool FaultStack::WaitForAlertState(const std::string& rule, const std::string& member,
                                   const std::string& state,
                                   std::chrono::milliseconds timeout) const {
  return Poll(
      [&] {
        const nlohmann::json a = Alert(rule, member);
        if (state == "absent") return a.is_null();
        return a.is_object() && a.value("state", "") == state;
      },
      timeout);
}

std::vector<Notification> FaultStack::Notifications() const {
  return WebhookNotificationsIn(webhook_.requests(), baseline_);
}

bool FaultStack::Has(const std::vector<Notification>& got, const std::string& kind,
                     const std::string& alert, const std::string& member) {
  return HasNotification(got, kind, alert, member);
}

bool FaultStack::WaitForNotification(const std::string& kind, const std::string& alert,
                                     const std::string& member,
                                     std::chrono::milliseconds timeout) const {
  return Poll([&] { return Has(Notifications(), kind, alert, member); }, timeout);
}

std::string FaultStack::Describe(const std::vector<Notification>& got) {
  return DescribeNotifications(got);
}

std::string FaultStack::CriticalFirings() const {
  std::vector<Notification> critical;
  for (const Notification& n : Notifications()) {
    if (n.severity == "critical" && n.kind != "resolved") critical.push_back(n);
  }
  return critical.empty() ? "" : Describe(critical);
}

}  // namespace etcdmon::testing
