// The aggregator binary's ingest link under attack, as an attacker on the network would try it:
// collectors are real BatchSenders in this process, the aggregator and the gateway are the real
// binaries on free loopback ports. No etcd is needed: the batches are made here.
//  - with CURVE and --collector-keys: an unknown key is refused, a listed key sending under
//    another collector's id is refused, the genuine collector keeps being stored, SIGHUP adds
//    and removes keys (a bad file keeps the list in force), and the refusals are counted on the
//    gateway's /metrics;
//  - without CURVE: the aggregator binds loopback by default and warns (in a network namespace
//    of its own, so that the default ports cannot collide with anything).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "etcdmon/proto/schema.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/batch_sender.h"
#include "etcdmon/transport/curve.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::transport {
namespace {

using namespace std::chrono_literals;
using etcdmon::testing::ChildProcess;
using etcdmon::testing::Http;
using etcdmon::testing::ReadWholeFile;
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A batch as a collector of member `member` would send it (the sender stamps id and sequence).
etcdmonitor::v1::SampleBatch Batch(const std::string& member) {
  etcdmonitor::v1::SampleBatch batch;
  etcdmonitor::v1::MemberSample* sample = batch.add_samples();
  sample->set_endpoint("http://127.0.0.1:2379");
  sample->set_member_name(member);
  sample->set_member_id(std::hash<std::string>()(member));
  sample->set_reachable(true);
  sample->set_collected_at_unix_ms(NowMs());
  return batch;
}

CurveKeyPair NewPair() {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? *pair : CurveKeyPair{};
}

// The value of etcd_monitor_ingest_rejected_total{...,reason="<reason>"} on a /metrics page;
// -1 when the series is not there.
double Rejected(const std::string& page, const std::string& reason) {
  const std::regex series("etcd_monitor_ingest_rejected_total\\{[^}]*reason=\"" + reason +
                          "\"[^}]*\\} ([0-9.e+]+)");
  std::smatch match;
  if (!std::regex_search(page, match, series)) {
    return -1;
  }
  return std::stod(match[1]);
}

class IngestAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ports = etcdmon::testing::PickFreeLoopbackPorts(3);
    ASSERT_TRUE(ports.ok());
    ingest_ = "tcp://127.0.0.1:" + std::to_string(ports->at(0));
    grpc_ = "127.0.0.1:" + std::to_string(ports->at(1));
    api_ = "http://127.0.0.1:" + std::to_string(ports->at(2));
    api_port_ = std::to_string(ports->at(2));
    ASSERT_TRUE(WriteCurveKeyPair(dir_.File("aggregator"), server_).ok());
  }

  void WriteKeys(const std::string& text) {
    // Replaced as a whole (rename), as an operator's tooling would.
    std::ofstream(dir_.File("collector-keys.tmp")) << text;
    ASSERT_EQ(std::rename(dir_.File("collector-keys.tmp").c_str(), keys_file().c_str()), 0);
  }
  std::string keys_file() const { return dir_.File("collector-keys"); }

  std::unique_ptr<ChildProcess> StartAggregator() {
    auto aggregator = std::make_unique<ChildProcess>(
        std::vector<std::string>{ETCDMON_AGGREGATOR_BINARY, "--listen=" + ingest_,
                                 "--publish=tcp://127.0.0.1:0", "--grpc-listen=" + grpc_,
                                 "--db=" + dir_.File("history.db"), "--tick=200ms",
                                 "--curve-secret-key-file=" + dir_.File("aggregator/curve.key"),
                                 "--collector-keys=" + keys_file(), "--log-level=info"},
        log_);
    EXPECT_TRUE(aggregator->ok()) << aggregator->status().message();
    return aggregator;
  }

  // A collector sending as `id` with `pair`.
  std::unique_ptr<BatchSender> StartSender(const std::string& id, const CurveKeyPair& pair) {
    BatchSenderOptions options;
    options.aggregator_endpoint = ingest_;
    options.collector_id = id;
    options.sequence_state_path = dir_.File("seq-" + std::to_string(++senders_));
    options.curve_server_key = server_.public_key;
    options.curve_public_key = pair.public_key;
    options.curve_secret_key = pair.secret_key;
    options.ack_timeout = 1s;
    options.reconnect_interval_max = 500ms;
    Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(options);
    EXPECT_TRUE(sender.ok()) << sender.status().ToString();
    if (!sender.ok()) {
      return nullptr;
    }
    EXPECT_TRUE((*sender)->Start().ok());
    return std::move(*sender);
  }

  static uint64_t Send(BatchSender& sender, const std::string& member) {
    Result<uint64_t> sequence = sender.Enqueue(Batch(member));
    EXPECT_TRUE(sequence.ok()) << sequence.status().ToString();
    return sequence.ok() ? *sequence : 0;
  }

  // The aggregator's log so far, for failure messages.
  std::string Log() const { return etcdmon::testing::TailOfFile(log_, 30); }

  TempDir dir_;
  CurveKeyPair server_ = NewPair();
  std::string ingest_, grpc_, api_, api_port_;
  std::string log_ = dir_.File("aggregator.log");
  int senders_ = 0;
};

// The attacks of issue 15 on the authenticated link, end to end through the binaries.
TEST_F(IngestAuthTest, ForgersAreRefusedCountedAndReloadsTakeEffect) {
  const CurveKeyPair etcd1 = NewPair();     // the genuine collector of etcd-1
  const CurveKeyPair intruder = NewPair();  // a key nobody listed
  WriteKeys("# test collectors\netcd-1 " + etcd1.public_key + "\n");
  auto aggregator = StartAggregator();
  ASSERT_TRUE(aggregator->ok());

  auto genuine = StartSender("etcd-1", etcd1);
  auto impostor = StartSender("etcd-2", etcd1);  // a listed key claiming another id
  auto unknown = StartSender("etcd-1", intruder);
  ASSERT_TRUE(genuine && impostor && unknown);
  uint64_t last = Send(*genuine, "m1");
  const uint64_t forged = Send(*impostor, "m2");
  Send(*unknown, "m1");
  ASSERT_TRUE(WaitFor([&] { return genuine->Stats().acked_sequence == last; })) << Log();
  EXPECT_TRUE(WaitFor([&] { return unknown->Stats().handshake_failures > 0; })) << Log();

  // The gateway's /metrics shows both refusals by reason.
  ChildProcess gateway({ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1", "--api-port=" + api_port_,
                        "--aggregator=" + grpc_, "--alerter", "", "--log-level=warn"},
                       dir_.File("gateway.log"));
  ASSERT_TRUE(gateway.ok()) << gateway.status().message();
  std::string page;
  ASSERT_TRUE(WaitFor([&] {
    page = Http("GET", api_ + "/metrics").body;
    return Rejected(page, "unknown_key") >= 1 && Rejected(page, "collector_not_allowed") >= 1;
  })) << page.substr(0, 4000)
      << "\n"
      << Log();
  EXPECT_EQ(Rejected(page, "too_many_peers"), 0);
  EXPECT_EQ(Rejected(page, "clock_skew"), 0);

  // The genuine collector keeps being stored while the forgers keep trying.
  for (int i = 0; i < 3; ++i) {
    last = Send(*genuine, "m1");
  }
  EXPECT_TRUE(WaitFor([&] { return genuine->Stats().acked_sequence == last; })) << Log();
  EXPECT_EQ(impostor->Stats().acked_sequence, 0u) << "the forged batch " << forged << " was acked";

  // SIGHUP with the intruder's key listed for etcd-3: a collector with it gets in.
  auto third = StartSender("etcd-3", intruder);
  ASSERT_TRUE(third);
  const uint64_t before_reload = Send(*third, "m3");
  ASSERT_TRUE(WaitFor([&] { return third->Stats().handshake_failures > 0; })) << Log();
  WriteKeys("etcd-1 " + etcd1.public_key + "\netcd-3 " + intruder.public_key + "\n");
  ASSERT_EQ(kill(aggregator->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return third->Stats().acked_sequence == before_reload; })) << Log();

  // A bad file on reload keeps the list in force.
  WriteKeys("etcd-1 " + etcd1.public_key + "\netcd-3\n");
  ASSERT_EQ(kill(aggregator->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(log_).find("collector_keys_reload_failed") != std::string::npos;
  })) << Log();
  const uint64_t after_bad_reload = Send(*third, "m3");
  ASSERT_TRUE(WaitFor([&] { return third->Stats().acked_sequence == after_bad_reload; })) << Log();

  // SIGHUP without the key: its next batch, on the connection it already has, is refused.
  const double unknown_before = Rejected(Http("GET", api_ + "/metrics").body, "unknown_key");
  WriteKeys("etcd-1 " + etcd1.public_key + "\n");
  ASSERT_EQ(kill(aggregator->pid(), SIGHUP), 0);
  // The reload is asynchronous to this test: wait until it is in force, by the refusals.
  uint64_t removed = 0;
  ASSERT_TRUE(WaitFor([&] {
    removed = Send(*third, "m3");
    page = Http("GET", api_ + "/metrics").body;
    return Rejected(page, "unknown_key") > unknown_before;
  })) << Log();
  last = Send(*genuine, "m1");
  EXPECT_TRUE(WaitFor([&] { return genuine->Stats().acked_sequence == last; })) << Log();
  EXPECT_LT(third->Stats().acked_sequence, removed);

  Result<int> stopped = aggregator->Stop(SIGTERM, 10s);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0)
      << etcdmon::testing::DescribeWaitStatus(*stopped);
}

// The aggregator on its default ingest and PUB ports. They are fixed, so it runs in a network
// namespace of its own (`unshare -rn`), where they are free and touch nothing else.
class IngestLoopbackTest : public ::testing::Test {
 protected:
  // Starts the aggregator with `flags` and waits for its start line.
  void StartInOwnNetwork(const std::vector<std::string>& flags) {
    // A failure here means the machine forbids unprivileged user namespaces; CI's machines allow
    // them.
    ASSERT_TRUE(
        etcdmon::testing::RunCommand({"/usr/bin/unshare", "-rn", "/bin/true"}, "/dev/null", 10s)
            .ok())
        << "unshare -rn failed: user and network namespaces are needed";
    std::vector<std::string> argv = {"/usr/bin/unshare",
                                     "-rn",
                                     ETCDMON_AGGREGATOR_BINARY,
                                     "--grpc-listen=127.0.0.1:0",
                                     "--db=" + dir_.File("history.db"),
                                     "--log-level=info"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    aggregator_ = std::make_unique<ChildProcess>(argv, dir_.File("aggregator.log"));
    ASSERT_TRUE(aggregator_->ok()) << aggregator_->status().message();
    ASSERT_TRUE(WaitFor([&] {
      return AggregatorLog().find("aggregator_started") != std::string::npos;
    })) << AggregatorLog();
  }

  std::string AggregatorLog() const { return ReadWholeFile(dir_.File("aggregator.log")); }

  TempDir dir_;
  std::unique_ptr<ChildProcess> aggregator_;
};

// Without CURVE the aggregator binds its ingest and PUB sockets to loopback by default and
// says loudly, in one line, what the risk is and how to fix it.
TEST_F(IngestLoopbackTest, WithoutCurveBindsLoopbackByDefaultAndWarns) {
  StartInOwnNetwork({});
  const std::string text = AggregatorLog();
  EXPECT_NE(text.find("aggregator_started ingest=tcp://127.0.0.1:5555 "
                      "publish=tcp://127.0.0.1:5556"),
            std::string::npos)
      << text;
  const std::size_t warning = text.find("ingest_unauthenticated curve=off");
  ASSERT_NE(warning, std::string::npos) << text;
  const std::size_t start =
      text.rfind('\n', warning) == std::string::npos ? 0 : text.rfind('\n', warning) + 1;
  const std::string line = text.substr(start, text.find('\n', warning) - start);
  EXPECT_NE(line.find(" warn aggregator "), std::string::npos) << line;  // one warning line
  EXPECT_NE(line.find("any collector"), std::string::npos) << line;
  EXPECT_NE(line.find("--curve-secret-key-file"), std::string::npos) << line;
}

// With CURVE but no --collector-keys the aggregator binds every interface by default (CURVE
// encrypts) but says loudly that any client key may send as any collector.
TEST_F(IngestLoopbackTest, CurveWithoutAllowListBindsEveryInterfaceAndWarns) {
  ASSERT_TRUE(WriteCurveKeyPair(dir_.File("keys"), NewPair()).ok());
  StartInOwnNetwork({"--curve-secret-key-file=" + dir_.File("keys/curve.key")});
  const std::string text = AggregatorLog();
  EXPECT_NE(text.find("aggregator_started ingest=tcp://0.0.0.0:5555 publish=tcp://0.0.0.0:5556"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("warn aggregator ingest_any_key_accepted curve=on collector_keys=none"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("ingest_unauthenticated"), std::string::npos) << text;
}

}  // namespace
}  // namespace etcdmon::transport
