// The services' gRPC ports attacked as a network neighbour would: the real MonitorService
// (aggregator) and AlertService (alerter), with certificates made at test time. Every method,
// enumerated from the service descriptor so that a new one cannot be forgotten, refuses a call
// without the token or with a wrong one (UNAUTHENTICATED); the right token over TLS works; mTLS
// refuses a client without a certificate; the binaries refuse to listen beyond loopback without
// TLS and authentication (exit 2, one line); the default bind is 127.0.0.1; the gateway refuses
// to send its token in clear beyond loopback.

#include <arpa/inet.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/alerter/service.h"
#include "etcdmon/config/exit_codes.h"
#include "etcdmon/gateway/grpc_backends.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/testing/command_line.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/testing/test_certs.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;

constexpr char kToken[] = "grpc-service-token-5b1f";
constexpr char kApiToken[] = "silence-api-token-77c2";
constexpr char kMonitorService[] = "etcdmonitor.v1.MonitorService";
constexpr char kAlertService[] = "etcdmonitor.v1.AlertService";

using Metadata = std::vector<std::pair<std::string, std::string>>;

std::shared_ptr<spdlog::logger> QuietLogger(const std::string& name) {
  auto logger = spdlog::default_logger()->clone(name);
  logger->set_level(spdlog::level::warn);
  return logger;
}

// "/package.Service/Method" of every method of `service`, from the generated descriptor.
std::vector<std::string> MethodPaths(const std::string& service) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  std::vector<std::string> paths;
  if (descriptor == nullptr) {
    return paths;
  }
  for (int i = 0; i < descriptor->method_count(); ++i) {
    paths.push_back("/" + service + "/" + descriptor->method(i)->name());
  }
  return paths;
}

// One unary call of `path` with an empty request (valid for every message type), as any gRPC
// client could make it.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                     const Metadata& metadata) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  for (const auto& [key, value] : metadata) {
    context.AddMetadata(key, value);
  }
  grpc::CompletionQueue queue;
  grpc::Slice empty{std::string()};
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, path, request, &queue);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  queue.Next(&tag, &ok);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return status;
}

// The status code of every method of `service`, by path.
std::map<std::string, grpc::StatusCode> CallEveryMethod(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    const Metadata& metadata) {
  std::map<std::string, grpc::StatusCode> codes;
  for (const std::string& path : MethodPaths(service)) {
    codes[path] = CallRaw(channel, path, metadata).error_code();
  }
  return codes;
}

Metadata Bearer(const std::string& token) { return {{"authorization", "Bearer " + token}}; }

// `metadata` plus the API token CreateSilence and ExpireSilence check on their own, so that a call
// passed by the service's check gets as far as the method.
Metadata WithApiToken(Metadata metadata) {
  metadata.emplace_back("etcdmon-api-token", std::string("Bearer ") + kApiToken);
  return metadata;
}

// The local addresses of the sockets listening on TCP `port`, as /proc/net/tcp and tcp6 show
// them (hex, e.g. "0100007F" for 127.0.0.1, "00000000" for 0.0.0.0). Read from the kernel, so the
// answer does not depend on which other addresses this host happens to have.
std::vector<std::string> ListeningAddressesOfPort(int port) {
  std::vector<std::string> found;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const std::size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) {  // 0A: LISTEN
        continue;
      }
      if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) {
        found.push_back(local.substr(0, colon));
      }
    }
  }
  return found;
}

// True when a TCP connection to ip:port is accepted.
bool TcpConnects(const std::string& ip, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return connected;
}

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class GrpcSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::TestCertificates> certs = testing::GenerateTestCertificates(dir_.File("certs"));
    ASSERT_TRUE(certs.ok()) << certs.status().message();
    certs_ = *certs;
    // Private keys must be the owner's alone, or the binaries refuse them.
    ::chmod(certs_.server_key.c_str(), 0600);
    ::chmod(certs_.client_key.c_str(), 0600);
    token_file_ = dir_.File("grpc-token");
    std::ofstream(token_file_) << kToken << "\n";
    ::chmod(token_file_.c_str(), 0600);
  }

  void TearDown() override {
    if (alerter_) alerter_->Stop();
    alerter_.reset();
    if (aggregator_) aggregator_->Stop();
    aggregator_.reset();
  }

  rpc::ServerSecurity TlsAndToken() const {
    rpc::ServerSecurity s;
    s.tls_cert_file = certs_.server_cert;
    s.tls_key_file = certs_.server_key;
    s.token = config::Secret(kToken);
    return s;
  }

  // Both services on 127.0.0.1 with `security`.
  void StartServices(const rpc::ServerSecurity& security) {
    aggregator::AggregatorConfig a;
    a.ingest_endpoint = "tcp://127.0.0.1:0";
    a.publish_endpoint = "tcp://127.0.0.1:0";
    a.grpc_address = "127.0.0.1:0";
    a.grpc_security = security;
    a.history.path = dir_.File("history.db");
    auto aggregator = aggregator::AggregatorService::Create(a, QuietLogger("aggregator"));
    ASSERT_TRUE(aggregator.ok()) << aggregator.status().message();
    aggregator_ = std::move(aggregator).value();
    ASSERT_TRUE(aggregator_->Start().ok());

    alerter::AlerterConfig c;
    c.snapshot_endpoint = aggregator_->publish_endpoint();
    c.grpc_address = "127.0.0.1:0";
    c.grpc_security = security;
    c.db_path = dir_.File("alerts.db");
    c.api_token = config::Secret(kApiToken);
    auto alerter = alerter::AlerterService::Create(c, {}, QuietLogger("alerter"));
    ASSERT_TRUE(alerter.ok()) << alerter.status().message();
    alerter_ = std::move(alerter).value();
    ASSERT_TRUE(alerter_->Start().ok());
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                         const rpc::ClientSecurity& security) {
    Result<std::shared_ptr<grpc::Channel>> channel = rpc::NewClientChannel(address, security);
    EXPECT_TRUE(channel.ok()) << channel.status().message();
    return channel.ok() ? *channel : nullptr;
  }

  rpc::ClientSecurity Tls() const {
    rpc::ClientSecurity s;
    s.ca_file = certs_.ca_cert;
    return s;
  }

  // Every method of both services, called with `metadata` over `client`.
  std::map<std::string, grpc::StatusCode> CallBoth(const rpc::ClientSecurity& client,
                                                   const Metadata& metadata) {
    std::map<std::string, grpc::StatusCode> codes =
        CallEveryMethod(Channel(aggregator_->grpc_address(), client), kMonitorService, metadata);
    for (const auto& entry :
         CallEveryMethod(Channel(alerter_->grpc_address(), client), kAlertService, metadata)) {
      codes.insert(entry);
    }
    return codes;
  }

  testing::TempDir dir_;
  testing::TestCertificates certs_;
  std::string token_file_;
  std::unique_ptr<aggregator::AggregatorService> aggregator_;
  std::unique_ptr<alerter::AlerterService> alerter_;
};

// The descriptors are where the method lists come from: both services have methods, including
// AlertService's mutating CreateSilence.
TEST_F(GrpcSecurityTest, MethodsComeFromTheServiceDescriptors) {
  EXPECT_GE(MethodPaths(kMonitorService).size(), 4u);
  const std::vector<std::string> alert_methods = MethodPaths(kAlertService);
  EXPECT_GE(alert_methods.size(), 5u);
  EXPECT_NE(std::find(alert_methods.begin(), alert_methods.end(),
                      "/etcdmonitor.v1.AlertService/CreateSilence"),
            alert_methods.end());
}

// Over TLS without the token, every method of both services is UNAUTHENTICATED.
TEST_F(GrpcSecurityTest, WithoutTheTokenEveryMethodIsUnauthenticated) {
  StartServices(TlsAndToken());
  const auto codes = CallBoth(Tls(), {});
  ASSERT_EQ(codes.size(), MethodPaths(kMonitorService).size() + MethodPaths(kAlertService).size());
  for (const auto& [path, code] : codes) {
    EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << path;
  }
}

// A wrong token, a prefix or extension of the right one, the right one without "Bearer " or
// under another scheme: every method of both services is UNAUTHENTICATED.
TEST_F(GrpcSecurityTest, WithAWrongTokenEveryMethodIsUnauthenticated) {
  StartServices(TlsAndToken());
  const std::string token = kToken;
  const std::vector<Metadata> attempts = {
      Bearer("wrong"),
      Bearer(token.substr(0, token.size() - 1)),
      Bearer(token + "x"),
      {{"authorization", token}},
      {{"authorization", "Basic " + token}},
      {{"authorization", "bearer " + token}},
      {{"etcdmon-api-token", "Bearer " + token}},
  };
  for (const Metadata& metadata : attempts) {
    for (const auto& [path, code] : CallBoth(Tls(), metadata)) {
      EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << path << " " << metadata[0].second;
    }
  }
}

// With the token over TLS every method is served (empty requests may be answered with other
// errors, never UNAUTHENTICATED), and the gateway's backends work, CreateSilence and
// ExpireSilence with their own API token beside the service token.
TEST_F(GrpcSecurityTest, WithTheTokenOverTlsEveryMethodIsServed) {
  StartServices(TlsAndToken());
  for (const auto& [path, code] : CallBoth(Tls(), WithApiToken(Bearer(kToken)))) {
    EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << path;
    EXPECT_NE(code, grpc::StatusCode::UNAVAILABLE) << path;
  }
  rpc::ClientSecurity client = Tls();
  client.token = config::Secret(kToken);
  auto monitor = gateway::NewGrpcMonitorBackend(aggregator_->grpc_address(), 10s, client);
  ASSERT_TRUE(monitor.ok()) << monitor.status().message();
  Result<etcdmonitor::v1::ServiceHealth> health = (*monitor)->GetHealth();
  EXPECT_TRUE(health.ok()) << health.status().message();
  auto alerts = gateway::NewGrpcAlertBackend(alerter_->grpc_address(), 10s, client);
  ASSERT_TRUE(alerts.ok()) << alerts.status().message();
  EXPECT_TRUE((*alerts)->ListSilences(/*include_expired=*/false, "").ok());
  etcdmonitor::v1::Silence silence;
  silence.set_comment("maintenance");
  silence.set_expires_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count() +
                              600000);
  Result<etcdmonitor::v1::Silence> created =
      (*alerts)->CreateSilence(silence, config::Secret(kApiToken));
  EXPECT_TRUE(created.ok()) << created.status().message();
  // The service token does not stand in for the API token.
  EXPECT_EQ((*alerts)->CreateSilence(silence, config::Secret(kToken)).status().code(),
            StatusCode::kUnauthenticated);
  // Nor for expiring: the API token does it.
  ASSERT_TRUE(created.ok());
  EXPECT_EQ((*alerts)->ExpireSilence(created->id(), config::Secret(kToken)).status().code(),
            StatusCode::kUnauthenticated);
  Result<etcdmonitor::v1::Silence> expired =
      (*alerts)->ExpireSilence(created->id(), config::Secret(kApiToken));
  EXPECT_TRUE(expired.ok()) << expired.status().message();
  EXPECT_EQ((*alerts)->ExpireSilence("ffffffffffffffff", config::Secret(kApiToken)).status().code(),
            StatusCode::kNotFound);
}

// A plaintext client cannot talk to the TLS port at all, token or not.
TEST_F(GrpcSecurityTest, PlaintextClientCannotReachTheTlsPort) {
  StartServices(TlsAndToken());
  for (const auto& [path, code] : CallBoth(rpc::ClientSecurity{}, Bearer(kToken))) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << path;
  }
}

// A token on loopback without TLS: every call needs it, plaintext clients with it are served
// (the gateway's backends included).
TEST_F(GrpcSecurityTest, TokenOnLoopbackWithoutTlsIsRequiredOnEveryMethod) {
  rpc::ServerSecurity security;
  security.token = config::Secret(kToken);
  StartServices(security);
  for (const auto& [path, code] : CallBoth(rpc::ClientSecurity{}, {})) {
    EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << path;
  }
  for (const auto& [path, code] : CallBoth(rpc::ClientSecurity{}, Bearer("wrong"))) {
    EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << path;
  }
  for (const auto& [path, code] : CallBoth(rpc::ClientSecurity{}, WithApiToken(Bearer(kToken)))) {
    EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << path;
    EXPECT_NE(code, grpc::StatusCode::UNAVAILABLE) << path;
  }
  rpc::ClientSecurity client;
  client.token = config::Secret(kToken);
  auto monitor = gateway::NewGrpcMonitorBackend(aggregator_->grpc_address(), 10s, client);
  ASSERT_TRUE(monitor.ok()) << monitor.status().message();
  EXPECT_TRUE((*monitor)->GetHealth().ok());
}

// mTLS: a client without a certificate is refused by both services, one with a certificate the
// CA signed is served.
TEST_F(GrpcSecurityTest, MutualTlsRefusesAClientWithoutACertificate) {
  rpc::ServerSecurity security;
  security.tls_cert_file = certs_.server_cert;
  security.tls_key_file = certs_.server_key;
  security.client_ca_file = certs_.ca_cert;
  StartServices(security);
  for (const auto& [path, code] : CallBoth(Tls(), {})) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << path;
  }
  rpc::ClientSecurity with_cert = Tls();
  with_cert.cert_file = certs_.client_cert;
  with_cert.key_file = certs_.client_key;
  for (const auto& [path, code] : CallBoth(with_cert, WithApiToken({}))) {
    EXPECT_NE(code, grpc::StatusCode::UNAVAILABLE) << path;
    EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << path;
  }
}

// The default bind is 127.0.0.1: the services built from their default address
// listen on loopback only.
TEST_F(GrpcSecurityTest, DefaultBindIsLoopback) {
  const std::string aggregator_default = aggregator::AggregatorConfig{}.grpc_address;
  const std::string alerter_default = alerter::AlerterConfig{}.grpc_address;
  EXPECT_EQ(aggregator_default, "127.0.0.1:5557");
  EXPECT_EQ(alerter_default, "127.0.0.1:5558");
  // The default host with a free port (5557 and 5558 may be taken on a shared machine).
  aggregator::AggregatorConfig a;
  a.ingest_endpoint = "tcp://127.0.0.1:0";
  a.publish_endpoint = "tcp://127.0.0.1:0";
  a.grpc_address = aggregator_default.substr(0, aggregator_default.rfind(':')) + ":0";
  a.history.path = dir_.File("history.db");
  auto aggregator = aggregator::AggregatorService::Create(a, QuietLogger("aggregator"));
  ASSERT_TRUE(aggregator.ok()) << aggregator.status().message();
  aggregator_ = std::move(aggregator).value();
  const int port = PortOf(aggregator_->grpc_address());
  EXPECT_TRUE(TcpConnects("127.0.0.1", port));
  // Only a loopback listener: nothing on 0.0.0.0, [::] or another address. gRPC may listen on
  // an IPv6 socket holding the IPv4-mapped ::ffff:127.0.0.1.
  const std::vector<std::string> listening = ListeningAddressesOfPort(port);
  ASSERT_FALSE(listening.empty());
  for (const std::string& address : listening) {
    EXPECT_TRUE(address == "0100007F" || address == "0000000000000000FFFF00000100007F") << address;
  }
}

// A service configured to listen beyond loopback without TLS and authentication does not start,
// whoever builds its config.
TEST_F(GrpcSecurityTest, ServiceRefusesNonLoopbackWithoutTlsAndToken) {
  aggregator::AggregatorConfig a;
  a.ingest_endpoint = "tcp://127.0.0.1:0";
  a.publish_endpoint = "tcp://127.0.0.1:0";
  a.grpc_address = "0.0.0.0:0";
  a.history.path = dir_.File("history.db");
  auto aggregator = aggregator::AggregatorService::Create(a, QuietLogger("aggregator"));
  ASSERT_FALSE(aggregator.ok());
  EXPECT_EQ(aggregator.status().code(), StatusCode::kFailedPrecondition);

  alerter::AlerterConfig c;
  c.snapshot_endpoint = "tcp://127.0.0.1:1";
  c.grpc_address = "0.0.0.0:0";
  c.grpc_security.token = config::Secret(kToken);  // a token alone would travel in clear
  c.db_path = dir_.File("alerts.db");
  auto alerter = alerter::AlerterService::Create(c, {}, QuietLogger("alerter"));
  ASSERT_FALSE(alerter.ok());
  EXPECT_EQ(alerter.status().code(), StatusCode::kFailedPrecondition);
}

// The binaries: a non-loopback --grpc-listen without TLS and a token is a usage error, exit 2,
// with one line naming the flags to add.
TEST_F(GrpcSecurityTest, BinariesRefuseNonLoopbackWithoutTlsAndToken) {
  const std::vector<std::vector<std::string>> commands = {
      {ETCDMON_AGGREGATOR_BINARY, "--grpc-listen=0.0.0.0:0", "--db=" + dir_.File("h.db")},
      {ETCDMON_ALERTER_BINARY, "--grpc-listen=0.0.0.0:0", "--db=" + dir_.File("a.db")},
      {ETCDMON_AGGREGATOR_BINARY, "--grpc-listen=0.0.0.0:0", "--grpc-token-file=" + token_file_,
       "--db=" + dir_.File("h.db")},
  };
  int n = 0;
  for (const std::vector<std::string>& argv : commands) {
    const std::string log = dir_.File("refused-" + std::to_string(n++) + ".log");
    Result<pid_t> pid = testing::Spawn(argv, log);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    Result<int> status = testing::WaitForExit(*pid, 30s);
    ASSERT_TRUE(status.ok()) << status.status().message();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == config::kExitUsage)
        << argv[0] << ": " << testing::DescribeWaitStatus(*status);
    const std::vector<std::string> lines = testing::Lines(testing::ReadWholeFile(log));
    ASSERT_EQ(lines.size(), 1u) << testing::ReadWholeFile(log);
    EXPECT_EQ(lines[0].rfind("error: --grpc-listen \"0.0.0.0:0\" is not a loopback address: add "
                             "--grpc-tls-cert-file",
                             0),
              0u)
        << lines[0];
    EXPECT_EQ(lines[0].find(kToken), std::string::npos);
  }
}

// The gateway never sends its token in clear beyond loopback: the backends refuse to be made,
// and the binary refuses its command line (exit 2, one line), before anything is dialled.
TEST_F(GrpcSecurityTest, GatewayRefusesToSendItsTokenInClearBeyondLoopback) {
  rpc::ClientSecurity client;
  client.token = config::Secret(kToken);
  auto monitor = gateway::NewGrpcMonitorBackend("192.0.2.10:5557", 1s, client);
  ASSERT_FALSE(monitor.ok());
  EXPECT_EQ(monitor.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(monitor.status().message().find(kToken), std::string::npos);
  auto alerts = gateway::NewGrpcAlertBackend("alerter:5558", 1s, client);
  ASSERT_FALSE(alerts.ok());
  EXPECT_EQ(alerts.status().code(), StatusCode::kFailedPrecondition);

  const std::string log = dir_.File("gateway.log");
  Result<pid_t> pid =
      testing::Spawn({ETCDMON_GATEWAY_BINARY, "--grpc-token-file=" + token_file_,
                      "--aggregator=192.0.2.10:5557", "--alerter", "", "--snapshots", ""},
                     log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  Result<int> status = testing::WaitForExit(*pid, 30s);
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == config::kExitUsage)
      << testing::DescribeWaitStatus(*status);
  const std::vector<std::string> lines = testing::Lines(testing::ReadWholeFile(log));
  ASSERT_EQ(lines.size(), 1u) << testing::ReadWholeFile(log);
  EXPECT_EQ(lines[0].rfind("error: --aggregator \"192.0.2.10:5557\" is not a loopback address", 0),
            0u)
      << lines[0];
}

// `etcd-monitor keygen --grpc-tls` (the compose stack's keygen, whose image has no openssl):
// a CA and a server certificate the services serve and the clients verify, the key private,
// existing files kept, bad hosts refused.
TEST_F(GrpcSecurityTest, KeygenCertificatesSecureTheServices) {
  const std::string out = dir_.File("grpc-tls");
  const std::string log = dir_.File("keygen.log");
  Result<std::string> made = testing::RunCommand(
      {ETCDMON_BINARY, "keygen", "--out", out, "--grpc-tls", "localhost,127.0.0.1"}, log, 60s);
  ASSERT_TRUE(made.ok()) << made.status().message();
  struct stat key_info {};
  ASSERT_EQ(::stat((out + "/grpc-server-key.pem").c_str(), &key_info), 0);
  EXPECT_EQ(key_info.st_mode & 0777, 0600u);
  EXPECT_EQ(testing::ReadWholeFile(log).find("PRIVATE KEY"), std::string::npos);
  const std::string ca_before = testing::ReadWholeFile(out + "/grpc-ca.pem");

  rpc::ServerSecurity security;
  security.tls_cert_file = out + "/grpc-server.pem";
  security.tls_key_file = out + "/grpc-server-key.pem";
  security.token = config::Secret(kToken);
  StartServices(security);
  rpc::ClientSecurity client;
  client.ca_file = out + "/grpc-ca.pem";
  for (const auto& [path, code] : CallBoth(client, WithApiToken(Bearer(kToken)))) {
    EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << path;
    EXPECT_NE(code, grpc::StatusCode::UNAVAILABLE) << path;
  }
  // A CA of its own: the test CA does not vouch for these services.
  for (const auto& [path, code] : CallBoth(Tls(), Bearer(kToken))) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << path;
  }

  Result<std::string> again = testing::RunCommand(
      {ETCDMON_BINARY, "keygen", "--out", out, "--grpc-tls", "localhost"}, log, 60s);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(testing::ReadWholeFile(out + "/grpc-ca.pem"), ca_before);
  const std::string bad_log = dir_.File("keygen-bad.log");
  Result<pid_t> bad = testing::Spawn(
      {ETCDMON_BINARY, "keygen", "--out", dir_.File("bad"), "--grpc-tls", "a b"}, bad_log);
  ASSERT_TRUE(bad.ok());
  Result<int> status = testing::WaitForExit(*bad, 30s);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == config::kExitUsage)
      << testing::ReadWholeFile(bad_log);
}

}  // namespace
}  // namespace etcdmon
