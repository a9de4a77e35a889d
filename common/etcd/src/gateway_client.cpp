#include "etcdmon/etcd/gateway_client.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "etcdmon/etcd/errors.h"
#include "etcdmon/http/fetcher.h"
#include "etcdmon/rpc/status_codes.h"
#include "etcdmon/strings/strings.h"
#include "json_codec.h"
#include "pb_convert.h"
#include "tls_files.h"

namespace etcdmon::etcd {
namespace {

using detail::FromPb;
using detail::ToPb;
namespace pb = ::etcdserverpb;

// How long a call waits for a connection to an endpoint whose last dial failed: as with the
// gRPC client, a dead member must not cost a whole dial timeout on every call.
constexpr std::chrono::milliseconds kRecheckTimeout{250};
// Error bodies are quoted in messages up to this length.
constexpr std::size_t kMaxQuotedBody = 200;
// Answers larger than this are refused (the collector's are a few hundred bytes; a Range over
// many keys is the only large one).
constexpr std::size_t kMaxResponseBytes = 64u << 20;

std::string Quote(std::string_view body) {
  std::string out(body.substr(0, kMaxQuotedBody));
  if (body.size() > kMaxQuotedBody) {
    out += "...";
  }
  return out;
}

// One member: where to send requests, its auth token, and idle connections.
struct GatewayEndpoint {
  std::string authority;  // "host:port", as Endpoints() lists it
  std::string base_url;   // "http(s)://host:port/v3/"

  std::mutex mu;
  std::string token;         // guarded by mu; empty until authenticated
  bool unreachable = false;  // guarded by mu; from a failed connect until a success
  std::vector<std::unique_ptr<http::HttpFetcher>> idle;  // guarded by mu
};

class GatewayEtcdClient final : public EtcdClient {
 public:
  GatewayEtcdClient(const config::EtcdConnectionConfig& config,
                    std::vector<std::unique_ptr<GatewayEndpoint>> endpoints,
                    std::shared_ptr<http::Cancellation> cancellation)
      : dial_timeout_(config.dial_timeout),
        request_timeout_(config.request_timeout),
        username_(config.username),
        password_(config.password),
        endpoints_(std::move(endpoints)) {
    fetch_.tls = config.tls;
    fetch_.connect_timeout = config.dial_timeout;
    fetch_.timeout = config.request_timeout;
    fetch_.max_body_bytes = kMaxResponseBytes;
    fetch_.cancellation = std::move(cancellation);
  }

  std::vector<std::string> Endpoints() const override {
    std::vector<std::string> out;
    out.reserve(endpoints_.size());
    for (const auto& e : endpoints_) {
      out.push_back(e->authority);
    }
    return out;
  }

  Result<EndpointStatus> GetStatus(const std::string& endpoint) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::StatusResponse response;
    ETCDMON_RETURN_IF_ERROR(
        Call(*e, "Status", "maintenance/status", pb::StatusRequest(), &response, request_timeout_));
    return FromPb(e->authority, response);
  }

  Result<MemberListResult> MemberList(const std::string& endpoint) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::MemberListResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(*e, "MemberList", "cluster/member/list", pb::MemberListRequest(),
                                 &response, request_timeout_));
    return FromPb(response);
  }

  Result<std::vector<Alarm>> Alarms(const std::string& endpoint, AlarmAction action,
                                    const Alarm& alarm) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::AlarmResponse response;
    ETCDMON_RETURN_IF_ERROR(
        Call(*e, "Alarm", "maintenance/alarm", ToPb(action, alarm), &response, request_timeout_));
    return FromPb(response);
  }

  Result<RangeResult> Range(const std::string& endpoint, const RangeRequest& req) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::RangeResponse response;
    ETCDMON_RETURN_IF_ERROR(
        Call(*e, "Range", "kv/range", ToPb(req), &response, TimeoutOf(req.timeout)));
    return FromPb(response);
  }

  Result<PutResult> Put(const std::string& endpoint, const PutRequest& req) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::PutResponse response;
    ETCDMON_RETURN_IF_ERROR(
        Call(*e, "Put", "kv/put", ToPb(req), &response, TimeoutOf(req.timeout)));
    return PutResult{FromPb(response.header())};
  }

  Result<DeleteRangeResult> DeleteRange(const std::string& endpoint,
                                        const DeleteRangeRequest& req) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::DeleteRangeResponse response;
    ETCDMON_RETURN_IF_ERROR(
        Call(*e, "DeleteRange", "kv/deleterange", ToPb(req), &response, request_timeout_));
    return DeleteRangeResult{FromPb(response.header()), response.deleted()};
  }

  Result<ResponseHeader> Compact(const std::string& endpoint, int64_t revision,
                                 bool physical) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(physical);
    pb::CompactionResponse response;
    ETCDMON_RETURN_IF_ERROR(
        Call(*e, "Compact", "kv/compaction", request, &response, request_timeout_));
    return FromPb(response.header());
  }

  Result<ResponseHeader> Defragment(const std::string& endpoint) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::DefragmentResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(*e, "Defragment", "maintenance/defragment",
                                 pb::DefragmentRequest(), &response, request_timeout_));
    return FromPb(response.header());
  }

  Result<HashKVResult> HashKV(const std::string& endpoint, int64_t) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    return Status::Unimplemented("endpoint " + e->authority +
                                 ": HashKV: not available through etcd's JSON gateway (its path "
                                 "answers Hash); use the gRPC client");
  }

  Result<ResponseHeader> MoveLeader(const std::string& endpoint,
                                    uint64_t target_member_id) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    pb::MoveLeaderRequest request;
    request.set_targetid(target_member_id);
    pb::MoveLeaderResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(*e, "MoveLeader", "maintenance/transfer-leadership", request,
                                 &response, request_timeout_));
    return FromPb(response.header());
  }

  Result<SnapshotResult> Snapshot(const std::string& endpoint, const SnapshotSink&,
                                  std::chrono::milliseconds) override {
    Result<GatewayEndpoint*> found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    GatewayEndpoint* e = *found;
    return Status::Unimplemented("endpoint " + e->authority +
                                 ": Snapshot: not available through etcd's JSON gateway; use the "
                                 "gRPC client");
  }

 private:
  std::chrono::milliseconds TimeoutOf(std::chrono::milliseconds requested) const {
    return requested.count() > 0 ? requested : request_timeout_;
  }

  // etcd's error answer: {"error": ..., "message": ..., "code": <gRPC code>}. Errors are rare,
  // so a parsed document is fine here.
  static bool ParseEtcdError(const std::string& body, int* grpc_code, std::string* grpc_message) {
    const nlohmann::json error = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!error.is_object()) {
      return false;
    }
    const auto code = error.find("code");
    if (code == error.end() || !code->is_number_integer() || code->get<int64_t>() < 1 ||
        code->get<int64_t>() > 1000) {
      return false;
    }
    *grpc_code = static_cast<int>(code->get<int64_t>());
    for (const char* field : {"message", "error"}) {
      const auto it = error.find(field);
      if (it != error.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        *grpc_message = it->get<std::string>();
        break;
      }
    }
    return true;
  }

  Result<GatewayEndpoint*> Find(const std::string& endpoint) {
    for (const auto& e : endpoints_) {
      if (e->authority == endpoint) {
        return e.get();
      }
    }
    return Status::InvalidArgument("endpoint " + endpoint + " is not configured (configured: " +
                                   strings::Join(Endpoints(), ", ") + ")");
  }

  // An idle connection of `e`, or a new one.
  Result<std::unique_ptr<http::HttpFetcher>> Acquire(GatewayEndpoint& e) {
    {
      std::lock_guard<std::mutex> lock(e.mu);
      if (!e.idle.empty()) {
        std::unique_ptr<http::HttpFetcher> fetcher = std::move(e.idle.back());
        e.idle.pop_back();
        return fetcher;
      }
    }
    return http::HttpFetcher::Create(fetch_);
  }

  void Release(GatewayEndpoint& e, std::unique_ptr<http::HttpFetcher> fetcher) {
    std::lock_guard<std::mutex> lock(e.mu);
    e.idle.push_back(std::move(fetcher));
  }

  // One POST of `request` as JSON; the answer parsed into `response`. A transport failure
  // becomes kUnavailable or kDeadlineExceeded in the gRPC client's words; an etcd error
  // ({"code": <gRPC code>, "message": ...}) goes through StatusFromGrpc like a gRPC status.
  Status Post(GatewayEndpoint& e, std::string_view method, const std::string& url,
              const std::string& body, const std::string& token, std::chrono::milliseconds timeout,
              http::HttpResponse& out, int* grpc_code, std::string* grpc_message) {
    Result<std::unique_ptr<http::HttpFetcher>> fetcher = Acquire(e);
    if (!fetcher.ok()) {
      return fetcher.status().WithContext("endpoint " + e.authority);
    }
    http::HttpHeaders headers = {{"Content-Type", "application/json"}};
    if (!token.empty()) {
      headers.emplace_back("Authorization", token);
    }
    bool was_unreachable = false;
    {
      std::lock_guard<std::mutex> lock(e.mu);
      was_unreachable = e.unreachable;
    }
    http::CallOptions call;
    call.timeout = timeout;
    call.connect_timeout =
        was_unreachable ? std::min(dial_timeout_, kRecheckTimeout) : dial_timeout_;
    Status sent = (*fetcher)->Post(url, body, headers, out, call);
    const bool connect_failed = !sent.ok() && (*fetcher)->last_failure_was_connect();
    *grpc_code = 0;
    grpc_message->clear();
    if (!sent.ok() && out.status_code >= 400 && ParseEtcdError(out.body, grpc_code, grpc_message)) {
      // etcd's gateway follows an error's body with an HTTP trailer, which the HTTP library
      // cannot read and reports as a failed read; the error itself arrived whole.
      sent = Status::Ok();
    }
    Release(e, std::move(fetcher).value());
    {
      std::lock_guard<std::mutex> lock(e.mu);
      e.unreachable = connect_failed;
    }
    if (!sent.ok()) {
      // The fetcher's message is "POST <url>: <reason>"; the reason is what matters here.
      std::string reason = sent.message();
      const std::string prefix = "POST " + url + ": ";
      if (reason.rfind(prefix, 0) == 0) {
        reason.erase(0, prefix.size());
      }
      if (connect_failed) {
        if (reason.rfind("cannot connect: ", 0) == 0) {
          reason.erase(0, std::string("cannot connect: ").size());
        }
        return Status::Unavailable(
            "endpoint " + e.authority + ": " +
            (was_unreachable ? "still cannot connect: " : "cannot connect: ") + reason);
      }
      if (sent.code() == StatusCode::kDeadlineExceeded) {
        return Status::DeadlineExceeded("endpoint " + e.authority + ": " + std::string(method) +
                                        ": request timed out after " + FormatDuration(timeout));
      }
      if (sent.code() == StatusCode::kUnavailable) {
        return Status::Unavailable("endpoint " + e.authority + ": " + std::string(method) +
                                   ": connection lost: " + reason);
      }
      return Status(sent.code(),
                    "endpoint " + e.authority + ": " + std::string(method) + ": " + reason);
    }
    if (out.status_code == 200 || *grpc_code != 0) {
      return Status::Ok();
    }
    if (ParseEtcdError(out.body, grpc_code, grpc_message)) {
      return Status::Ok();  // an etcd error: the caller decides
    }
    const std::string hint =
        out.status_code == 404 ? " (is etcd's JSON gateway on? --enable-grpc-gateway)" : "";
    return Status::Internal("endpoint " + e.authority + ": " + std::string(method) + ": HTTP " +
                            std::to_string(out.status_code) + hint + ": " + Quote(out.body));
  }

  Status Authenticate(GatewayEndpoint& e, std::string* token) {
    pb::AuthenticateRequest request;
    request.set_name(username_);
    request.set_password(password_.Reveal());
    std::string body;
    detail::AppendJson(request, body);
    const std::string method = "Authenticate as user \"" + username_ + "\"";
    http::HttpResponse out;
    int code = 0;
    std::string message;
    ETCDMON_RETURN_IF_ERROR(Post(e, method, e.base_url + "auth/authenticate", body, "",
                                 request_timeout_, out, &code, &message));
    if (code != 0) {
      return StatusFromGrpc(e.authority, method, code, message);
    }
    pb::AuthenticateResponse response;
    std::string error;
    if (!detail::ReadJson(out.body, response, error)) {
      return Status::Internal("endpoint " + e.authority + ": " + method + ": unexpected answer (" +
                              error + "): " + Quote(out.body));
    }
    *token = response.token();
    std::lock_guard<std::mutex> lock(e.mu);
    e.token = response.token();
    return Status::Ok();
  }

  // Runs one call: authenticates first when needed, and again once if etcd rejects the token.
  template <typename Request, typename Response>
  Status Call(GatewayEndpoint& e, std::string_view method, const char* path, const Request& request,
              Response* response, std::chrono::milliseconds timeout) {
    std::string body;
    detail::AppendJson(request, body);
    std::string token;
    bool fresh_token = false;
    if (!username_.empty()) {
      {
        std::lock_guard<std::mutex> lock(e.mu);
        token = e.token;
      }
      if (token.empty()) {
        ETCDMON_RETURN_IF_ERROR(Authenticate(e, &token));
        fresh_token = true;
      }
    }
    const std::string url = e.base_url + path;
    http::HttpResponse out;
    while (true) {
      int code = 0;
      std::string message;
      ETCDMON_RETURN_IF_ERROR(Post(e, method, url, body, token, timeout, out, &code, &message));
      if (code == 0) {
        if (!detail::ReadJson(out.body, *response, message)) {
          return Status::Internal("endpoint " + e.authority + ": " + std::string(method) +
                                  ": unexpected answer (" + message + "): " + Quote(out.body));
        }
        return Status::Ok();
      }
      if (!username_.empty() && !fresh_token && IsTokenRejected(code, message)) {
        ETCDMON_RETURN_IF_ERROR(Authenticate(e, &token));
        fresh_token = true;
        continue;
      }
      if (code == static_cast<int>(rpc::GrpcCode::kUnimplemented)) {
        message += " (this etcd's JSON gateway does not serve " + std::string(path) + ")";
      }
      return StatusFromGrpc(e.authority, method, code, message);
    }
  }

  const std::chrono::milliseconds dial_timeout_;
  const std::chrono::milliseconds request_timeout_;
  const std::string username_;
  const config::Secret password_;
  const std::vector<std::unique_ptr<GatewayEndpoint>> endpoints_;
  http::FetcherOptions fetch_;
};

}  // namespace

Result<std::unique_ptr<EtcdClient>> NewGatewayEtcdClient(
    const config::EtcdConnectionConfig& config, std::shared_ptr<http::Cancellation> cancellation) {
  ETCDMON_RETURN_IF_ERROR(ValidateConnectionConfig(config));
  // The TLS files are read now, so that a wrong path is reported at start.
  Result<detail::TlsMaterial> tls = detail::ReadTlsMaterial(config.tls);
  if (!tls.ok()) {
    return tls.status();
  }
  std::vector<std::unique_ptr<GatewayEndpoint>> endpoints;
  for (const config::Endpoint& endpoint : config.endpoints) {
    auto e = std::make_unique<GatewayEndpoint>();
    e->authority = endpoint.Authority();
    e->base_url = endpoint.Url(config.UsesTls(endpoint) ? "https" : "http") + "/v3/";
    endpoints.push_back(std::move(e));
  }
  return std::unique_ptr<EtcdClient>(
      std::make_unique<GatewayEtcdClient>(config, std::move(endpoints), std::move(cancellation)));
}

Result<std::unique_ptr<EtcdClient>> NewGatewayEtcdClient(
    const config::EtcdConnectionConfig& config) {
  return NewGatewayEtcdClient(config, nullptr);
}

}  // namespace etcdmon::etcd
