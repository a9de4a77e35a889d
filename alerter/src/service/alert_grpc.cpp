#include "alert_grpc.h"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

#include "etcdmon/config/cluster_name.h"
#include "etcdmon/rpc/grpc_status.h"
#include "etcdmon/rpc/security.h"

namespace etcdmon::alerter::detail {
namespace {

namespace v1 = etcdmonitor::v1;

constexpr int64_t kMaxSilenceMs = int64_t{90} * 24 * 3600 * 1000;  // 90 days
constexpr std::size_t kMaxCommentBytes = 1024;
constexpr std::size_t kMaxNameBytes = 256;
// ListSilences with include_expired lists at most this many (the newest).
constexpr int64_t kMaxListedSilences = 1000;
constexpr std::size_t kMaxSilenceIdBytes = 128;

// The ids CreateSilence makes are 16 hex digits; any id of this charset is looked up.
bool IsSilenceId(const std::string& id) {
  if (id.empty() || id.size() > kMaxSilenceIdBytes) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// OK for an empty name (no filter, or every cluster); otherwise ValidateClusterName's verdict.
grpc::Status CheckClusterName(const std::string& name) {
  if (name.empty()) {
    return grpc::Status::OK;
  }
  Status valid = config::ValidateClusterName(name);
  return valid.ok() ? grpc::Status::OK : Invalid("cluster: " + std::string(valid.message()));
}

std::string RandomId() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xF];
  }
  return id;
}

void ToProto(const Silence& s, v1::Silence* out) {
  out->set_id(s.id);
  out->set_rule(s.rule);
  out->set_member(s.member);
  out->set_comment(s.comment);
  out->set_expires_unix_ms(s.expires_unix_ms);
  out->set_created_unix_ms(s.created_unix_ms);
  out->set_cluster(s.cluster);
}

}  // namespace

void ToProto(const Alert& a, v1::AlertRecord* out) {
  out->set_fingerprint(a.fingerprint);
  out->set_rule(a.key.rule);
  out->set_severity(std::string(SeverityName(a.severity)));
  out->set_state(std::string(AlertStateName(a.state)));
  out->set_cluster(a.key.cluster);
  out->set_member(a.key.member);
  out->set_summary(a.summary);
  out->set_started_unix_ms(a.pending_since_unix_ms);
  out->set_resolved_unix_ms(a.resolved_unix_ms);
  out->set_firing_since_unix_ms(a.firing_since_unix_ms);
  out->set_last_notified_unix_ms(a.last_notified_unix_ms);
  for (const AlertValue& v : a.values) {
    v1::AlertValue* value = out->add_values();
    value->set_name(v.name);
    value->set_value(v.value);
  }
  for (const std::string& c : a.channels) {
    out->add_channels(c);
  }
}

AlertGrpcService::AlertGrpcService(AlertStore& store, Clock& clock,
                                   std::vector<std::string> rule_ids, config::Secret api_token,
                                   ActiveSource active, HealthSource health,
                                   SilencesChanged silences_changed)
    : store_(store),
      clock_(clock),
      rule_ids_(std::move(rule_ids)),
      api_token_(std::move(api_token)),
      active_(std::move(active)),
      health_(std::move(health)),
      silences_changed_(std::move(silences_changed)) {}

grpc::Status AlertGrpcService::ListActiveAlerts(grpc::ServerContext*,
                                                const v1::ListAlertsRequest* request,
                                                v1::ListAlertsResponse* response) {
  if (grpc::Status valid = CheckClusterName(request->cluster()); !valid.ok()) {
    return valid;
  }
  for (const Alert& a : active_()) {
    if (request->cluster().empty() || a.key.cluster == request->cluster()) {
      ToProto(a, response->add_alerts());
    }
  }
  return grpc::Status::OK;
}

grpc::Status AlertGrpcService::QueryHistory(grpc::ServerContext*,
                                            const v1::AlertHistoryRequest* request,
                                            v1::AlertHistoryResponse* response) {
  AlertHistoryFilter filter;
  filter.rule = request->rule();
  filter.member = request->member();
  // The page token is an alert id: with the cluster in the query, the next page continues
  // within the same cluster's alerts.
  if (grpc::Status valid = CheckClusterName(request->cluster()); !valid.ok()) {
    return valid;
  }
  filter.cluster = request->cluster();
  if (!request->severity().empty()) {
    Result<Severity> severity = ParseSeverity(request->severity());
    if (!severity.ok()) return Invalid(std::string(severity.status().message()));
    filter.severity = std::string(SeverityName(*severity));
  }
  if (!request->state().empty()) {
    Result<AlertState> state = ParseAlertState(request->state());
    if (!state.ok()) return Invalid(std::string(state.status().message()));
    filter.state = std::string(AlertStateName(*state));
  }
  filter.from_unix_ms = request->from_unix_ms();
  filter.to_unix_ms = request->to_unix_ms();
  if (filter.from_unix_ms < 0 || filter.to_unix_ms < 0) {
    return Invalid("times must not be negative");
  }
  filter.page_size = request->page_size() == 0 ? 100 : request->page_size();
  if (filter.page_size > 1000) {
    return Invalid("page_size " + std::to_string(filter.page_size) + " is above 1000");
  }
  const std::string& token = request->page_token();
  if (!token.empty()) {
    int64_t before = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), before);
    if (ec != std::errc() || end != token.data() + token.size() || before <= 0) {
      return Invalid("invalid page_token \"" + token.substr(0, 64) + "\"");
    }
    filter.before_id = before;
  }
  Result<AlertHistoryPage> page = store_.QueryHistory(filter);
  if (!page.ok()) {
    return rpc::ToGrpcStatus(page.status());
  }
  for (const AlertHistoryEntry& entry : page->entries) {
    v1::AlertRecord* record = response->add_alerts();
    ToProto(entry.alert, record);
    record->set_id(entry.id);
    for (const DeliveryRecord& d : entry.deliveries) {
      v1::DeliveryRecord* out = record->add_deliveries();
      out->set_notification_id(d.notification_id);
      out->set_kind(std::string(NotificationKindName(d.kind)));
      out->set_channel(d.channel);
      out->set_state(d.state);
      out->set_attempts(d.attempts);
      out->set_last_attempt_unix_ms(d.last_attempt_unix_ms);
      out->set_last_error(d.last_error);
    }
  }
  if (page->next_before_id != 0) {
    response->set_next_page_token(std::to_string(page->next_before_id));
  }
  return grpc::Status::OK;
}

grpc::Status AlertGrpcService::Authorize(const grpc::ServerContext& context) const {
  if (api_token_.empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "silences are disabled: start the alerter with --api-token-file");
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(rpc::kApiTokenKey.data(), rpc::kApiTokenKey.size()));
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing API token");
  }
  if (!rpc::BearerTokenMatches(std::string_view(it->second.data(), it->second.size()),
                               api_token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong API token");
  }
  return grpc::Status::OK;
}

grpc::Status AlertGrpcService::CreateSilence(grpc::ServerContext* context,
                                             const v1::Silence* request, v1::Silence* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) {
    return auth;
  }
  const int64_t now = UnixMs(clock_.Now());
  if (request->expires_unix_ms() <= now) {
    return Invalid("expires_unix_ms must be in the future");
  }
  if (request->expires_unix_ms() - now > kMaxSilenceMs) {
    return Invalid("a silence lasts at most 90 days");
  }
  if (request->comment().size() > kMaxCommentBytes || request->member().size() > kMaxNameBytes) {
    return Invalid("comment (1024 bytes) or member (256 bytes) too long");
  }
  if (grpc::Status valid = CheckClusterName(request->cluster()); !valid.ok()) {
    return valid;
  }
  if (!request->rule().empty() &&
      std::find(rule_ids_.begin(), rule_ids_.end(), request->rule()) == rule_ids_.end()) {
    return Invalid("unknown rule \"" + request->rule().substr(0, kMaxNameBytes) + "\"");
  }
  Silence silence;
  silence.id = RandomId();
  if (silence.id.empty()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "no randomness for a silence id");
  }
  silence.rule = request->rule();
  silence.member = request->member();
  silence.cluster = request->cluster();
  silence.comment = request->comment();
  silence.created_unix_ms = now;
  silence.expires_unix_ms = request->expires_unix_ms();
  if (Status s = store_.AddSilence(silence); !s.ok()) {
    return rpc::ToGrpcStatus(s);
  }
  silences_changed_();
  ToProto(silence, response);
  return grpc::Status::OK;
}

grpc::Status AlertGrpcService::ListSilences(grpc::ServerContext*,
                                            const v1::ListSilencesRequest* request,
                                            v1::ListSilencesResponse* response) {
  if (grpc::Status valid = CheckClusterName(request->cluster()); !valid.ok()) {
    return valid;
  }
  Result<std::vector<Silence>> silences =
      request->include_expired() ? store_.AllSilences(kMaxListedSilences, request->cluster())
                                 : store_.ActiveSilences(UnixMs(clock_.Now()), request->cluster());
  if (!silences.ok()) {
    return rpc::ToGrpcStatus(silences.status());
  }
  for (const Silence& s : *silences) {
    ToProto(s, response->add_silences());
  }
  return grpc::Status::OK;
}

grpc::Status AlertGrpcService::ExpireSilence(grpc::ServerContext* context,
                                             const v1::ExpireSilenceRequest* request,
                                             v1::Silence* response) {
  if (grpc::Status auth = Authorize(*context); !auth.ok()) {
    return auth;
  }
  if (!IsSilenceId(request->id())) {
    return Invalid("id: want a silence id (1 to 128 of a-z, A-Z, 0-9, '-', '_')");
  }
  Result<Silence> expired = store_.ExpireSilence(request->id(), UnixMs(clock_.Now()));
  if (!expired.ok()) {
    return rpc::ToGrpcStatus(expired.status());
  }
  silences_changed_();
  ToProto(*expired, response);
  return grpc::Status::OK;
}

grpc::Status AlertGrpcService::GetHealth(grpc::ServerContext*, const v1::ListAlertsRequest*,
                                         v1::ServiceHealth* response) {
  health_(*response);
  return grpc::Status::OK;
}

}  // namespace etcdmon::alerter::detail
