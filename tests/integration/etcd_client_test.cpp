// EtcdClient against real etcd processes: a shared 3-member cluster, a 1-member TLS cluster and
// a 1-member cluster with auth enabled, each started once per suite. Every behaviour is checked
// for both clients, gRPC (NewEtcdClient) and the JSON gateway (NewGatewayEtcdClient), except
// HashKV and snapshots, which only the gRPC client does.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/gateway_client.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/ports.h"

// LeakSanitizer (ETCDMON_SANITIZE builds): c-ares, gRPC's DNS resolver, keeps a small
// allocation from resolving "localhost" for the life of the process. It is not ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcares.so\n"; }

namespace etcdmon::etcd {
namespace {

using std::chrono::milliseconds;
using testing::EtcdClusterOptions;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct ClientKind {
  const char* name;
  Result<std::unique_ptr<EtcdClient>> (*make)(const config::EtcdConnectionConfig&);
};
const ClientKind kGrpc{"grpc", &NewEtcdClient};
const ClientKind kGateway{"gateway", &NewGatewayEtcdClient};
std::string KindName(const ::testing::TestParamInfo<ClientKind>& info) { return info.param.name; }

std::unique_ptr<EtcdClient> MustConnect(const config::EtcdConnectionConfig& config,
                                        const ClientKind& kind) {
  auto client = kind.make(config);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// ---- a 3-member cluster ----

class EtcdClientClusterTest
    : public testing::EtcdClusterSuite<EtcdClientClusterTest,
                                       ::testing::TestWithParam<ClientKind>> {
 protected:
  void SetUp() override {
    EtcdClusterSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    client_ = MustConnect(cluster().ConnectionConfig(), GetParam());
    ASSERT_NE(client_, nullptr);
  }

  std::string Endpoint(size_t i) { return cluster().ClientEndpoint(i); }

  // The index of the leader once every member names the same leader and that member agrees.
  // Bounded: after a pause or restart, members may briefly disagree while an election settles.
  Result<size_t> WaitForAgreedLeader() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string last = "no status yet";
    while (std::chrono::steady_clock::now() < deadline) {
      std::set<uint64_t> leaders;
      size_t leader_index = cluster().size();
      for (size_t i = 0; i < cluster().size(); ++i) {
        auto status = client_->GetStatus(Endpoint(i));
        if (!status.ok()) {
          last = status.status().ToString();
          leaders.insert(0);
          continue;
        }
        leaders.insert(status->leader);
        if (status->IsLeader()) {
          leader_index = i;
        }
      }
      if (leaders.size() == 1 && *leaders.begin() != 0 && leader_index < cluster().size()) {
        return leader_index;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return Status::DeadlineExceeded("members do not agree on a leader; last error: " + last);
  }

  std::unique_ptr<EtcdClient> client_;
};

INSTANTIATE_TEST_SUITE_P(Clients, EtcdClientClusterTest, ::testing::Values(kGrpc, kGateway),
                         KindName);

// HashKV and snapshots: the gRPC client only (the gateway client says so, see the unit tests).
class EtcdClientGrpcOnlyTest : public EtcdClientClusterTest {};
INSTANTIATE_TEST_SUITE_P(Clients, EtcdClientGrpcOnlyTest, ::testing::Values(kGrpc), KindName);

// Every member reports the same cluster and leader, and exactly one of them is that leader.
TEST_P(EtcdClientClusterTest, StatusAgreesOnLeaderAndClusterId) {
  std::set<uint64_t> cluster_ids;
  std::set<uint64_t> leaders;
  std::set<uint64_t> member_ids;
  int leader_count = 0;
  for (size_t i = 0; i < cluster().size(); ++i) {
    auto status = client_->GetStatus(Endpoint(i));
    ASSERT_TRUE(status.ok()) << status.status().ToString();
    EXPECT_EQ(status->endpoint, Endpoint(i));
    EXPECT_NE(status->member_id, 0u);
    EXPECT_GT(status->raft_term, 0u);
    EXPECT_GT(status->raft_index, 0u);
    EXPECT_GT(status->raft_applied_index, 0u);
    EXPECT_GT(status->revision, 0);
    EXPECT_GT(status->db_size, 0);
    EXPECT_GT(status->db_size_in_use, 0);
    EXPECT_LE(status->db_size_in_use, status->db_size);
    EXPECT_EQ(status->version.rfind("3.", 0), 0u) << status->version;
    EXPECT_FALSE(status->is_learner);
    EXPECT_TRUE(status->errors.empty());
    cluster_ids.insert(status->cluster_id);
    leaders.insert(status->leader);
    member_ids.insert(status->member_id);
    if (status->IsLeader()) {
      ++leader_count;
    }
  }
  EXPECT_EQ(cluster_ids.size(), 1u);
  EXPECT_NE(*cluster_ids.begin(), 0u);
  EXPECT_EQ(leaders.size(), 1u);
  EXPECT_EQ(member_ids.size(), 3u);
  EXPECT_EQ(member_ids.count(*leaders.begin()), 1u);
  EXPECT_EQ(leader_count, 1);
}

// MemberList names every member with its peer and client URLs.
TEST_P(EtcdClientClusterTest, MemberListListsAllMembers) {
  auto list = client_->MemberList(Endpoint(1));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_NE(list->header.cluster_id, 0u);
  EXPECT_NE(list->header.member_id, 0u);
  ASSERT_EQ(list->members.size(), 3u);
  std::set<std::string> names;
  for (const Member& m : list->members) {
    names.insert(m.name);
    EXPECT_NE(m.id, 0u);
    EXPECT_FALSE(m.is_learner);
    ASSERT_EQ(m.peer_urls.size(), 1u) << m.name;
    ASSERT_EQ(m.client_urls.size(), 1u) << m.name;
    const size_t index = static_cast<size_t>(m.name.back() - '0');
    ASSERT_LT(index, cluster().size()) << m.name;
    EXPECT_EQ(m.peer_urls[0], cluster().PeerUrl(index));
    EXPECT_EQ(m.client_urls[0], cluster().ClientUrl(index));
  }
  EXPECT_EQ(names, (std::set<std::string>{"etcd0", "etcd1", "etcd2"}));
}

// A put is visible to linearizable reads anywhere and to serializable reads where it was made;
// prefix ranges and deletes work.
TEST_P(EtcdClientClusterTest, PutRangeAndDeleteRange) {
  const std::string prefix = "/etcdmon-test/kv/";
  auto put = client_->Put(Endpoint(0), PutRequest{prefix + "a", "value-a", 0});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_GT(put->header.revision, 0);
  ASSERT_TRUE(client_->Put(Endpoint(0), PutRequest{prefix + "b", "value-b", 0}).ok());

  RangeRequest get;
  get.key = prefix + "a";
  auto linearizable = client_->Range(Endpoint(1), get);
  ASSERT_TRUE(linearizable.ok()) << linearizable.status().ToString();
  ASSERT_EQ(linearizable->kvs.size(), 1u);
  EXPECT_EQ(linearizable->kvs[0].key, prefix + "a");
  EXPECT_EQ(linearizable->kvs[0].value, "value-a");
  EXPECT_EQ(linearizable->kvs[0].mod_revision, put->header.revision);
  EXPECT_GE(linearizable->header.revision, put->header.revision + 1);

  get.serializable = true;
  auto serializable = client_->Range(Endpoint(0), get);
  ASSERT_TRUE(serializable.ok()) << serializable.status().ToString();
  ASSERT_EQ(serializable->kvs.size(), 1u);
  EXPECT_EQ(serializable->kvs[0].value, "value-a");

  RangeRequest all;
  all.key = prefix;
  all.range_end = PrefixRangeEnd(prefix);
  all.count_only = true;
  auto counted = client_->Range(Endpoint(2), all);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(counted->count, 2);
  EXPECT_TRUE(counted->kvs.empty());

  auto deleted =
      client_->DeleteRange(Endpoint(2), DeleteRangeRequest{prefix, PrefixRangeEnd(prefix)});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->deleted, 2);
  all.count_only = false;
  auto after = client_->Range(Endpoint(0), all);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->count, 0);
  EXPECT_TRUE(after->kvs.empty());
}

// One client serves many threads at once.
TEST_P(EtcdClientClusterTest, ConcurrentCallsShareOneClient) {
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int n = 0; n < kCallsPerThread; ++n) {
        const std::string endpoint = Endpoint(static_cast<size_t>(n) % cluster().size());
        const std::string key = "/etcdmon-test/concurrent/" + std::to_string(t);
        if (!client_->Put(endpoint, PutRequest{key, std::to_string(n), 0}).ok()) {
          ++failures;
        }
        RangeRequest get;
        get.key = key;
        auto got = client_->Range(endpoint, get);
        if (!got.ok() || got->kvs.size() != 1 || got->kvs[0].value != std::to_string(n)) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

// Members agree on the hash of the key space.
TEST_P(EtcdClientGrpcOnlyTest, HashKVAgreesAcrossMembers) {
  auto put = client_->Put(Endpoint(0), PutRequest{"/etcdmon-test/hash", "x", 0});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const int64_t revision = put->header.revision;
  std::set<uint32_t> hashes;
  for (size_t i = 0; i < cluster().size(); ++i) {
    // A linearizable read makes sure the member has applied `revision`.
    RangeRequest sync;
    sync.key = "/etcdmon-test/hash";
    ASSERT_TRUE(client_->Range(Endpoint(i), sync).ok());
    auto hash = client_->HashKV(Endpoint(i), revision);
    ASSERT_TRUE(hash.ok()) << hash.status().ToString();
    hashes.insert(hash->hash);
  }
  EXPECT_EQ(hashes.size(), 1u);
}

// Compaction, defragmentation and alarms work; a read below the compacted revision fails.
TEST_P(EtcdClientClusterTest, CompactDefragmentAndAlarms) {
  const std::string key = std::string("/etcdmon-test/compact/") + GetParam().name;
  auto put = client_->Put(Endpoint(0), PutRequest{key, "x", 0});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const int64_t revision = put->header.revision;
  ASSERT_TRUE(client_->Put(Endpoint(0), PutRequest{key, "y", 0}).ok());

  auto compacted = client_->Compact(Endpoint(0), revision, /*physical=*/true);
  ASSERT_TRUE(compacted.ok()) << compacted.status().ToString();
  RangeRequest old;
  old.key = key;
  old.revision = revision - 1;
  auto stale = client_->Range(Endpoint(0), old);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(stale.status().message(), "compacted")) << stale.status().message();

  auto defrag = client_->Defragment(Endpoint(1));
  ASSERT_TRUE(defrag.ok()) << defrag.status().ToString();

  auto alarms = client_->Alarms(Endpoint(2), AlarmAction::kGet, Alarm{});
  ASSERT_TRUE(alarms.ok()) << alarms.status().ToString();
  EXPECT_TRUE(alarms->empty());
}

// A snapshot streams the whole database to the sink; a failing sink aborts it with its error.
TEST_P(EtcdClientGrpcOnlyTest, SnapshotStreamsToSink) {
  std::string data;
  auto snapshot = client_->Snapshot(
      Endpoint(0),
      [&data](std::string_view chunk) {
        data.append(chunk);
        return Status::Ok();
      },
      milliseconds(10000));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_GT(snapshot->bytes, 0u);
  EXPECT_EQ(snapshot->bytes, data.size());

  auto aborted = client_->Snapshot(
      Endpoint(0), [](std::string_view) { return Status::ResourceExhausted("disk full"); },
      milliseconds(10000));
  ASSERT_FALSE(aborted.ok());
  EXPECT_EQ(aborted.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(aborted.status().message(), "disk full")) << aborted.status().message();
}

// An endpoint with nothing listening fails with kUnavailable, saying why, as soon as the
// connection is refused (not after the dial timeout).
TEST_P(EtcdClientClusterTest, UnreachableEndpointIsUnavailable) {
  auto port = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  config::EtcdConnectionConfig config;
  config::Endpoint dead;
  dead.host = "127.0.0.1";
  dead.port = (*port)[0];
  config.endpoints = {dead};
  config.dial_timeout = milliseconds(1000);
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  const std::string endpoint = "127.0.0.1:" + std::to_string(dead.port);

  const auto start = std::chrono::steady_clock::now();
  auto status = client->GetStatus(endpoint);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable) << status.status().ToString();
  EXPECT_TRUE(Contains(status.status().message(), "endpoint " + endpoint))
      << status.status().message();
  EXPECT_TRUE(Contains(status.status().message(), "cannot connect: connection refused"))
      << status.status().message();
  EXPECT_TRUE(Contains(status.status().message(), "connection refused"))
      << status.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  RecordProperty(
      "refused_after_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

// A killed member is kUnavailable while the others keep answering; after a restart the same
// client reaches it again.
TEST_P(EtcdClientClusterTest, KilledMemberIsUnavailableUntilRestarted) {
  ASSERT_TRUE(client_->GetStatus(Endpoint(2)).ok());
  ASSERT_TRUE(cluster().Kill(2).ok());

  auto down = client_->GetStatus(Endpoint(2));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  EXPECT_TRUE(Contains(down.status().message(), "endpoint " + Endpoint(2)))
      << down.status().message();
  EXPECT_TRUE(client_->GetStatus(Endpoint(0)).ok());
  // Once a dial has failed, further calls re-check briefly instead of waiting a dial timeout.
  auto first_dial = client_->GetStatus(Endpoint(2));
  ASSERT_FALSE(first_dial.ok());
  EXPECT_EQ(first_dial.status().code(), StatusCode::kUnavailable);
  auto recheck = client_->GetStatus(Endpoint(2));
  ASSERT_FALSE(recheck.ok());
  EXPECT_EQ(recheck.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(recheck.status().message(), "still cannot connect: connection refused"))
      << recheck.status().message();

  Status restarted = cluster().Restart(2);
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  auto up = client_->GetStatus(Endpoint(2));
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_NE(up->leader, 0u);
}

// A member that stops answering (SIGSTOP) makes calls fail with kDeadlineExceeded instead of
// blocking.
TEST_P(EtcdClientClusterTest, PausedMemberHitsTheRequestDeadline) {
  auto leader = WaitForAgreedLeader();
  ASSERT_TRUE(leader.ok()) << leader.status().ToString();
  const size_t follower = (*leader + 1) % cluster().size();  // leadership stays put
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.request_timeout = milliseconds(500);
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->GetStatus(Endpoint(follower)).ok());  // connected before the pause

  ASSERT_TRUE(cluster().Pause(follower).ok());
  auto status = client->GetStatus(Endpoint(follower));
  ASSERT_TRUE(cluster().Resume(follower).ok());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kDeadlineExceeded) << status.status().ToString();
  EXPECT_TRUE(Contains(status.status().message(), "endpoint " + Endpoint(follower)))
      << status.status().message();
  ASSERT_TRUE(cluster().WaitHealthy(follower, milliseconds(10000)).ok());
}

// Leadership moves to the requested member.
TEST_P(EtcdClientClusterTest, MoveLeaderTransfersLeadership) {
  auto leader = WaitForAgreedLeader();
  ASSERT_TRUE(leader.ok()) << leader.status().ToString();
  auto leader_status = client_->GetStatus(Endpoint(*leader));
  ASSERT_TRUE(leader_status.ok()) << leader_status.status().ToString();
  const size_t target = (*leader + 1) % cluster().size();
  auto target_status = client_->GetStatus(Endpoint(target));
  ASSERT_TRUE(target_status.ok()) << target_status.status().ToString();

  auto moved = client_->MoveLeader(Endpoint(*leader), target_status->member_id);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  auto after = client_->GetStatus(Endpoint(target));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_NE(after->leader, leader_status->member_id);
  EXPECT_TRUE(after->IsLeader());
}

// ---- a TLS member ----

class EtcdClientTlsTest
    : public testing::EtcdClusterSuite<EtcdClientTlsTest, ::testing::TestWithParam<ClientKind>> {
 public:
  static EtcdClusterOptions ClusterOptions() {
    EtcdClusterOptions options;
    options.members = 1;
    options.tls = true;
    return options;
  }

 protected:
  std::string Endpoint() { return cluster().ClientEndpoint(0); }
};

INSTANTIATE_TEST_SUITE_P(Clients, EtcdClientTlsTest, ::testing::Values(kGrpc, kGateway), KindName);

// The right CA and client certificate give a working client.
TEST_P(EtcdClientTlsTest, WorksWithTrustedCaAndClientCertificate) {
  auto client = MustConnect(cluster().ConnectionConfig(), GetParam());
  ASSERT_NE(client, nullptr);
  auto status = client->GetStatus(Endpoint());
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_TRUE(status->IsLeader());
  ASSERT_TRUE(client->Put(Endpoint(), PutRequest{"/etcdmon-test/tls", "yes", 0}).ok());
}

// The server certificate also matches the name "localhost" (DNS SAN).
TEST_P(EtcdClientTlsTest, VerifiesHostName) {
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.endpoints[0].host = "localhost";
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  auto status = client->GetStatus("localhost:" + std::to_string(cluster().ClientPort(0)));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
}

// Trusting the wrong CA fails with kUnavailable and a message that names the endpoint and TLS.
TEST_P(EtcdClientTlsTest, WrongCaFailsWithClearError) {
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.tls.ca_file = cluster().Certificates().other_ca_cert;
  config.dial_timeout = milliseconds(1000);
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  auto status = client->GetStatus(Endpoint());
  ASSERT_FALSE(status.ok());
  const std::string message = status.status().message();
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable) << message;
  EXPECT_TRUE(Contains(message, "endpoint " + Endpoint())) << message;
  EXPECT_TRUE(Contains(message, "TLS")) << message;
  std::cout << "wrong CA: " << message << "\n";
}

// insecure_skip_verify accepts a server whose CA is not trusted, still presenting the client
// certificate the server requires.
TEST_P(EtcdClientTlsTest, InsecureSkipVerifyAcceptsUntrustedServer) {
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.tls.ca_file = cluster().Certificates().other_ca_cert;
  config.tls.insecure_skip_verify = true;
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  auto status = client->GetStatus(Endpoint());
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  RangeRequest get;
  get.key = "/etcdmon-test/tls";
  ASSERT_TRUE(client->Range(Endpoint(), get).ok());
}

// Without a client certificate the server (with --client-cert-auth) refuses the connection.
TEST_P(EtcdClientTlsTest, MissingClientCertificateIsRefused) {
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.tls.cert_file.clear();
  config.tls.key_file.clear();
  config.dial_timeout = milliseconds(1000);
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  auto status = client->GetStatus(Endpoint());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnavailable) << status.status().ToString();
  EXPECT_TRUE(Contains(status.status().message(), "endpoint " + Endpoint()))
      << status.status().message();
  EXPECT_TRUE(Contains(status.status().message(), "TLS")) << status.status().message();
  std::cout << "no client certificate: " << status.status().message() << "\n";
}

// Plain text towards a TLS port fails with kUnavailable rather than hanging.
TEST_P(EtcdClientTlsTest, PlaintextToTlsServerIsUnavailable) {
  config::EtcdConnectionConfig config;
  config::Endpoint e;
  e.scheme = "http";
  e.host = "127.0.0.1";
  e.port = cluster().ClientPort(0);
  config.endpoints = {e};
  config.dial_timeout = milliseconds(1000);
  config.request_timeout = milliseconds(1000);
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  auto status = client->GetStatus(Endpoint());
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.status().code() == StatusCode::kUnavailable ||
              status.status().code() == StatusCode::kDeadlineExceeded)
      << status.status().ToString();
  std::cout << "plaintext to TLS: " << status.status().message() << "\n";
}

// ---- a member with auth enabled ----

class EtcdClientAuthTest
    : public testing::EtcdClusterSuite<EtcdClientAuthTest, ::testing::TestWithParam<ClientKind>> {
 public:
  static constexpr char kRootPassword[] = "root-pw-for-tests";

  static EtcdClusterOptions ClusterOptions() {
    EtcdClusterOptions options;
    options.members = 1;
    return options;
  }
  static void SetUpTestSuite() {
    EtcdClusterSuite::SetUpTestSuite();
    if (start_error().empty()) {
      Status s = cluster().EnableAuth(kRootPassword);
      if (!s.ok()) {
        ResetCluster("enabling auth failed: " + s.ToString());
      }
    }
  }

 protected:
  std::string Endpoint() { return cluster().ClientEndpoint(0); }
};

INSTANTIATE_TEST_SUITE_P(Clients, EtcdClientAuthTest, ::testing::Values(kGrpc, kGateway), KindName);

// The right password gives a token that authorises reads and writes.
TEST_P(EtcdClientAuthTest, CorrectPasswordWorks) {
  auto client = MustConnect(cluster().ConnectionConfig(), GetParam());
  ASSERT_NE(client, nullptr);
  auto put = client->Put(Endpoint(), PutRequest{"/etcdmon-test/auth", "ok", 0});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  RangeRequest get;
  get.key = "/etcdmon-test/auth";
  auto got = client->Range(Endpoint(), get);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "ok");
}

// A wrong password is kUnauthenticated, and the message does not contain the password.
TEST_P(EtcdClientAuthTest, WrongPasswordIsUnauthenticated) {
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.password = config::Secret("not-the-password");
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  RangeRequest get;
  get.key = "/etcdmon-test/auth";
  auto status = client->Range(Endpoint(), get);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnauthenticated) << status.status().ToString();
  EXPECT_TRUE(Contains(status.status().message(), "endpoint " + Endpoint()))
      << status.status().message();
  EXPECT_FALSE(Contains(status.status().message(), "not-the-password"))
      << status.status().message();
}

// Without credentials a cluster with auth enabled answers kUnauthenticated.
TEST_P(EtcdClientAuthTest, MissingCredentialsAreUnauthenticated) {
  config::EtcdConnectionConfig config = cluster().ConnectionConfig();
  config.username.clear();
  config.password = config::Secret();
  auto client = MustConnect(config, GetParam());
  ASSERT_NE(client, nullptr);
  RangeRequest get;
  get.key = "/etcdmon-test/auth";
  auto status = client->Range(Endpoint(), get);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kUnauthenticated) << status.status().ToString();
}

// When etcd invalidates the token (here: the auth store changed), the client authenticates
// again and the call succeeds.
TEST_P(EtcdClientAuthTest, ReauthenticatesWhenTokenIsRejected) {
  auto client = MustConnect(cluster().ConnectionConfig(), GetParam());
  ASSERT_NE(client, nullptr);
  RangeRequest get;
  get.key = "/etcdmon-test/auth";
  ASSERT_TRUE(client->Range(Endpoint(), get).ok());
  const std::string user = std::string("other-") + GetParam().name;
  auto added = cluster().Etcdctl({"user", "add", user + ":other-pw", "--interactive=false"});
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  auto put = client->Put(Endpoint(), PutRequest{"/etcdmon-test/auth", "again", 0});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto got = client->Range(Endpoint(), get);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
}

}  // namespace
}  // namespace etcdmon::etcd
