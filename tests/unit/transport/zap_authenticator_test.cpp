// The ingest socket's ZAP handler, attacked through a real BatchReceiver with real BatchSenders
// (collectors) over CURVE on loopback: unknown keys, a known key sending as another collector,
// allow-list reloads, a wrong server key and more peers than allowed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/batch_receiver.h"
#include "etcdmon/transport/batch_sender.h"
#include "etcdmon/transport/collector_keys.h"
#include "etcdmon/transport/curve.h"
#include "transport_test_util.h"

namespace etcdmon::transport {
namespace {

using namespace std::chrono_literals;
using etcdmonitor::v1::SampleBatch;
using ::testing::Contains;
using testing::MakeBatch;
using ::testing::Not;
using testing::TempDir;
using testing::WaitFor;

// Records the sequences handed over, per collector id. Safe for concurrent use.
class StoreByCollector {
 public:
  BatchHandler Handler() {
    return [this](const SampleBatch& batch) {
      std::lock_guard<std::mutex> lock(mu_);
      stored_[batch.collector_id()].push_back(batch.sequence());
      return Status::Ok();
    };
  }
  std::vector<uint64_t> Of(const std::string& collector) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = stored_.find(collector);
    return it == stored_.end() ? std::vector<uint64_t>() : it->second;
  }
  bool Has(const std::string& collector, uint64_t sequence) const {
    const std::vector<uint64_t> of = Of(collector);
    return std::find(of.begin(), of.end(), sequence) != of.end();
  }
  std::size_t Collectors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<uint64_t>> stored_;  // guarded by mu_
};

CurveKeyPair NewPair() {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? *pair : CurveKeyPair{};
}

std::shared_ptr<const CollectorKeys> Keys(const std::string& text) {
  Result<CollectorKeys> keys = CollectorKeys::Parse(text, "test");
  EXPECT_TRUE(keys.ok()) << keys.status().ToString();
  return std::make_shared<const CollectorKeys>(keys.ok() ? *keys : CollectorKeys());
}

class ZapAuthenticatorTest : public ::testing::Test {
 protected:
  // A receiver on loopback port 0; CURVE with this test's server key unless `curve` is false.
  std::unique_ptr<BatchReceiver> StartReceiver(std::shared_ptr<const CollectorKeys> keys,
                                               bool curve = true, std::size_t max_peers = 1024) {
    BatchReceiverOptions options;
    options.endpoint = "tcp://127.0.0.1:0";
    options.curve_secret_key = curve ? server_.secret_key : "";
    options.collector_keys = std::move(keys);
    options.max_peers = max_peers;
    Result<std::unique_ptr<BatchReceiver>> receiver =
        BatchReceiver::Create(options, store_.Handler());
    EXPECT_TRUE(receiver.ok()) << receiver.status().ToString();
    if (!receiver.ok()) {
      return nullptr;
    }
    EXPECT_TRUE((*receiver)->Start().ok());
    return std::move(*receiver);
  }

  // A collector sending as `id` with key pair `pair` (none: CURVE off) to `receiver`, trusting
  // `server_key` (default: the real server's).
  std::unique_ptr<BatchSender> StartSender(const BatchReceiver& receiver, const std::string& id,
                                           const CurveKeyPair* pair,
                                           const std::string& server_key = "") {
    BatchSenderOptions options;
    options.aggregator_endpoint = receiver.endpoint();
    options.collector_id = id;
    options.sequence_state_path = dir_.File("seq-" + std::to_string(++senders_));
    options.ack_timeout = 1s;
    if (pair != nullptr) {
      options.curve_server_key = server_key.empty() ? server_.public_key : server_key;
      options.curve_public_key = pair->public_key;
      options.curve_secret_key = pair->secret_key;
    }
    Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(options);
    EXPECT_TRUE(sender.ok()) << sender.status().ToString();
    if (!sender.ok()) {
      return nullptr;
    }
    EXPECT_TRUE((*sender)->Start().ok());
    return std::move(*sender);
  }

  static uint64_t Send(BatchSender& sender) {
    Result<uint64_t> sequence = sender.Enqueue(MakeBatch());
    EXPECT_TRUE(sequence.ok()) << sequence.status().ToString();
    return sequence.ok() ? *sequence : 0;
  }

  TempDir dir_;
  CurveKeyPair server_ = NewPair();
  StoreByCollector store_;
  int senders_ = 0;
};

// A client whose CURVE key is not on the allow-list is refused at the handshake and counted;
// the genuine collector with the same id keeps being stored.
TEST_F(ZapAuthenticatorTest, UnknownKeyIsRefusedAndCounted) {
  const CurveKeyPair genuine = NewPair();
  const CurveKeyPair intruder = NewPair();
  auto receiver = StartReceiver(Keys("etcd-1 " + genuine.public_key + "\n"));
  ASSERT_NE(receiver, nullptr);
  auto forger = StartSender(*receiver, "etcd-1", &intruder);
  ASSERT_NE(forger, nullptr);
  const uint64_t forged = Send(*forger);
  ASSERT_TRUE(
      WaitFor([&] { return receiver->Stats().rejected_for(RejectReason::kUnknownKey) > 0; }));
  EXPECT_TRUE(WaitFor([&] { return forger->Stats().handshake_failures > 0; }));

  auto collector = StartSender(*receiver, "etcd-1", &genuine);
  ASSERT_NE(collector, nullptr);
  const uint64_t real = Send(*collector);
  ASSERT_TRUE(WaitFor([&] { return store_.Has("etcd-1", real); }));
  EXPECT_THAT(store_.Of("etcd-1"), Not(Contains(forged)));
  EXPECT_EQ(receiver->Stats().accepted, store_.Of("etcd-1").size());
}

// A key on the list may send only as its own ids: a batch that claims another collector's id
// is refused, counted and never acked, while that collector's own batches keep being stored.
TEST_F(ZapAuthenticatorTest, KnownKeyCannotSendAsAnotherCollector) {
  const CurveKeyPair a = NewPair();
  const CurveKeyPair b = NewPair();
  auto receiver = StartReceiver(Keys("etcd-1 " + a.public_key + "\netcd-2 " + b.public_key + "\n"));
  ASSERT_NE(receiver, nullptr);
  auto genuine = StartSender(*receiver, "etcd-2", &b);
  auto forger = StartSender(*receiver, "etcd-2", &a);  // etcd-1's key, claiming etcd-2
  ASSERT_NE(genuine, nullptr);
  ASSERT_NE(forger, nullptr);
  std::vector<uint64_t> real = {Send(*genuine)};
  const uint64_t forged = Send(*forger);
  ASSERT_TRUE(WaitFor(
      [&] { return receiver->Stats().rejected_for(RejectReason::kCollectorNotAllowed) > 0; }));
  for (int i = 0; i < 3; ++i) {
    real.push_back(Send(*genuine));
  }
  ASSERT_TRUE(WaitFor([&] { return store_.Of("etcd-2").size() >= real.size(); }));
  for (uint64_t sequence : real) {
    EXPECT_TRUE(store_.Has("etcd-2", sequence)) << sequence;
  }
  EXPECT_THAT(store_.Of("etcd-2"), Not(Contains(forged)));
  EXPECT_TRUE(WaitFor([&] { return genuine->Stats().acked_sequence == real.back(); }));
  EXPECT_EQ(forger->Stats().acked_sequence, 0u);  // the forged batch was never acknowledged
}

// Replacing the allow-list (what SIGHUP does) admits an added key at its next handshake and
// refuses a removed key's next batch on its existing connection.
TEST_F(ZapAuthenticatorTest, ReloadAddsAndRemovesKeys) {
  const CurveKeyPair a = NewPair();
  const CurveKeyPair b = NewPair();
  const std::string only_a = "etcd-1 " + a.public_key + "\n";
  auto receiver = StartReceiver(Keys(only_a));
  ASSERT_NE(receiver, nullptr);
  auto second = StartSender(*receiver, "etcd-2", &b);
  ASSERT_NE(second, nullptr);
  const uint64_t first_batch = Send(*second);
  ASSERT_TRUE(
      WaitFor([&] { return receiver->Stats().rejected_for(RejectReason::kUnknownKey) > 0; }));
  EXPECT_TRUE(store_.Of("etcd-2").empty());

  ASSERT_TRUE(receiver->SetCollectorKeys(Keys(only_a + "etcd-2 " + b.public_key + "\n")).ok());
  ASSERT_TRUE(WaitFor([&] { return store_.Has("etcd-2", first_batch); }));  // it reconnects

  ASSERT_TRUE(receiver->SetCollectorKeys(Keys(only_a)).ok());
  const uint64_t refused_before = receiver->Stats().rejected_for(RejectReason::kUnknownKey);
  const uint64_t after_removal = Send(*second);
  ASSERT_TRUE(WaitFor(
      [&] { return receiver->Stats().rejected_for(RejectReason::kUnknownKey) > refused_before; }));
  EXPECT_FALSE(store_.Has("etcd-2", after_removal));
}

// With CURVE and no allow-list any client key is accepted (CURVE then only encrypts).
TEST_F(ZapAuthenticatorTest, CurveWithoutAllowListAcceptsAnyKey) {
  auto receiver = StartReceiver(nullptr);
  ASSERT_NE(receiver, nullptr);
  const CurveKeyPair anyone = NewPair();
  auto sender = StartSender(*receiver, "etcd-9", &anyone);
  ASSERT_NE(sender, nullptr);
  const uint64_t sequence = Send(*sender);
  EXPECT_TRUE(WaitFor([&] { return store_.Has("etcd-9", sequence); }));
}

// A client that does not know the server's real public key fails the handshake, counted.
TEST_F(ZapAuthenticatorTest, WrongServerKeyIsCountedAsHandshakeFailure) {
  const CurveKeyPair a = NewPair();
  auto receiver = StartReceiver(Keys("etcd-1 " + a.public_key + "\n"));
  ASSERT_NE(receiver, nullptr);
  auto sender = StartSender(*receiver, "etcd-1", &a, NewPair().public_key);
  ASSERT_NE(sender, nullptr);
  Send(*sender);
  EXPECT_TRUE(
      WaitFor([&] { return receiver->Stats().rejected_for(RejectReason::kHandshakeFailed) > 0; }));
  EXPECT_TRUE(store_.Of("etcd-1").empty());
}

// Connections beyond max_peers are refused at the handshake (CURVE or not) and counted; once a
// peer leaves, the refused one gets in on its next attempt.
TEST_F(ZapAuthenticatorTest, RefusesPeersBeyondTheLimit) {
  auto receiver = StartReceiver(nullptr, /*curve=*/false, /*max_peers=*/2);
  ASSERT_NE(receiver, nullptr);
  std::vector<std::unique_ptr<BatchSender>> senders;
  for (int i = 0; i < 3; ++i) {
    senders.push_back(StartSender(*receiver, "etcd-" + std::to_string(i), nullptr));
    ASSERT_NE(senders.back(), nullptr);
    Send(*senders.back());
  }
  ASSERT_TRUE(
      WaitFor([&] { return receiver->Stats().rejected_for(RejectReason::kTooManyPeers) > 0; }));
  ASSERT_TRUE(WaitFor([&] { return store_.Collectors() == 2; }));
  int refused = -1;
  for (int i = 0; i < 3; ++i) {
    if (store_.Of("etcd-" + std::to_string(i)).empty()) {
      refused = i;
    }
  }
  ASSERT_NE(refused, -1);
  senders[(refused + 1) % 3]->Stop();
  EXPECT_TRUE(WaitFor([&] { return store_.Collectors() == 3; }));
  EXPECT_LE(receiver->Stats().peers, 2u);
}

// An allow-list needs CURVE: refused at Create() and by SetCollectorKeys() without it.
TEST_F(ZapAuthenticatorTest, AllowListNeedsCurve) {
  BatchReceiverOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  options.collector_keys = Keys("");
  Result<std::unique_ptr<BatchReceiver>> refused = BatchReceiver::Create(options, store_.Handler());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);

  auto plain = StartReceiver(nullptr, /*curve=*/false);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->SetCollectorKeys(Keys("")).code(), StatusCode::kFailedPrecondition);
}

// Every refusal reason has a stable name, listed once with its count.
TEST_F(ZapAuthenticatorTest, ReasonsHaveStableNames) {
  BatchReceiverStats stats;
  stats.rejected[static_cast<std::size_t>(RejectReason::kUnknownKey)] = 3;
  stats.invalid[static_cast<std::size_t>(BatchProblem::kClockSkew)] = 2;
  std::map<std::string, uint64_t> by_name;
  for (const auto& [name, count] : stats.RejectedByReason()) {
    EXPECT_TRUE(by_name.emplace(std::string(name), count).second) << name;
  }
  for (const char* name :
       {"oversized", "multipart", "malformed", "schema_version", "no_collector_id", "unknown_key",
        "collector_not_allowed", "too_many_peers", "handshake_failed", "bad_collector_id",
        "sequence_range", "clock_skew", "too_old", "too_many_samples", "bad_name"}) {
    EXPECT_EQ(by_name.count(name), 1u) << name;
  }
  EXPECT_EQ(by_name.count("none"), 0u);
  EXPECT_EQ(by_name["unknown_key"], 3u);
  EXPECT_EQ(by_name["clock_skew"], 2u);
  EXPECT_EQ(stats.rejected_total(), 5u);
}

}  // namespace
}  // namespace etcdmon::transport
