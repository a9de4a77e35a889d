#include "etcdmon/collector/sampler.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

#include "deadline_runner.h"
#include "etcdmon/etcd/errors.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "metric_families.h"

namespace etcdmon::collector {
namespace {

namespace v1 = etcdmonitor::v1;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// A page body or parse result that grew past this (an oversized or hostile page) is released
// after use instead of being kept for the next interval. Real pages are well below it.
constexpr std::size_t kMaxRetainedPageBytes = 8u << 20;

// How much of an unparsable /health body an error message quotes.
constexpr std::size_t kMaxQuotedBytes = 120;

// etcd's /health page is a few dozen bytes; anything much larger is not its verdict, and is not
// handed to the JSON parser.
constexpr std::size_t kMaxHealthBodyBytes = 64u << 10;

// Without a round timeout Collect() waits for the calls' own timeouts; this only keeps the
// deadline arithmetic away from time_point::max().
constexpr std::chrono::hours kNoRoundDeadline{24};

constexpr std::string_view kErrorSourceNames[kErrorSourceCount] = {
    "status",  "alarms", "probe_serializable", "probe_linearizable", "probe_write",
    "metrics", "health", "member_list",        "certificate",        "host",
};

bool IsUnreachable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded;
}

std::string_view ErrorText(const Status& status) {
  return status.message().empty() ? StatusCodeName(status.code())
                                  : std::string_view(status.message());
}

// Etcd's alarm names (etcdserverpb.AlarmType).
std::string_view AlarmName(etcd::AlarmType type) {
  switch (type) {
    case etcd::AlarmType::kNone:
      return "NONE";
    case etcd::AlarmType::kNoSpace:
      return "NOSPACE";
    case etcd::AlarmType::kCorrupt:
      return "CORRUPT";
  }
  return "UNKNOWN";
}

// Moves the submessage kept in `spare` (or a new one) into `out` through `attach`, cleared.
template <typename M, typename Attach>
M* Reattach(std::unique_ptr<M>& spare, Attach attach) {
  M* message = spare ? spare.release() : new M();
  message->Clear();
  attach(message);
  return message;
}

// Verdict and reason of a /health body, etcd's {"health":"true"} or
// {"health":"false","reason":"..."} (a JSON boolean verdict is accepted too); false when it is
// not etcd's health JSON. A body over kMaxHealthBodyBytes is not parsed: it is no verdict.
bool ParseHealth(std::string_view body, bool& healthy, std::string& reason) {
  if (body.size() > kMaxHealthBodyBytes) {
    return false;
  }
  const nlohmann::json doc = nlohmann::json::parse(body.begin(), body.end(), /*cb=*/nullptr,
                                                   /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return false;  // also a body that is not JSON (parse() returned a discarded value)
  }
  const auto health = doc.find("health");
  if (health == doc.end()) {
    return false;
  }
  if (health->is_boolean()) {
    healthy = health->get<bool>();
  } else if (health->is_string() && (*health == "true" || *health == "false")) {
    healthy = *health == "true";
  } else {
    return false;
  }
  const auto why = doc.find("reason");
  if (why != doc.end() && why->is_string()) {
    reason = why->get_ref<const std::string&>();
  }
  return true;
}

// "<scheme>://<authority>" of an http(s) URL; empty when it is not one.
std::string_view UrlBase(std::string_view url) {
  std::size_t authority;
  if (url.substr(0, 7) == "http://") {
    authority = 7;
  } else if (url.substr(0, 8) == "https://") {
    authority = 8;
  } else {
    return {};
  }
  const std::size_t end = url.find_first_of("/?#", authority);
  if ((end == std::string_view::npos ? url.size() : end) == authority) {
    return {};  // no host
  }
  return url.substr(0, end);
}

}  // namespace

std::string_view ErrorSourceName(ErrorSource source) {
  const auto index = static_cast<std::size_t>(source);
  return index < kErrorSourceCount ? kErrorSourceNames[index] : "unknown";
}

const std::vector<std::string_view>& Sampler::FamilyNames() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (const detail::FamilySpec& spec : detail::ShippedFamilies()) {
      names.push_back(spec.name);
    }
    names.push_back("process_open_fds");  // into host.open_fds
    return names;
  }();
  return kNames;
}

Result<std::unique_ptr<Sampler>> Sampler::Create(SamplerConfig config, etcd::EtcdClient& etcd,
                                                 MetricsSource& metrics, HostProbe& host,
                                                 CertificateProbe& certificate, Clock& clock) {
  if (config.endpoint.host.empty() || config.endpoint.port == 0) {
    return Status::InvalidArgument("sampler: endpoint needs a host and a port");
  }
  const std::string authority = config.endpoint.Authority();
  bool known = false;
  for (const std::string& e : etcd.Endpoints()) {
    known = known || e == authority;
  }
  if (!known) {
    return Status::InvalidArgument("sampler: endpoint " + authority +
                                   " is not one of the etcd client's endpoints");
  }
  if (config.probe_prefix.empty() || config.probe_prefix.back() != '/') {
    return Status::InvalidArgument("sampler: probe prefix \"" + config.probe_prefix +
                                   "\" must be non-empty and end with '/'");
  }
  if (config.metrics_url.empty()) {
    config.metrics_url =
        std::string(config.tls ? "https" : "http") + "://" + authority + "/metrics";
  }
  const std::string_view metrics_base = UrlBase(config.metrics_url);
  if (metrics_base.empty()) {
    return Status::InvalidArgument("sampler: metrics URL \"" + config.metrics_url +
                                   "\" is not an http:// or https:// URL");
  }
  if (config.health_url.empty()) {
    config.health_url = std::string(metrics_base) + "/health";
  }
  if (UrlBase(config.health_url).empty()) {
    return Status::InvalidArgument("sampler: health URL \"" + config.health_url +
                                   "\" is not an http:// or https:// URL");
  }
  if (config.read_certificate && !config.tls) {
    return Status::InvalidArgument("sampler: reading the certificate of " + authority +
                                   " needs a TLS endpoint");
  }
  return std::unique_ptr<Sampler>(
      new Sampler(std::move(config), etcd, metrics, host, certificate, clock));
}

Sampler::Sampler(SamplerConfig config, etcd::EtcdClient& etcd, MetricsSource& metrics,
                 HostProbe& host, CertificateProbe& certificate, Clock& clock)
    : config_(std::move(config)),
      authority_(config_.endpoint.Authority()),
      etcd_(etcd),
      metrics_(metrics),
      host_(host),
      certificate_(certificate),
      clock_(clock),
      discovery_(config_.proc_root),
      data_dir_(config_.data_dir) {
  if (!config_.member_name.empty()) {
    SetMemberName(config_.member_name);
  }
  serializable_request_.limit = 1;
  serializable_request_.serializable = true;
  serializable_request_.timeout = config_.probe_timeout;
  linearizable_request_.limit = 1;
  linearizable_request_.serializable = false;
  put_request_.timeout = std::max(config_.write_request_timeout, config_.probe_timeout);
  MakeCalls();
  status_lane_.runner = std::make_unique<detail::DeadlineRunner>(clock_);
  member_lane_.runner = std::make_unique<detail::DeadlineRunner>(clock_);
  cluster_lane_.runner = std::make_unique<detail::DeadlineRunner>(clock_);
}

Sampler::~Sampler() = default;

void Sampler::MakeCalls() {
  // Before the name is known, the reads go to the bare prefix: still a one-key lookup.
  auto probe_key = [this](std::string& key) {
    std::lock_guard<std::mutex> lock(key_mu_);
    key.assign(call_probe_key_.empty() ? config_.probe_prefix : call_probe_key_);
  };
  ask_status_ = [this] { status_answer_ = etcd_.GetStatus(authority_); };
  ask_members_ = [this] { members_answer_ = etcd_.MemberList(authority_); };
  ask_alarms_ = [this] {
    alarms_answer_ = etcd_.Alarms(authority_, etcd::AlarmAction::kGet, etcd::Alarm{});
  };
  read_serializable_ = [this, probe_key] {
    probe_key(serializable_request_.key);
    const auto start = clock_.SteadyNow();
    serializable_answer_ = etcd_.Range(authority_, serializable_request_).status();
    serializable_took_ = clock_.SteadyNow() - start;
  };
  read_linearizable_ = [this, probe_key] {
    probe_key(linearizable_request_.key);
    linearizable_request_.timeout = milliseconds(linearizable_timeout_ms_.load());
    const auto start = clock_.SteadyNow();
    linearizable_answer_ = etcd_.Range(authority_, linearizable_request_).status();
    linearizable_took_ = clock_.SteadyNow() - start;
  };
  write_probe_ = [this, probe_key] {
    probe_key(put_request_.key);
    const auto start = clock_.SteadyNow();
    char digits[24];
    const int64_t now_ms = duration_cast<milliseconds>(clock_.Now().time_since_epoch()).count();
    const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), now_ms);
    put_request_.value.assign(digits, ec == std::errc() ? end : digits);
    write_answer_ = etcd_.Put(authority_, put_request_).status();
    write_took_ = clock_.SteadyNow() - start;
  };
  fetch_metrics_ = [this] { metrics_answer_ = metrics_.Fetch(config_.metrics_url, body_); };
  fetch_health_ = [this] { health_answer_ = metrics_.Fetch(config_.health_url, health_body_); };
  read_certificate_ = [this] {
    certificate_answer_ = certificate_.Read(config_.endpoint.host, config_.endpoint.port);
  };
}

Status Sampler::Ask(Lane& lane, std::string_view method, const std::function<void()>& call,
                    std::chrono::steady_clock::time_point deadline) {
  const std::string_view busy_with = lane.last_call;
  const auto busy_for = lane.runner->BusyFor();
  const auto started = clock_.SteadyNow();
  switch (lane.runner->Run(call, deadline)) {
    case detail::DeadlineRunner::Outcome::kReturned:
      lane.last_call = method;
      return Status::Ok();
    case detail::DeadlineRunner::Outcome::kAbandoned:
      lane.last_call = method;
      return Status::DeadlineExceeded(
          "endpoint " + authority_ + ": " + std::string(method) + ": timed out: no answer after " +
          etcd::FormatDuration(duration_cast<milliseconds>(clock_.SteadyNow() - started)));
    case detail::DeadlineRunner::Outcome::kNotStarted:
      break;
  }
  const auto waited = duration_cast<milliseconds>(busy_for + (clock_.SteadyNow() - started));
  return Status::DeadlineExceeded("endpoint " + authority_ + ": " + std::string(method) +
                                  ": timed out: not sent, an earlier " + std::string(busy_with) +
                                  " has had no answer for " + etcd::FormatDuration(waited));
}

void Sampler::Collect(bool full, v1::MemberSample& out) {
  assert(out.GetArena() == nullptr && "Collect() takes ownership of released submessages");
  // Clear() deletes singular submessages; keep them so that their storage is reused.
  if (out.has_status()) {
    spare_status_.reset(out.release_status());
  }
  if (out.has_host()) {
    spare_host_.reset(out.release_host());
  }
  if (out.has_certificate()) {
    spare_certificate_.reset(out.release_certificate());
  }
  out.Clear();
  ++stats_.samples_total;

  out.mutable_endpoint()->assign(authority_);
  const auto now = clock_.Now();
  round_deadline_ =
      clock_.SteadyNow() + (config_.round_timeout.count() > 0
                                ? std::chrono::steady_clock::duration(config_.round_timeout)
                                : std::chrono::steady_clock::duration(kNoRoundDeadline));
  out.set_collected_at_unix_ms(duration_cast<milliseconds>(now.time_since_epoch()).count());
  out.set_full(full);
  Reattach(spare_host_, [&](v1::HostStats* m) { out.set_allocated_host(m); })->set_open_fds(-1);

  // First what the member answers by itself (the member lane), then what waits on the leader
  // (the cluster lane): a hung leader then costs only the calls that need it.
  const bool reachable = CollectStatus(out);
  out.set_reachable(reachable);
  bool learner = false;
  bool no_leader = false;
  if (reachable) {
    if (full || member_name_.empty()) {
      CollectMembers(out);
    }
    learner = out.has_status() && out.status().is_learner();
    no_leader = out.has_status() && out.status().leader_id() == 0;
    CollectSerializableProbe(out);
  } else {
    ++stats_.unreachable_total;
    // "Unreachable" is known only once the dial timeout (or the round) has passed: stamp the
    // sample with that moment, or a member that is down would look like a silent collector
    // (its sample would be that old on arrival, which at short intervals is "stale").
    out.set_collected_at_unix_ms(
        duration_cast<milliseconds>(clock_.Now().time_since_epoch()).count());
  }
  CollectMetrics(out);
  CollectHost(full, out);
  if (full && config_.read_certificate && reachable) {
    CollectCertificate(out);
  }
  if (reachable) {
    CollectLeaderProbes(learner, no_leader, out);
    // An Alarm GET is a raft proposal in etcd (a log entry fsynced on every member), so it is
    // made only when it can tell something: Status lists active alarms among its errors. A
    // member without a leader cannot commit it: the call would only wait out its deadline and
    // hold back the sample that says "no leader" (the alarms stay as last known).
    if ((full || !out.has_status() || out.status().errors_size() > 0) && !no_leader) {
      CollectAlarms(out);
    }
  }
  if (full) {
    CollectHealth(out);
  }
  out.set_member_id(member_id_);
  out.mutable_member_name()->assign(member_name_);
}

bool Sampler::CollectStatus(v1::MemberSample& out) {
  // Status has a lane of its own: only the member's own silence can make it time out, never a
  // slow page or probe left over from an earlier round.
  Status asked = Ask(status_lane_, "Status", ask_status_, round_deadline_);
  const Status error = !asked.ok()             ? std::move(asked)
                       : !status_answer_->ok() ? status_answer_->status()
                                               : Status::Ok();
  if (!error.ok()) {
    const std::string_view text = ErrorText(error);
    AddError(ErrorSource::kStatus, text, out);
    if (IsUnreachable(error.code())) {
      out.mutable_error()->assign(text.data(), text.size());
      return false;
    }
    return true;  // it answered, with an error
  }
  const etcd::EndpointStatus& status = **status_answer_;
  v1::MemberStatus* s =
      Reattach(spare_status_, [&](v1::MemberStatus* m) { out.set_allocated_status(m); });
  s->mutable_version()->assign(status.version);
  s->set_cluster_id(status.cluster_id);
  s->set_member_id(status.member_id);
  s->set_leader_id(status.leader);
  s->set_raft_term(status.raft_term);
  s->set_raft_index(status.raft_index);
  s->set_raft_applied_index(status.raft_applied_index);
  s->set_db_size(status.db_size);
  s->set_db_size_in_use(status.db_size_in_use);
  s->set_is_learner(status.is_learner);
  s->set_revision(status.revision);
  for (const std::string& e : status.errors) {
    s->add_errors()->assign(e);
  }
  if (status.member_id != 0) {
    member_id_ = status.member_id;
  }
  return true;
}

void Sampler::CollectMembers(v1::MemberSample& out) {
  const Status asked = Ask(member_lane_, "MemberList", ask_members_, round_deadline_);
  if (!asked.ok()) {
    AddError(ErrorSource::kMemberList, ErrorText(asked), out);
    return;
  }
  const Result<etcd::MemberListResult>& list = *members_answer_;
  if (!list.ok()) {
    AddError(ErrorSource::kMemberList, ErrorText(list.status()), out);
    return;
  }
  if (member_id_ == 0) {
    member_id_ = list->header.member_id;  // the member that answered: ours
  }
  for (const etcd::Member& m : list->members) {
    v1::MemberInfo* info = out.add_members();
    info->set_id(m.id);
    info->mutable_name()->assign(m.name);
    for (const std::string& url : m.peer_urls) {
      info->add_peer_urls()->assign(url);
    }
    for (const std::string& url : m.client_urls) {
      info->add_client_urls()->assign(url);
    }
    info->set_is_learner(m.is_learner);
    if (m.id == member_id_ && !m.name.empty() && config_.member_name.empty()) {
      SetMemberName(m.name);
    }
  }
}

void Sampler::CollectAlarms(v1::MemberSample& out) {
  const Status asked = Ask(cluster_lane_, "Alarm", ask_alarms_, round_deadline_);
  if (!asked.ok()) {
    AddError(ErrorSource::kAlarms, ErrorText(asked), out);
    return;
  }
  const Result<std::vector<etcd::Alarm>>& alarms = *alarms_answer_;
  if (!alarms.ok()) {
    AddError(ErrorSource::kAlarms, ErrorText(alarms.status()), out);
    return;
  }
  for (const etcd::Alarm& a : *alarms) {
    if (a.type == etcd::AlarmType::kNone) {
      continue;
    }
    v1::Alarm* alarm = out.add_alarms();
    alarm->set_member_id(a.member_id);
    const std::string_view name = AlarmName(a.type);
    alarm->mutable_type()->assign(name.data(), name.size());
  }
}

Status Sampler::TimedProbe(int kind, Lane& lane, std::string_view method,
                           const std::function<void()>& call, const Status& answer,
                           const std::chrono::steady_clock::duration& took,
                           std::chrono::steady_clock::time_point deadline, v1::MemberSample& out) {
  v1::Probe& probe = *out.add_probes();
  probe.set_kind(static_cast<v1::Probe::Kind>(kind));
  const auto start = clock_.SteadyNow();
  Status status = Ask(lane, method, call, deadline);
  // The call's own measure when it returned; else how long the sample waited for it.
  const auto elapsed = status.ok() ? took : clock_.SteadyNow() - start;
  if (status.ok()) {
    status = answer;
    // Judged on the call's own measure, which the hand-over to the lane does not count in.
    if (status.ok() && config_.probe_timeout.count() > 0 && took > config_.probe_timeout) {
      status = Status::DeadlineExceeded(
          "endpoint " + authority_ + ": " + std::string(method) + ": timed out: answered after " +
          etcd::FormatDuration(duration_cast<milliseconds>(took)) + ", over the probe timeout " +
          etcd::FormatDuration(config_.probe_timeout));
    }
  }
  probe.set_latency_us(static_cast<uint64_t>(duration_cast<microseconds>(elapsed).count()));
  probe.set_ok(status.ok());
  if (!status.ok()) {
    const std::string_view text = ErrorText(status);
    probe.mutable_error()->assign(text.data(), text.size());
  }
  return status;
}

void Sampler::CollectSerializableProbe(v1::MemberSample& out) {
  const Status read =
      TimedProbe(v1::Probe::SERIALIZABLE_READ, member_lane_, "Range", read_serializable_,
                 serializable_answer_, serializable_took_, round_deadline_, out);
  if (!read.ok()) {
    AddError(ErrorSource::kProbeSerializable, ErrorText(read), out);
  }
}

void Sampler::CollectLeaderProbes(bool learner, bool no_leader, v1::MemberSample& out) {
  if (learner) {
    return;  // learners refuse linearizable reads and writes
  }
  if (no_leader) {
    // Without a leader a linearizable read or a write waits until its deadline and fails.
    // Skipping them sends the sample that says "no leader" at once instead of two request
    // timeouts later (at the defaults, 10 s sooner), and spares a struggling member the load.
    AddError(ErrorSource::kProbeLinearizable, "skipped: the member has no leader", out);
    if (config_.write_probe) {
      AddError(ErrorSource::kProbeWrite, "skipped: the member has no leader", out);
    }
    return;
  }
  // A probe is judged at its timeout on its own measure (TimedProbe). The wait for it allows
  // twice that, so that handing the call to its lane (a thread wake-up, slow on a busy host) is
  // not what fails it, and never lasts past the round's end.
  auto probe_deadline = [this] {
    if (config_.probe_timeout.count() <= 0) {
      return round_deadline_;
    }
    return std::min(round_deadline_, clock_.SteadyNow() + 2 * config_.probe_timeout);
  };
  auto deadline = probe_deadline();
  // A read is no proposal: its client deadline may end it when the probe is judged.
  const int64_t round_left_ms = std::max<int64_t>(
      duration_cast<milliseconds>(round_deadline_ - clock_.SteadyNow()).count(), 1);
  linearizable_timeout_ms_.store(
      config_.probe_timeout.count() > 0
          ? std::min<int64_t>(config_.probe_timeout.count(), round_left_ms)
          : (config_.round_timeout.count() > 0 ? round_left_ms : 0));
  const Status read =
      TimedProbe(v1::Probe::LINEARIZABLE_READ, cluster_lane_, "Range", read_linearizable_,
                 linearizable_answer_, linearizable_took_, deadline, out);
  if (!read.ok()) {
    AddError(ErrorSource::kProbeLinearizable, ErrorText(read), out);
  }

  if (!config_.write_probe) {
    return;
  }
  if (probe_key_.empty()) {
    AddError(ErrorSource::kProbeWrite, "member name not known yet; write probe skipped", out);
    return;
  }
  // The Put is judged at the probe deadline, but its request keeps write_request_timeout:
  // cancelling a proposal in flight makes etcd count it in etcd_server_proposals_failed_total,
  // and the probe must not move the signal it is there to check.
  deadline = probe_deadline();
  const Status write = TimedProbe(v1::Probe::WRITE, cluster_lane_, "Put", write_probe_,
                                  write_answer_, write_took_, deadline, out);
  if (!write.ok()) {
    AddError(ErrorSource::kProbeWrite, ErrorText(write), out);
  }
}

void Sampler::CollectMetrics(v1::MemberSample& out) {
  std::string problems;  // stays empty, and unallocated, on a good page
  const Status asked = Ask(member_lane_, "GET /metrics", fetch_metrics_, round_deadline_);
  if (!asked.ok()) {
    AddError(ErrorSource::kMetrics, ErrorText(asked), out);
    return;  // the page may still be being written: not ours to touch
  }
  const Result<int>& code = *metrics_answer_;
  if (!code.ok()) {
    AddError(ErrorSource::kMetrics, ErrorText(code.status()), out);
  } else if (*code != 200) {
    problems = "GET " + config_.metrics_url + ": HTTP status " + std::to_string(*code);
  } else {
    const Status parsed = promtext::Parse(body_, page_);
    if (!parsed.ok()) {
      problems = parsed.message();  // oversized: only the first part was parsed
    }
    const std::size_t bad_lines = page_.errors().size() + page_.dropped_errors();
    if (bad_lines > 0) {
      stats_.metrics_line_errors_total += bad_lines;
      if (!problems.empty()) {
        problems += "; ";
      }
      problems += std::to_string(bad_lines) + " malformed line(s)";
      if (!page_.errors().empty()) {
        const promtext::LineError& first = page_.errors().front();
        problems += ", first: line " + std::to_string(first.line) + ": " + first.reason;
      }
    }
    int64_t open_fds = -1;
    detail::ExtractFamilies(page_, out, series_flags_, open_fds, problems);
    out.mutable_host()->set_open_fds(open_fds);
  }
  if (!problems.empty()) {
    AddError(ErrorSource::kMetrics, problems, out);
  }
  if (body_.capacity() > kMaxRetainedPageBytes) {
    std::string().swap(body_);
    page_ = promtext::ParseResult();
  }
}

void Sampler::CollectHealth(v1::MemberSample& out) {
  // etcd answers /health with a quorum read through raft: it waits on the leader.
  const Status asked = Ask(cluster_lane_, "GET /health", fetch_health_, round_deadline_);
  if (!asked.ok()) {
    AddError(ErrorSource::kHealth, ErrorText(asked), out);
    return;
  }
  const Result<int>& code = *health_answer_;
  if (!code.ok()) {
    AddError(ErrorSource::kHealth, ErrorText(code.status()), out);
    return;
  }
  bool healthy = false;
  std::string& reason = *out.mutable_health_reason();
  if (!ParseHealth(health_body_, healthy, reason)) {
    reason.clear();
    const std::string_view quoted = std::string_view(health_body_).substr(0, kMaxQuotedBytes);
    AddError(ErrorSource::kHealth,
             "GET " + config_.health_url + ": HTTP status " + std::to_string(*code) +
                 ", not a health verdict: " + std::string(quoted),
             out);
    return;
  }
  out.set_health_ok(healthy && *code == 200);
  if (!out.health_ok() && reason.empty()) {
    reason = "HTTP status " + std::to_string(*code);
  }
  if (health_body_.capacity() > kMaxRetainedPageBytes) {
    std::string().swap(health_body_);
  }
}

void Sampler::CollectHost(bool full, v1::MemberSample& out) {
  v1::HostStats& host = *out.mutable_host();
  Result<MemoryUsage> memory = host_.Memory();
  if (memory.ok()) {
    host.set_memory_total_bytes(memory->total_bytes);
    host.set_memory_available_bytes(memory->available_bytes);
  } else {
    AddError(ErrorSource::kHost, ErrorText(memory.status()), out);
  }
  LocateDataDir(full);
  if (data_dir_.empty()) {
    host.set_disk_unknown_reason(disk_unknown_reason_);
    return;
  }
  Result<DiskUsage> disk = host_.Disk(data_dir_);
  if (disk.ok()) {
    host.set_disk_total_bytes(disk->total_bytes);
    host.set_disk_used_bytes(disk->used_bytes);
    disk_unknown_reason_.clear();
    return;
  }
  const Status status = disk.status();
  const std::string_view error = ErrorText(status);
  AddError(ErrorSource::kHost, error, out);
  disk_unknown_reason_.assign(error.data(), error.size());
  host.set_disk_unknown_reason(disk_unknown_reason_);
  if (discovered_) {
    // The member may have moved its data: look again on the next full pass.
    discovered_.reset();
    data_dir_.clear();
  }
}

void Sampler::LocateDataDir(bool full) {
  if (!config_.data_dir.empty()) {
    return;
  }
  if (discovered_) {
    if (!full || discovery_.StillRunning(*discovered_)) {
      return;
    }
    discovered_.reset();  // the member restarted, or another process has its pid
    data_dir_.clear();
  } else if (discovery_tried_ && !full) {
    return;
  }
  discovery_tried_ = true;
  const std::string hint =
      config_.data_dir_hint.empty() ? std::string("give --data-dir") : config_.data_dir_hint;
  if (!config_.discover_data_dir) {
    disk_unknown_reason_ = "the member's data dir is not known: " + hint;
    return;
  }
  if (!IsLocalHost(config_.endpoint.host)) {
    disk_unknown_reason_ = "the member runs on another host (" + config_.endpoint.host +
                           "): run a collector beside it or " + hint;
    return;
  }
  Result<DiscoveredDataDir> found =
      discovery_.Discover(config_.endpoint.host, config_.endpoint.port);
  if (!found.ok()) {
    disk_unknown_reason_ =
        "the member's data dir was not found: " + std::string(found.status().message()) + "; " +
        hint;
    return;
  }
  discovered_ = std::move(found).value();
  data_dir_ = discovered_->data_dir;
  disk_unknown_reason_.clear();
}

void Sampler::CollectCertificate(v1::MemberSample& out) {
  const Status asked = Ask(member_lane_, "certificate", read_certificate_, round_deadline_);
  if (!asked.ok()) {
    AddError(ErrorSource::kCertificate, ErrorText(asked), out);
    return;
  }
  const Result<ServedCertificate>& cert = *certificate_answer_;
  if (!cert.ok()) {
    AddError(ErrorSource::kCertificate, ErrorText(cert.status()), out);
    return;
  }
  v1::CertificateInfo* info = Reattach(
      spare_certificate_, [&](v1::CertificateInfo* m) { out.set_allocated_certificate(m); });
  info->mutable_subject()->assign(cert->subject);
  info->set_not_after_unix_seconds(cert->not_after_unix_seconds);
}

void Sampler::SetMemberName(const std::string& name) {
  if (name == member_name_) {
    return;
  }
  member_name_ = name;
  probe_key_ = config_.probe_prefix + name;
  std::lock_guard<std::mutex> lock(key_mu_);
  call_probe_key_ = probe_key_;
}

void Sampler::AddError(ErrorSource source, std::string_view message, v1::MemberSample& out) {
  const std::string_view name = ErrorSourceName(source);
  for (v1::SampleError& e : *out.mutable_errors()) {
    if (e.source() == name) {
      e.mutable_message()->append("; ").append(message.data(), message.size());
      return;
    }
  }
  v1::SampleError* e = out.add_errors();
  e->mutable_source()->assign(name.data(), name.size());
  e->mutable_message()->assign(message.data(), message.size());
  ++stats_.errors_by_source[static_cast<std::size_t>(source)];
}

}  // namespace etcdmon::collector
