#include "etcdmon/collector/sampler.h"

#include <cassert>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

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

// Runs `call` and times it into `probe`; returns its status.
template <typename Call>
Status TimedProbe(Clock& clock, v1::Probe::Kind kind, v1::Probe& probe, Call&& call) {
  probe.set_kind(kind);
  const auto start = clock.SteadyNow();
  Status status = call();
  const auto elapsed = clock.SteadyNow() - start;
  probe.set_latency_us(static_cast<uint64_t>(duration_cast<microseconds>(elapsed).count()));
  probe.set_ok(status.ok());
  if (!status.ok()) {
    const std::string_view text = ErrorText(status);
    probe.mutable_error()->assign(text.data(), text.size());
  }
  return status;
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
  range_request_.limit = 1;
}

Sampler::~Sampler() = default;

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
  out.set_collected_at_unix_ms(duration_cast<milliseconds>(now.time_since_epoch()).count());
  out.set_full(full);
  Reattach(spare_host_, [&](v1::HostStats* m) { out.set_allocated_host(m); })->set_open_fds(-1);

  const bool reachable = CollectStatus(out);
  out.set_reachable(reachable);
  if (reachable) {
    if (full || member_name_.empty()) {
      CollectMembers(out);
    }
    // An Alarm GET is a raft proposal in etcd (a log entry fsynced on every member), so it is
    // made only when it can tell something: Status lists active alarms among its errors. A
    // member without a leader cannot commit it: the call would only wait out its deadline and
    // hold back the sample that says "no leader" (the alarms stay as last known).
    const bool no_leader = out.has_status() && out.status().leader_id() == 0;
    if ((full || !out.has_status() || out.status().errors_size() > 0) && !no_leader) {
      CollectAlarms(out);
    }
    CollectProbes(out.has_status() && out.status().is_learner(), no_leader, out);
  } else {
    ++stats_.unreachable_total;
    // "Unreachable" is known only once the dial timeout has passed: stamp the sample with that
    // moment, or a member that is down would look like a silent collector (its sample would be
    // a dial timeout old on arrival, which at short intervals is "stale").
    out.set_collected_at_unix_ms(
        duration_cast<milliseconds>(clock_.Now().time_since_epoch()).count());
  }
  CollectMetrics(out);
  if (full) {
    CollectHealth(out);
  }
  CollectHost(full, out);
  if (full && config_.read_certificate && reachable) {
    CollectCertificate(out);
  }
  out.set_member_id(member_id_);
  out.mutable_member_name()->assign(member_name_);
}

bool Sampler::CollectStatus(v1::MemberSample& out) {
  Result<etcd::EndpointStatus> status = etcd_.GetStatus(authority_);
  if (!status.ok()) {
    const Status error = status.status();
    const std::string_view text = ErrorText(error);
    AddError(ErrorSource::kStatus, text, out);
    if (IsUnreachable(error.code())) {
      out.mutable_error()->assign(text.data(), text.size());
      return false;
    }
    return true;  // it answered, with an error
  }
  v1::MemberStatus* s =
      Reattach(spare_status_, [&](v1::MemberStatus* m) { out.set_allocated_status(m); });
  s->mutable_version()->assign(status->version);
  s->set_cluster_id(status->cluster_id);
  s->set_member_id(status->member_id);
  s->set_leader_id(status->leader);
  s->set_raft_term(status->raft_term);
  s->set_raft_index(status->raft_index);
  s->set_raft_applied_index(status->raft_applied_index);
  s->set_db_size(status->db_size);
  s->set_db_size_in_use(status->db_size_in_use);
  s->set_is_learner(status->is_learner);
  s->set_revision(status->revision);
  for (const std::string& e : status->errors) {
    s->add_errors()->assign(e);
  }
  if (status->member_id != 0) {
    member_id_ = status->member_id;
  }
  return true;
}

void Sampler::CollectMembers(v1::MemberSample& out) {
  Result<etcd::MemberListResult> list = etcd_.MemberList(authority_);
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
  Result<std::vector<etcd::Alarm>> alarms =
      etcd_.Alarms(authority_, etcd::AlarmAction::kGet, etcd::Alarm{});
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

void Sampler::CollectProbes(bool learner, bool no_leader, v1::MemberSample& out) {
  // Before the name is known, the reads go to the bare prefix: still a one-key lookup.
  range_request_.key = probe_key_.empty() ? config_.probe_prefix : probe_key_;

  range_request_.serializable = true;
  range_request_.timeout = config_.probe_timeout;
  Status read = TimedProbe(clock_, v1::Probe::SERIALIZABLE_READ, *out.add_probes(),
                           [&] { return etcd_.Range(authority_, range_request_).status(); });
  if (!read.ok()) {
    AddError(ErrorSource::kProbeSerializable, ErrorText(read), out);
  }
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
  range_request_.serializable = false;
  range_request_.timeout = config_.probe_timeout;
  read = TimedProbe(clock_, v1::Probe::LINEARIZABLE_READ, *out.add_probes(),
                    [&] { return etcd_.Range(authority_, range_request_).status(); });
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
  put_request_.key = probe_key_;
  put_request_.timeout = config_.probe_timeout;
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), out.collected_at_unix_ms());
  put_request_.value.assign(digits, ec == std::errc() ? end : digits);
  const Status write = TimedProbe(clock_, v1::Probe::WRITE, *out.add_probes(),
                                  [&] { return etcd_.Put(authority_, put_request_).status(); });
  if (!write.ok()) {
    AddError(ErrorSource::kProbeWrite, ErrorText(write), out);
  }
}

void Sampler::CollectMetrics(v1::MemberSample& out) {
  std::string problems;  // stays empty, and unallocated, on a good page
  Result<int> code = metrics_.Fetch(config_.metrics_url, body_);
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
  Result<int> code = metrics_.Fetch(config_.health_url, health_body_);
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
  Result<ServedCertificate> cert = certificate_.Read(config_.endpoint.host, config_.endpoint.port);
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
