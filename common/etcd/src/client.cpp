#include "etcdmon/etcd/client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcdmon/etcd/channel.h"
#include "etcdmon/etcd/errors.h"
#include "etcdmon/strings/strings.h"
#include "grpc_log.h"
#include "pb_convert.h"

namespace etcdmon::etcd {
namespace {

namespace pb = ::etcdserverpb;
using detail::FromPb;
using detail::ToPb;

// gRPC deadlines are system_clock time points.
using WallClock = std::chrono::system_clock;

// How long the connect-failure probe may take. It only runs after the dial timeout expired,
// on a channel that is already failing, so it answers at once in practice.
constexpr std::chrono::milliseconds kProbeTimeout{500};
// How long a call waits for a connection to an endpoint whose last dial failed.
constexpr std::chrono::milliseconds kRecheckTimeout{250};
// etcd's metadata key for auth tokens.
constexpr const char* kTokenMetadataKey = kAuthTokenMetadataKey;

// One endpoint: its channel and stubs, created once and reused by every call.
struct Connection {
  std::string authority;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Maintenance::Stub> maintenance;
  std::unique_ptr<pb::Cluster::Stub> cluster;
  std::unique_ptr<pb::Auth::Stub> auth;
  bool tls = false;

  std::string Token() const {
    std::lock_guard<std::mutex> lock(mu);
    return token;
  }
  void SetToken(std::string t) {
    std::lock_guard<std::mutex> lock(mu);
    token = std::move(t);
  }

  bool Unreachable() const {
    std::lock_guard<std::mutex> lock(mu);
    return unreachable;
  }
  void SetUnreachable(bool value) {
    std::lock_guard<std::mutex> lock(mu);
    unreachable = value;
  }

  mutable std::mutex mu;
  std::string token;  // guarded by mu; the etcd auth token of this endpoint, empty if none yet
  // Guarded by mu. True from a failed dial until the channel is seen connected again.
  bool unreachable = false;
};

class EtcdClientImpl final : public EtcdClient {
 public:
  EtcdClientImpl(const config::EtcdConnectionConfig& config,
                 std::vector<std::unique_ptr<Connection>> connections)
      : dial_timeout_(config.dial_timeout),
        request_timeout_(config.request_timeout),
        username_(config.username),
        password_(config.password),
        connections_(std::move(connections)) {}

  EtcdClientImpl(const EtcdClientImpl&) = delete;
  EtcdClientImpl& operator=(const EtcdClientImpl&) = delete;

  std::vector<std::string> Endpoints() const override {
    std::vector<std::string> out;
    out.reserve(connections_.size());
    for (const auto& c : connections_) {
      out.push_back(c->authority);
    }
    return out;
  }

  Result<EndpointStatus> GetStatus(const std::string& endpoint) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    pb::StatusRequest request;
    pb::StatusResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Status", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.maintenance->Status(ctx, request, &response);
    }));
    return FromPb(c.authority, response);
  }

  Result<MemberListResult> MemberList(const std::string& endpoint) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    pb::MemberListRequest request;
    pb::MemberListResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "MemberList", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.cluster->MemberList(ctx, request, &response);
    }));
    return FromPb(response);
  }

  Result<std::vector<Alarm>> Alarms(const std::string& endpoint, AlarmAction action,
                                    const Alarm& alarm) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    const pb::AlarmRequest request = ToPb(action, alarm);
    pb::AlarmResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Alarm", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.maintenance->Alarm(ctx, request, &response);
    }));
    return FromPb(response);
  }

  Result<RangeResult> Range(const std::string& endpoint, const RangeRequest& req) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    const pb::RangeRequest request = ToPb(req);
    pb::RangeResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Range", TimeoutOf(req.timeout), [&](grpc::ClientContext* ctx) {
      return c.kv->Range(ctx, request, &response);
    }));
    return FromPb(response);
  }

  Result<PutResult> Put(const std::string& endpoint, const PutRequest& req) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    const pb::PutRequest request = ToPb(req);
    pb::PutResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Put", TimeoutOf(req.timeout), [&](grpc::ClientContext* ctx) {
      return c.kv->Put(ctx, request, &response);
    }));
    return PutResult{FromPb(response.header())};
  }

  Result<DeleteRangeResult> DeleteRange(const std::string& endpoint,
                                        const DeleteRangeRequest& req) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    const pb::DeleteRangeRequest request = ToPb(req);
    pb::DeleteRangeResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "DeleteRange", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.kv->DeleteRange(ctx, request, &response);
    }));
    return DeleteRangeResult{FromPb(response.header()), response.deleted()};
  }

  Result<ResponseHeader> Compact(const std::string& endpoint, int64_t revision,
                                 bool physical) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    pb::CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(physical);
    pb::CompactionResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Compact", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.kv->Compact(ctx, request, &response);
    }));
    return FromPb(response.header());
  }

  Result<ResponseHeader> Defragment(const std::string& endpoint) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    pb::DefragmentRequest request;
    pb::DefragmentResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Defragment", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.maintenance->Defragment(ctx, request, &response);
    }));
    return FromPb(response.header());
  }

  Result<HashKVResult> HashKV(const std::string& endpoint, int64_t revision) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    pb::HashKVRequest request;
    request.set_revision(revision);
    pb::HashKVResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "HashKV", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.maintenance->HashKV(ctx, request, &response);
    }));
    return HashKVResult{FromPb(response.header()), response.hash(), response.compact_revision()};
  }

  Result<ResponseHeader> MoveLeader(const std::string& endpoint,
                                    uint64_t target_member_id) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    Connection& c = **found;
    pb::MoveLeaderRequest request;
    request.set_targetid(target_member_id);
    pb::MoveLeaderResponse response;
    ETCDMON_RETURN_IF_ERROR(Call(c, "MoveLeader", request_timeout_, [&](grpc::ClientContext* ctx) {
      return c.maintenance->MoveLeader(ctx, request, &response);
    }));
    return FromPb(response.header());
  }

  Result<SnapshotResult> Snapshot(const std::string& endpoint, const SnapshotSink& sink,
                                  std::chrono::milliseconds timeout) override {
    auto found = Find(endpoint);
    if (!found.ok()) {
      return found.status();
    }
    if (timeout.count() <= 0) {
      return Status::InvalidArgument("endpoint " + endpoint +
                                     ": Snapshot: timeout must be positive");
    }
    Connection& c = **found;
    SnapshotResult out;
    Status sink_status;
    ETCDMON_RETURN_IF_ERROR(Call(c, "Snapshot", timeout, [&](grpc::ClientContext* ctx) {
      pb::SnapshotRequest request;
      std::unique_ptr<grpc::ClientReader<pb::SnapshotResponse>> reader =
          c.maintenance->Snapshot(ctx, request);
      pb::SnapshotResponse chunk;
      bool first = true;
      while (reader->Read(&chunk)) {
        if (first) {
          out.header = FromPb(chunk.header());
          first = false;
        }
        if (chunk.blob().empty()) {
          continue;
        }
        sink_status = sink(chunk.blob());
        if (!sink_status.ok()) {
          ctx->TryCancel();
          break;
        }
        out.bytes += chunk.blob().size();
      }
      grpc::Status finished = reader->Finish();
      if (!sink_status.ok()) {
        // The sink's error is the result; the cancellation it caused is not retried.
        return grpc::Status::OK;
      }
      return finished;
    }));
    if (!sink_status.ok()) {
      return sink_status.WithContext("endpoint " + c.authority + ": Snapshot");
    }
    return out;
  }

 private:
  // A request's own deadline, or the client's.
  std::chrono::milliseconds TimeoutOf(std::chrono::milliseconds requested) const {
    return requested.count() > 0 ? requested : request_timeout_;
  }

  Result<Connection*> Find(const std::string& endpoint) {
    for (const auto& c : connections_) {
      if (c->authority == endpoint) {
        return c.get();
      }
    }
    return Status::InvalidArgument("endpoint " + endpoint + " is not configured (configured: " +
                                   strings::Join(Endpoints(), ", ") + ")");
  }

  // Waits for the channel to be connected: up to the dial timeout, or only kRecheckTimeout
  // while the endpoint is known to be unreachable, so that a dead member does not cost a full
  // dial timeout on every call. A connection attempt that fails outright (refused, reset, no
  // route) ends the wait at once: only a member that accepts and then says nothing costs the
  // whole dial timeout. gRPC keeps reconnecting in the background either way.
  // gRPC does not say why a connection attempt failed, so a fail-fast call on the failing
  // channel fetches the last connection error.
  Status EnsureConnected(Connection& c) {
    grpc_connectivity_state state = c.channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) {
      c.SetUnreachable(false);
      return Status::Ok();
    }
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      // Retry now rather than after the backoff: the member may be back.
      grpc::experimental::ChannelResetConnectionBackoff(c.channel.get());
    }
    const bool was_unreachable = c.Unreachable();
    const std::chrono::milliseconds wait =
        was_unreachable ? std::min(dial_timeout_, kRecheckTimeout) : dial_timeout_;
    const auto deadline = WallClock::now() + wait;
    bool attempted = false;    // a connection attempt began (CONNECTING) during this wait
    bool failed_fast = false;  // ...and failed before the deadline
    while (true) {
      if (!c.channel->WaitForStateChange(state, deadline)) {
        break;  // the dial timeout passed
      }
      attempted = attempted || state == GRPC_CHANNEL_CONNECTING;
      state = c.channel->GetState(/*try_to_connect=*/true);
      if (state == GRPC_CHANNEL_READY) {
        c.SetUnreachable(false);
        return Status::Ok();
      }
      if (state == GRPC_CHANNEL_TRANSIENT_FAILURE && attempted) {
        failed_fast = true;
        break;
      }
    }
    pb::StatusRequest request;
    pb::StatusResponse response;
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(false);
    ctx.set_deadline(WallClock::now() + kProbeTimeout);
    grpc::Status probe = c.maintenance->Status(&ctx, request, &response);
    std::string reason;
    if (probe.ok()) {
      c.SetUnreachable(false);
      return Status::Ok();  // connected just after the wait
    }
    if (probe.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      reason = "connection not established (the server accepts but does not answer)";
    } else if (probe.error_code() == grpc::StatusCode::UNAVAILABLE &&
               probe.error_message().rfind("etcdserver:", 0) != 0) {
      reason = DescribeConnectError(probe.error_message());
      if (c.tls && reason == "connection failed") {
        // A server that rejects our client certificate often just drops the connection.
        reason =
            "connection failed (refused or TLS handshake failed; check the client "
            "certificate)";
      }
      reason += " (" + probe.error_message() + ")";
    } else {
      c.SetUnreachable(false);
      return Status::Ok();  // the server itself answered, so the channel is connected
    }
    c.SetUnreachable(true);
    if (was_unreachable) {
      return Status::Unavailable("endpoint " + c.authority + ": still cannot connect: " + reason);
    }
    if (failed_fast) {
      return Status::Unavailable("endpoint " + c.authority + ": cannot connect: " + reason);
    }
    return Status::Unavailable("endpoint " + c.authority + ": cannot connect within " +
                               FormatDuration(dial_timeout_) + ": " + reason);
  }

  // Exchanges the user name and password for a token of this endpoint.
  Status Authenticate(Connection& c, std::string* token) {
    pb::AuthenticateRequest request;
    request.set_name(username_);
    request.set_password(password_.Reveal());
    pb::AuthenticateResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(WallClock::now() + request_timeout_);
    grpc::Status s = c.auth->Authenticate(&ctx, request, &response);
    if (!s.ok()) {
      return StatusFromGrpc(c.authority, "Authenticate as user \"" + username_ + "\"",
                            s.error_code(), s.error_message());
    }
    *token = response.token();
    c.SetToken(response.token());
    return Status::Ok();
  }

  // Runs one RPC: connects first (bounded by the dial timeout), attaches the auth token, sets
  // the deadline, and authenticates again once if etcd rejects the token (it expired).
  // `rpc` issues the call on the context it is given and may be run twice.
  template <typename Rpc>
  Status Call(Connection& c, std::string_view method, std::chrono::milliseconds timeout,
              Rpc&& rpc) {
    ETCDMON_RETURN_IF_ERROR(EnsureConnected(c));
    std::string token;
    bool fresh_token = false;
    if (!username_.empty()) {
      token = c.Token();
      if (token.empty()) {
        ETCDMON_RETURN_IF_ERROR(Authenticate(c, &token));
        fresh_token = true;
      }
    }
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(WallClock::now() + timeout);
      if (!token.empty()) {
        ctx.AddMetadata(kTokenMetadataKey, token);
      }
      grpc::Status s = rpc(&ctx);
      if (s.ok()) {
        return Status::Ok();
      }
      if (!username_.empty() && !fresh_token &&
          IsTokenRejected(s.error_code(), s.error_message())) {
        ETCDMON_RETURN_IF_ERROR(Authenticate(c, &token));
        fresh_token = true;
        continue;
      }
      return StatusFromGrpc(c.authority, method, s.error_code(), s.error_message());
    }
  }

  const std::chrono::milliseconds dial_timeout_;
  const std::chrono::milliseconds request_timeout_;
  const std::string username_;
  const config::Secret password_;
  // Set once in the constructor; the Connection objects synchronise their own token.
  const std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace

Result<std::unique_ptr<EtcdClient>> NewEtcdClient(const config::EtcdConnectionConfig& config) {
  Result<ChannelFactory> factory = ChannelFactory::Create(config);
  if (!factory.ok()) {
    return factory.status();
  }
  std::vector<std::unique_ptr<Connection>> connections;
  for (const config::Endpoint& endpoint : config.endpoints) {
    Result<std::shared_ptr<grpc::Channel>> channel = factory->Dial(endpoint);
    if (!channel.ok()) {
      return channel.status();
    }
    auto c = std::make_unique<Connection>();
    c->authority = endpoint.Authority();
    c->tls = config.UsesTls(endpoint);
    c->channel = std::move(channel).value();
    c->kv = pb::KV::NewStub(c->channel);
    c->maintenance = pb::Maintenance::NewStub(c->channel);
    c->cluster = pb::Cluster::NewStub(c->channel);
    c->auth = pb::Auth::NewStub(c->channel);
    connections.push_back(std::move(c));
  }
  return std::unique_ptr<EtcdClient>(
      std::make_unique<EtcdClientImpl>(config, std::move(connections)));
}

}  // namespace etcdmon::etcd
