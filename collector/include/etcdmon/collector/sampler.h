#pragma once

// The collector's sampling of one etcd member: everything the member, its /metrics page and its
// host can tell, gathered into one etcdmonitor.v1.MemberSample per interval.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/collector/certificate_probe.h"
#include "etcdmon/collector/data_dir_discovery.h"
#include "etcdmon/collector/host_probe.h"
#include "etcdmon/collector/metrics_source.h"
#include "etcdmon/config/types.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/promtext/parser.h"
#include "etcdmon/status/status.h"

namespace etcdmonitor::v1 {
class MemberSample;
class MemberStatus;
class HostStats;
class CertificateInfo;
}  // namespace etcdmonitor::v1

namespace etcdmon::collector {

namespace detail {
class DeadlineRunner;  // collector/src/deadline_runner.h
}  // namespace detail

/// The reserved key prefix of the active probes. Each member's write probe keeps one key,
/// "<prefix><member name>", so probing never grows the keyspace.
inline constexpr std::string_view kDefaultProbePrefix = "/etcd-monitor/probe/";

/// What one sampler samples, and how. Plain data, validated by Sampler::Create.
struct SamplerConfig {
  /// The member's client endpoint as configured. Its Authority() must be one of the
  /// EtcdClient's Endpoints(): every gRPC call goes there.
  config::Endpoint endpoint;
  /// Whether the client port speaks TLS (EtcdConnectionConfig::UsesTls(endpoint)): the
  /// default URLs then use https.
  bool tls = false;
  /// The member's name; empty: learned from MemberList. A name given here wins.
  std::string member_name;
  /// The member's Prometheus page (--metrics-url); empty: "<scheme>://<host:port>/metrics".
  std::string metrics_url;
  /// The member's health page; empty: the metrics URL's "<scheme>://<host:port>" + "/health",
  /// since etcd serves both on the same listener (client URL or --listen-metrics-urls).
  std::string health_url;
  /// The timed Put (--write-probe). The two read probes always run.
  bool write_probe = true;
  /// Must end with '/'. Probe keys are "<probe_prefix><member name>".
  std::string probe_prefix{kDefaultProbePrefix};
  /// The member's data dir (--data-dir) for disk usage; empty: discovered, or no disk figures.
  std::string data_dir;
  /// Without `data_dir`, when the endpoint's host is this machine (IsLocalHost): find the data
  /// dir of the etcd process serving the endpoint (DataDirDiscovery), on the first Collect()
  /// and then on each full pass while it is unknown.
  bool discover_data_dir = true;
  /// Where procfs is mounted, for the discovery (tests give a fake tree).
  std::string proc_root = "/proc";
  /// Ends host.disk_unknown_reason: how the user can make disk usage known. Empty:
  /// "give --data-dir" (the agent's own flag).
  std::string data_dir_hint;
  /// Reads the certificate the member serves on full passes; needs a TLS endpoint.
  bool read_certificate = false;
  /// Deadline of the linearizable read and write probes; 0: the client's request timeout.
  /// Both wait on the leader, so when it has just died (before the member notices) each would
  /// hold the sample for the whole deadline.
  std::chrono::milliseconds probe_timeout{0};
  /// How long Collect() waits for the member in all: whatever has not answered by then is a
  /// "timed out" error in the sample (Status: reachable=false), and Collect() returns. 0: no
  /// limit but the calls' own timeouts.
  std::chrono::milliseconds round_timeout{0};
  /// The write probe's Put is judged at `probe_timeout`, but its request is left to etcd for
  /// this long: longer than etcd's own request timeout (5 s + 2 election timeouts), so that a
  /// slow proposal is ended by etcd, not cancelled by the collector, and
  /// etcd_server_proposals_failed_total never counts the probe's own impatience.
  std::chrono::milliseconds write_request_timeout{std::chrono::seconds(30)};
};

/// The sources a sample is made from; a failed source becomes a SampleError named by
/// ErrorSourceName().
enum class ErrorSource {
  kStatus,             // Maintenance.Status
  kAlarms,             // Maintenance.Alarm (GET)
  kProbeSerializable,  // timed serializable Range
  kProbeLinearizable,  // timed linearizable Range
  kProbeWrite,         // timed Put
  kMetrics,            // the /metrics page: fetch, size cap, malformed lines or families
  kHealth,             // the /health page
  kMemberList,         // Cluster.MemberList
  kCertificate,        // the certificate the member serves
  kHost,               // disk and memory of the host
};
inline constexpr std::size_t kErrorSourceCount = 10;

/// "status", "alarms", "probe_serializable", "probe_linearizable", "probe_write", "metrics",
/// "health", "member_list", "certificate", "host".
std::string_view ErrorSourceName(ErrorSource source);

/// Counters over the sampler's life, for the collector's own metrics.
struct SamplerStats {
  uint64_t samples_total = 0;      // Collect() calls
  uint64_t unreachable_total = 0;  // samples with reachable=false
  /// Per ErrorSource (indexed by its value): samples in which that source failed.
  std::array<uint64_t, kErrorSourceCount> errors_by_source{};
  /// Malformed lines found in /metrics pages (each also makes a "metrics" error).
  uint64_t metrics_line_errors_total = 0;

  uint64_t errors(ErrorSource source) const {
    return errors_by_source[static_cast<std::size_t>(source)];
  }
};

/// Samples one etcd member.
///
/// Calls to the member run on three worker threads ("lanes"), each with at most one call
/// outstanding; Collect() waits for each within the round's deadline (round_timeout). Status has
/// the status lane to itself, so that only the member's own silence can time it out; the
/// member lane carries the rest of what the member answers by itself (MemberList, the
/// serializable read, /metrics, the certificate); the cluster lane what waits on the leader or
/// on raft (the linearizable read, the write probe, Alarm, /health), so that a hung leader never
/// delays the sample that shows this member's own state. A call that has not answered by the
/// deadline is a "timed out" error and is left to finish on its lane (the clients' own timeouts
/// end it); the lane's next call waits for it within its own round's deadline, so slow calls
/// never pile up.
/// Status timing out means unreachable, as any DeadlineExceeded does.
///
/// Each Collect() makes: one Maintenance.Status; unless that found the member unreachable,
/// three timed probes (a serializable and a linearizable Range of the member's probe key, and a
/// Put of it); one GET of /metrics, parsed once, of which only the families the collector ships
/// are kept (FamilyNames()); and the host's memory and disk (statvfs, /proc/meminfo). A full
/// pass (the health-check interval) adds Cluster.MemberList, a GET of /health and, when
/// configured, the served certificate.
/// process_open_fds from the page becomes host.open_fds (-1 when absent).
/// Maintenance.Alarm (GET) runs on full passes, and on any pass whose Status lists errors or
/// failed (etcd >= 3.4 lists active alarms there; otherwise there is no alarm). etcd serves an
/// Alarm GET through raft, as a log entry fsynced on every member, so asking on every interval
/// would add a write per member per interval to the cluster; so does its /health (a v2 QGET),
/// which is why that too waits for the full pass.
///
/// Failure semantics:
///  - Status failing with Unavailable or DeadlineExceeded means the member is unreachable: the
///    sample has reachable=false and `error` set, and the other gRPC calls are skipped (they
///    would only wait out the same timeouts). /metrics, /health and the host are still read:
///    a member whose gRPC is down may still serve its pages.
///  - Any other failed source leaves what the others got, plus one SampleError naming the
///    source (at most one per source; several problems of one source are joined with "; ").
///  - A family absent from /metrics is absent from the sample, never a zero. Malformed lines,
///    an oversized page (only its first 16 MiB are parsed), a histogram series without a +Inf
///    bucket or with repeated bounds: the rest of the page is still used, and the problem is a
///    "metrics" error and counted.
///  - A learner serves only serializable reads, so for a learner (as Status says) the
///    linearizable and write probes are skipped, without error.
///
/// Disk usage is that of the file system holding the data dir: SamplerConfig::data_dir, else
/// the one discovered from /proc for a member on this host (checked on full passes to still be
/// the same process, and discovered again once it is not, or once statvfs fails on it). When
/// it is unknown, or statvfs fails, host.disk_unknown_reason says why and what to do.
///
/// Identity: member_id comes from Status (or MemberList's header when Status failed), the name
/// from MemberList, looked up by id. Both are remembered, so an unreachable member's samples
/// still carry them; MemberList runs on every full pass, and on any pass while the name is
/// unknown. A configured member_name wins. The write probe needs the name: until it is known
/// the Put is skipped with a "probe_write" error.
///
/// Cost: the sample, the page body and the parse result are reused, so in steady state (the
/// same series on every page) Collect() makes no heap allocation of its own; what the etcd
/// client and HTTP library allocate inside their calls is theirs.
///
/// Single-threaded: one thread calls Collect() and stats(). The injected dependencies must
/// outlive the sampler, and are called from its lanes. The destructor waits for the calls still
/// running on the lanes: whoever owns the clients must make them return first (the collector
/// cancels its requests).
class Sampler final {
 public:
  /// Validates `config`: the endpoint is one of `etcd`'s, the probe prefix is non-empty and
  /// ends with '/', URLs (given or derived) are http(s), read_certificate only with TLS.
  /// Errors: InvalidArgument naming the field.
  static Result<std::unique_ptr<Sampler>> Create(SamplerConfig config, etcd::EtcdClient& etcd,
                                                 MetricsSource& metrics, HostProbe& host,
                                                 CertificateProbe& certificate, Clock& clock);

  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  Sampler(Sampler&&) = delete;
  Sampler& operator=(Sampler&&) = delete;

  /// Samples the member into `out`, which is cleared first; passing the same message on every
  /// call reuses its storage. `full`: this is a health-check interval (see the class comment).
  /// Never fails: every failure is recorded in the sample. `out` must not live on an arena.
  void Collect(bool full, etcdmonitor::v1::MemberSample& out);

  const SamplerStats& stats() const { return stats_; }

  /// The member's probe key, "<prefix><name>"; empty while the name is unknown.
  const std::string& probe_key() const { return probe_key_; }
  const std::string& metrics_url() const { return config_.metrics_url; }
  /// The data dir whose file system the disk figures describe: the configured or discovered
  /// one; empty while unknown (disk_unknown_reason() then says why).
  const std::string& data_dir() const { return data_dir_; }
  /// Why there are no disk figures; empty when the last sample had them.
  const std::string& disk_unknown_reason() const { return disk_unknown_reason_; }
  const std::string& health_url() const { return config_.health_url; }

  /// The /metrics families a sample keeps (the rest of a page, ~2000 series, is not shipped).
  static const std::vector<std::string_view>& FamilyNames();

 private:
  Sampler(SamplerConfig config, etcd::EtcdClient& etcd, MetricsSource& metrics, HostProbe& host,
          CertificateProbe& certificate, Clock& clock);

  // One worker thread and what it last ran; see the class comment.
  struct Lane {
    std::unique_ptr<detail::DeadlineRunner> runner;
    std::string_view last_call;  // method name of the call it last started; sampling thread
  };

  // Runs `call` on `lane`, waiting until `deadline` at most. OK when it returned; otherwise
  // the DeadlineExceeded that stands for its answer ("endpoint ...: <method>: timed out: ...").
  Status Ask(Lane& lane, std::string_view method, const std::function<void()>& call,
             std::chrono::steady_clock::time_point deadline);
  void MakeCalls();  // fills the std::function members below

  bool CollectStatus(etcdmonitor::v1::MemberSample& out);
  void CollectMembers(etcdmonitor::v1::MemberSample& out);
  void CollectAlarms(etcdmonitor::v1::MemberSample& out);
  void CollectSerializableProbe(etcdmonitor::v1::MemberSample& out);
  void CollectLeaderProbes(bool learner, bool no_leader, etcdmonitor::v1::MemberSample& out);
  // Runs the probe `call` (whose answer lands in `answer`, its duration in `took`) and adds it
  // to `out` as a probe of `kind` (an etcdmonitor.v1.Probe.Kind); returns its status.
  Status TimedProbe(int kind, Lane& lane, std::string_view method,
                    const std::function<void()>& call, const Status& answer,
                    const std::chrono::steady_clock::duration& took,
                    std::chrono::steady_clock::time_point deadline,
                    etcdmonitor::v1::MemberSample& out);
  void CollectMetrics(etcdmonitor::v1::MemberSample& out);
  void CollectHealth(etcdmonitor::v1::MemberSample& out);
  void CollectHost(bool full, etcdmonitor::v1::MemberSample& out);
  void LocateDataDir(bool full);
  void CollectCertificate(etcdmonitor::v1::MemberSample& out);
  void SetMemberName(const std::string& name);
  void AddError(ErrorSource source, std::string_view message, etcdmonitor::v1::MemberSample& out);

  const SamplerConfig config_;   // URLs filled in by Create
  const std::string authority_;  // config_.endpoint.Authority()
  etcd::EtcdClient& etcd_;
  MetricsSource& metrics_;
  HostProbe& host_;
  CertificateProbe& certificate_;
  Clock& clock_;

  std::string member_name_;  // known name; config_.member_name when given
  uint64_t member_id_ = 0;   // last known; 0 until Status or MemberList answered
  std::string probe_key_;    // probe_prefix + member_name_ once the name is known

  // Disk usage: the data dir measured (config_.data_dir, or discovered), else the reason.
  const DataDirDiscovery discovery_;
  std::optional<DiscoveredDataDir> discovered_;
  bool discovery_tried_ = false;  // a first attempt was made (later ones: full passes only)
  std::string data_dir_;
  std::string disk_unknown_reason_;

  std::chrono::steady_clock::time_point round_deadline_;  // of the Collect() in progress

  // The calls to the member, run on the lanes; made once by the constructor. Each writes only
  // its own answer below, which the sampling thread reads once the call returned in time
  // (Ask() OK: the lane is then idle). The inputs they read are const, atomic, or guarded.
  std::function<void()> ask_status_, ask_members_, ask_alarms_, read_serializable_,
      read_linearizable_, write_probe_, fetch_metrics_, fetch_health_, read_certificate_;
  std::optional<Result<etcd::EndpointStatus>> status_answer_;
  std::optional<Result<etcd::MemberListResult>> members_answer_;
  std::optional<Result<std::vector<etcd::Alarm>>> alarms_answer_;
  Status serializable_answer_, linearizable_answer_, write_answer_;
  std::chrono::steady_clock::duration serializable_took_{}, linearizable_took_{}, write_took_{};
  std::optional<Result<int>> metrics_answer_, health_answer_;
  std::optional<Result<ServedCertificate>> certificate_answer_;
  // The linearizable read's client deadline: the probe timeout, or less when the round ends
  // sooner. Written by the sampling thread before the call, read by the cluster lane.
  std::atomic<int64_t> linearizable_timeout_ms_{0};
  // The probe key as the calls read it (probe_key_ belongs to the sampling thread).
  mutable std::mutex key_mu_;
  std::string call_probe_key_;  // guarded by key_mu_

  // Reused across calls (steady state allocates nothing); touched only by the lanes' calls.
  etcd::RangeRequest serializable_request_;
  etcd::RangeRequest linearizable_request_;
  etcd::PutRequest put_request_;
  std::string body_;         // the /metrics page; the sampling thread parses it (lane idle)
  std::string health_body_;  // the /health page; likewise
  promtext::ParseResult page_;
  std::vector<uint8_t> series_flags_;  // scratch of the histogram extraction
  // Singular submessages of the last sample, kept across Clear() (which deletes them).
  std::unique_ptr<etcdmonitor::v1::MemberStatus> spare_status_;
  std::unique_ptr<etcdmonitor::v1::HostStats> spare_host_;
  std::unique_ptr<etcdmonitor::v1::CertificateInfo> spare_certificate_;

  SamplerStats stats_;

  // Last: destroyed (joined) first, while everything their calls touch still exists.
  Lane status_lane_;
  Lane member_lane_;
  Lane cluster_lane_;
};

}  // namespace etcdmon::collector
