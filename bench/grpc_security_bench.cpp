// What the gRPC ports' security costs a call: MonitorService.GetHealth round trips on one kept
// channel over loopback, against the real aggregator, plaintext and open (the default), with the
// token on loopback (local credentials plus the AuthMetadataProcessor), and over TLS with the
// token (the compose stack's setup). The channel is connected before timing, so the TLS
// handshake is not counted: the gateway keeps its channels.
//   grpc_security_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/testing/test_certs.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace {

using etcdmon::aggregator::AggregatorConfig;
using etcdmon::aggregator::AggregatorService;

constexpr char kToken[] = "bench-grpc-token-0123456789abcdef";

enum class Mode { kPlain, kTokenOnLoopback, kTlsAndToken };

void GetHealth(benchmark::State& state, Mode mode) {
  char dir_template[] = "/tmp/grpc_security_bench.XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  auto certs = etcdmon::testing::GenerateTestCertificates(dir + "/certs");
  if (!certs.ok()) {
    state.SkipWithError(certs.status().message().c_str());
    return;
  }
  AggregatorConfig config;
  config.ingest_endpoint = "tcp://127.0.0.1:0";
  config.publish_endpoint = "tcp://127.0.0.1:0";
  config.grpc_address = "127.0.0.1:0";
  config.history.path = dir + "/history.db";
  etcdmon::rpc::ClientSecurity client;
  if (mode != Mode::kPlain) {
    config.grpc_security.token = etcdmon::config::Secret(kToken);
    client.token = etcdmon::config::Secret(kToken);
  }
  if (mode == Mode::kTlsAndToken) {
    config.grpc_security.tls_cert_file = certs->server_cert;
    config.grpc_security.tls_key_file = certs->server_key;
    client.ca_file = certs->ca_cert;
  }
  auto logger = spdlog::default_logger()->clone("aggregator");
  logger->set_level(spdlog::level::err);
  auto service = AggregatorService::Create(config, logger);
  if (!service.ok() || !(*service)->Start().ok()) {
    state.SkipWithError("the aggregator did not start");
    return;
  }
  auto channel = etcdmon::rpc::NewClientChannel((*service)->grpc_address(), client);
  if (!channel.ok() ||
      !(*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    state.SkipWithError("no channel");
    return;
  }
  auto stub = etcdmonitor::v1::MonitorService::NewStub(*channel);
  for (auto _ : state) {
    grpc::ClientContext context;
    etcdmon::rpc::AddCallToken(context, client);
    etcdmonitor::v1::ServiceHealth health;
    const grpc::Status status = stub->GetHealth(&context, {}, &health);
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
  }
  (*service)->Stop();
  std::filesystem::remove_all(dir);
}

BENCHMARK_CAPTURE(GetHealth, plaintext_open, Mode::kPlain)->UseRealTime();
BENCHMARK_CAPTURE(GetHealth, token_on_loopback, Mode::kTokenOnLoopback)->UseRealTime();
BENCHMARK_CAPTURE(GetHealth, tls_and_token, Mode::kTlsAndToken)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
