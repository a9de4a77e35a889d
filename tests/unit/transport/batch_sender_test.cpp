// BatchSender against a real BatchReceiver over loopback TCP: ordering, acks, resends after
// failures and reconnects, the bounded queue, the sequence state file, CURVE and the lifecycle.

#include "etcdmon/transport/batch_sender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/batch_receiver.h"
#include "etcdmon/transport/curve.h"
#include "tcp_proxy.h"
#include "transport_test_util.h"

namespace etcdmon::transport {
namespace {

using namespace std::chrono_literals;
using testing::FirstArrivals;
using ::testing::HasSubstr;
using testing::MakeBatch;
using testing::Range;
using testing::Recorder;
using testing::TempDir;
using testing::WaitFor;

class BatchSenderTest : public ::testing::Test {
 protected:
  // Options tuned so that reconnects and resends happen within a fraction of a second.
  // A state file saying "start at 1" (unless one exists), so tests can name the sequences they
  // expect; a missing file would start at the clock (MissingStateFileStartsAtClockMicros).
  static void SeedStateFile(const std::string& path) {
    if (!std::ifstream(path)) {
      std::ofstream(path) << "1\n";
    }
  }

  // Options whose state file says "start at 1".
  BatchSenderOptions SenderOptions(const std::string& endpoint) const {
    BatchSenderOptions options;
    options.aggregator_endpoint = endpoint;
    options.collector_id = "collector-1";
    options.sequence_state_path = dir_.File("sequence");
    SeedStateFile(options.sequence_state_path);
    options.ack_timeout = 1s;
    options.heartbeat_interval = 200ms;
    options.heartbeat_timeout = 1s;
    options.reconnect_interval = 20ms;
    options.reconnect_interval_max = 100ms;
    return options;
  }

  std::unique_ptr<BatchReceiver> StartReceiver(Recorder& recorder,
                                               const std::string& endpoint = "tcp://127.0.0.1:0",
                                               const std::string& curve_secret_key = "") {
    BatchReceiverOptions options;
    options.endpoint = endpoint;
    options.curve_secret_key = curve_secret_key;
    options.heartbeat_interval = 200ms;
    options.heartbeat_timeout = 1s;
    // Binding a port that was just released can race with another process; retry briefly.
    Result<std::unique_ptr<BatchReceiver>> receiver =
        BatchReceiver::Create(options, recorder.Handler());
    for (int attempt = 0; !receiver.ok() && attempt < 50; ++attempt) {
      std::this_thread::sleep_for(20ms);
      receiver = BatchReceiver::Create(options, recorder.Handler());
    }
    EXPECT_TRUE(receiver.ok()) << receiver.status().ToString();
    if (!receiver.ok()) {
      return nullptr;
    }
    EXPECT_TRUE((*receiver)->Start().ok());
    return std::move(*receiver);
  }

  std::unique_ptr<BatchSender> StartSender(BatchSenderOptions options,
                                           Clock& clock = SystemClock::Instance()) {
    SeedStateFile(options.sequence_state_path);
    Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(std::move(options), clock);
    EXPECT_TRUE(sender.ok()) << sender.status().ToString();
    if (!sender.ok()) {
      return nullptr;
    }
    EXPECT_TRUE((*sender)->Start().ok());
    return std::move(*sender);
  }

  // An endpoint nobody listens on now: a port that was bound a moment ago and released.
  std::string UnusedEndpoint() {
    Recorder unused;
    std::unique_ptr<BatchReceiver> receiver = StartReceiver(unused);
    if (receiver == nullptr) {
      return "";
    }
    const std::string endpoint = receiver->endpoint();
    receiver.reset();
    return endpoint;
  }

  static void EnqueueMany(BatchSender& sender, int count, int scalars = 3) {
    for (int i = 0; i < count; ++i) {
      Result<uint64_t> sequence = sender.Enqueue(MakeBatch(scalars));
      ASSERT_TRUE(sequence.ok()) << sequence.status().ToString();
    }
  }

  TempDir dir_;
};

// 100 batches reach the receiver in order, each once, all are acked and the queue drains.
TEST_F(BatchSenderTest, DeliversInOrderAndDrainsQueue) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder);
  ASSERT_NE(receiver, nullptr);
  auto sender = StartSender(SenderOptions(receiver->endpoint()));
  ASSERT_NE(sender, nullptr);

  EnqueueMany(*sender, 100);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 100; }))
      << "acked " << sender->Stats().acked_sequence;

  EXPECT_EQ(FirstArrivals(recorder.Stored()), Range(1, 100));
  const BatchSenderStats stats = sender->Stats();
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_EQ(stats.enqueued, 100u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_TRUE(stats.connected);
  EXPECT_GT(stats.last_ack_time.time_since_epoch().count(), 0);
  EXPECT_EQ(recorder.LastCollector(), "collector-1");
  EXPECT_GT(recorder.LastSentAt(), 0);
  const BatchReceiverStats receiver_stats = receiver->Stats();
  EXPECT_EQ(receiver_stats.rejected_total(), 0u);
  EXPECT_GE(receiver_stats.acked, 100u);
}

// Senders and a receiver sharing one context talk over inproc:// (the all-in-one binary): two
// senders, each with its own connection monitor, deliver everything.
TEST_F(BatchSenderTest, InprocWithASharedContext) {
  auto context = SharedContext::Create();
  ASSERT_TRUE(context.ok()) << context.status().ToString();
  Recorder recorder;
  BatchReceiverOptions receiver_options;
  receiver_options.endpoint = "inproc://ingest";
  receiver_options.context = *context;
  auto receiver = BatchReceiver::Create(receiver_options, recorder.Handler());
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
  ASSERT_TRUE((*receiver)->Start().ok());

  std::vector<std::unique_ptr<BatchSender>> senders;
  for (int i = 0; i < 2; ++i) {
    BatchSenderOptions options = SenderOptions("inproc://ingest");
    options.collector_id = "collector-" + std::to_string(i);
    options.sequence_state_path = dir_.File("sequence-" + std::to_string(i));
    options.context = *context;
    senders.push_back(StartSender(std::move(options)));
    ASSERT_NE(senders.back(), nullptr);
    EnqueueMany(*senders.back(), 20);
  }
  for (auto& sender : senders) {
    ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 20; }))
        << "acked " << sender->Stats().acked_sequence;
    EXPECT_TRUE(sender->Stats().connected);
  }
  EXPECT_GE(recorder.StoredCount(), 40u);
  senders.clear();
  (*receiver)->Stop();
}

// The aggregator is down while 50 batches are produced, then comes up on the same port: every
// batch arrives, in order, with no sequence gap. Duplicates are allowed and counted.
TEST_F(BatchSenderTest, AggregatorDownThenUpDeliversEverythingInOrder) {
  const std::string endpoint = UnusedEndpoint();
  ASSERT_FALSE(endpoint.empty());
  auto sender = StartSender(SenderOptions(endpoint));
  ASSERT_NE(sender, nullptr);

  EnqueueMany(*sender, 50);
  BatchSenderStats down = sender->Stats();
  EXPECT_EQ(down.queue_depth, 50u);
  EXPECT_FALSE(down.connected);
  EXPECT_EQ(down.acked_sequence, 0u);

  Recorder recorder;
  auto receiver = StartReceiver(recorder, endpoint);
  ASSERT_NE(receiver, nullptr);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 50; }))
      << "acked " << sender->Stats().acked_sequence;

  const std::vector<uint64_t> stored = recorder.Stored();
  EXPECT_EQ(FirstArrivals(stored), Range(1, 50));
  const std::size_t duplicates = stored.size() - FirstArrivals(stored).size();
  RecordProperty("duplicates", static_cast<int>(duplicates));
  EXPECT_LE(duplicates, sender->Stats().resent);
  EXPECT_EQ(sender->Stats().queue_depth, 0u);
  EXPECT_EQ(sender->Stats().dropped, 0u);
}

// A batch the handler fails to store is not acked, not covered by the ack of a later batch,
// resent after the ack timeout and then stored; nothing after it is stored before it.
TEST_F(BatchSenderTest, BatchTheHandlerFailedIsResentAfterAckTimeout) {
  Recorder recorder;
  recorder.FailOnce(5);
  auto receiver = StartReceiver(recorder);
  ASSERT_NE(receiver, nullptr);
  FakeClock clock;
  BatchSenderOptions options = SenderOptions(receiver->endpoint());
  options.ack_timeout = 30s;  // on the fake clock: only Advance() below lets it expire
  auto sender = StartSender(options, clock);
  ASSERT_NE(sender, nullptr);

  EnqueueMany(*sender, 10);
  // 1-4 stored and acked; 5 failed; 6-10 held back by the receiver.
  ASSERT_TRUE(WaitFor([&] {
    const BatchReceiverStats stats = receiver->Stats();
    return stats.handler_failures == 1 && stats.deferred == 5;
  }));
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 4; }));
  EXPECT_EQ(sender->Stats().queue_depth, 6u);

  clock.Advance(31s);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 10; }))
      << "acked " << sender->Stats().acked_sequence;
  EXPECT_EQ(recorder.Stored(), Range(1, 10));
  EXPECT_GE(sender->Stats().resent, 6u);
  EXPECT_EQ(sender->Stats().queue_depth, 0u);
}

// The receiver is destroyed and re-created on the same port while batches keep coming: every
// batch is stored by one of the two, and each saw its batches in order.
TEST_F(BatchSenderTest, ReceiverRestartedMidStreamLosesNothing) {
  Recorder first_recorder;
  auto receiver = StartReceiver(first_recorder);
  ASSERT_NE(receiver, nullptr);
  const std::string endpoint = receiver->endpoint();
  auto sender = StartSender(SenderOptions(endpoint));
  ASSERT_NE(sender, nullptr);

  constexpr int kTotal = 300;
  std::thread producer([&] {
    for (int i = 0; i < kTotal; ++i) {
      ASSERT_TRUE(sender->Enqueue(MakeBatch()).ok());
      if (i % 10 == 0) {
        std::this_thread::sleep_for(1ms);  // spread production over the restart
      }
    }
  });
  ASSERT_TRUE(WaitFor([&] { return first_recorder.StoredCount() >= 50; }));
  receiver.reset();  // mid-stream: the producer is still enqueueing
  Recorder second_recorder;
  receiver = StartReceiver(second_recorder, endpoint);
  ASSERT_NE(receiver, nullptr);
  producer.join();

  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == kTotal; }))
      << "acked " << sender->Stats().acked_sequence;
  std::set<uint64_t> stored;
  for (const Recorder* recorder : {&first_recorder, &second_recorder}) {
    const std::vector<uint64_t> first = FirstArrivals(recorder->Stored());
    EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
    stored.insert(first.begin(), first.end());
  }
  EXPECT_EQ(std::vector<uint64_t>(stored.begin(), stored.end()), Range(1, kTotal));
  EXPECT_GT(second_recorder.StoredCount(), 0u);
}

// A connection that goes silent without closing (the aggregator's host vanished) swallows the
// frames written into it. Heartbeats notice it, the sender reconnects and resends them.
TEST_F(BatchSenderTest, SilentlyDeadConnectionIsDetectedAndSwallowedBatchesResent) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder);
  ASSERT_NE(receiver, nullptr);
  testing::TcpProxy proxy(receiver->port());
  BatchSenderOptions options = SenderOptions(proxy.endpoint());
  options.ack_timeout = 60s;  // so that only the heartbeat can notice the dead connection
  options.heartbeat_interval = 100ms;
  options.heartbeat_timeout = 500ms;
  auto sender = StartSender(options);
  ASSERT_NE(sender, nullptr);

  EnqueueMany(*sender, 10);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 10; }));
  proxy.Freeze();
  EnqueueMany(*sender, 10);  // written into the frozen connection and lost there
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 20; }))
      << "acked " << sender->Stats().acked_sequence;

  EXPECT_GE(proxy.accepted(), 2);
  EXPECT_EQ(FirstArrivals(recorder.Stored()), Range(1, 20));
  EXPECT_GE(sender->Stats().resent, 10u);
}

// With the aggregator away, a full queue drops its oldest batches and counts them; the newest
// ones are delivered once the aggregator is back.
TEST_F(BatchSenderTest, FullQueueDropsOldestAndDeliversNewest) {
  const std::string endpoint = UnusedEndpoint();
  ASSERT_FALSE(endpoint.empty());
  BatchSenderOptions options = SenderOptions(endpoint);
  options.max_buffered_batches = 10;
  auto sender = StartSender(options);
  ASSERT_NE(sender, nullptr);

  EnqueueMany(*sender, 25);
  EXPECT_EQ(sender->Stats().dropped, 15u);
  EXPECT_EQ(sender->Stats().queue_depth, 10u);
  EXPECT_EQ(sender->Stats().enqueued, 25u);

  Recorder recorder;
  auto receiver = StartReceiver(recorder, endpoint);
  ASSERT_NE(receiver, nullptr);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 25; }));
  EXPECT_EQ(FirstArrivals(recorder.Stored()), Range(16, 25));
  EXPECT_EQ(sender->Stats().dropped, 15u);
}

// Sequence numbers keep growing across a restart with the same state file, also when the
// run crossed several reserved blocks; a missing file starts at 1.
TEST_F(BatchSenderTest, SequenceSurvivesRestart) {
  BatchSenderOptions options = SenderOptions("tcp://127.0.0.1:1");
  options.sequence_block = 5;
  uint64_t last = 0;
  {
    Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(options);
    ASSERT_TRUE(sender.ok()) << sender.status().ToString();
    for (uint64_t expected = 1; expected <= 12; ++expected) {
      Result<uint64_t> sequence = (*sender)->Enqueue(MakeBatch());
      ASSERT_TRUE(sequence.ok()) << sequence.status().ToString();
      EXPECT_EQ(*sequence, expected);
      last = *sequence;
    }
  }
  Result<std::unique_ptr<BatchSender>> restarted = BatchSender::Create(options);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  Result<uint64_t> next = (*restarted)->Enqueue(MakeBatch());
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, last);
}

// Without a state file (a new collector, or one whose state was wiped) numbering starts at the
// clock in microseconds, above anything an earlier incarnation can have sent.
TEST_F(BatchSenderTest, MissingStateFileStartsAtClockMicros) {
  BatchSenderOptions options = SenderOptions("tcp://127.0.0.1:1");
  options.sequence_state_path = dir_.File("never-written");
  FakeClock clock;
  Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(options, clock);
  ASSERT_TRUE(sender.ok()) << sender.status().ToString();
  Result<uint64_t> first = (*sender)->Enqueue(MakeBatch());
  ASSERT_TRUE(first.ok());
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(clock.Now().time_since_epoch()).count();
  EXPECT_EQ(*first, static_cast<uint64_t>(micros));
}

// A state file that does not hold one positive number is an error at Create(), naming the
// file, never a silent restart at 1.
TEST_F(BatchSenderTest, CorruptStateFileIsAnError) {
  struct Case {
    const char* name;
    std::string content;
  };
  const Case cases[] = {
      {"empty", ""},
      {"text", "hello\n"},
      {"negative", "-5\n"},
      {"zero", "0\n"},
      {"trailing garbage", "12x\n"},
      {"two numbers", "12 13\n"},
      {"overflow", "99999999999999999999999\n"},
      {"binary", std::string("\x00\x01\x02", 3)},
  };
  for (const Case& c : cases) {
    const std::string path = dir_.File("state");
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << c.content;
    }
    BatchSenderOptions options = SenderOptions("tcp://127.0.0.1:1");
    options.sequence_state_path = path;
    Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(options);
    ASSERT_FALSE(sender.ok()) << c.name;
    EXPECT_EQ(sender.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(sender.status().message(), HasSubstr(path)) << c.name;
  }
  // A directory where the file should be: unreadable, also an error.
  BatchSenderOptions options = SenderOptions("tcp://127.0.0.1:1");
  options.sequence_state_path = dir_.path();
  EXPECT_FALSE(BatchSender::Create(options).ok());
}

// Bad options are rejected at Create() with InvalidArgument.
TEST_F(BatchSenderTest, RejectsBadOptions) {
  struct Case {
    const char* name;
    std::function<void(BatchSenderOptions&)> mutate;
  };
  const Case cases[] = {
      {"no endpoint", [](BatchSenderOptions& o) { o.aggregator_endpoint.clear(); }},
      {"bad endpoint", [](BatchSenderOptions& o) { o.aggregator_endpoint = "nonsense"; }},
      {"no collector id", [](BatchSenderOptions& o) { o.collector_id.clear(); }},
      {"no state path", [](BatchSenderOptions& o) { o.sequence_state_path.clear(); }},
      {"zero buffer", [](BatchSenderOptions& o) { o.max_buffered_batches = 0; }},
      {"zero window", [](BatchSenderOptions& o) { o.max_in_flight_batches = 0; }},
      {"zero block", [](BatchSenderOptions& o) { o.sequence_block = 0; }},
      {"zero ack timeout", [](BatchSenderOptions& o) { o.ack_timeout = 0ms; }},
      {"bad server key", [](BatchSenderOptions& o) { o.curve_server_key = "short"; }},
      {"client key without server key",
       [](BatchSenderOptions& o) { o.curve_secret_key = std::string(40, 'a'); }},
  };
  for (const Case& c : cases) {
    BatchSenderOptions options = SenderOptions("tcp://127.0.0.1:1");
    c.mutate(options);
    Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(options);
    ASSERT_FALSE(sender.ok()) << c.name;
    EXPECT_EQ(sender.status().code(), StatusCode::kInvalidArgument)
        << c.name << ": " << sender.status().ToString();
  }
}

// With the aggregator's public key, CURVE delivers.
TEST_F(BatchSenderTest, CurveWithRightServerKeyDelivers) {
  Result<CurveKeyPair> server_keys = GenerateCurveKeyPair();
  ASSERT_TRUE(server_keys.ok()) << server_keys.status().ToString();
  Recorder recorder;
  auto receiver = StartReceiver(recorder, "tcp://127.0.0.1:0", server_keys->secret_key);
  ASSERT_NE(receiver, nullptr);
  EXPECT_EQ(receiver->curve_public_key(), server_keys->public_key);

  BatchSenderOptions options = SenderOptions(receiver->endpoint());
  options.curve_server_key = server_keys->public_key;
  auto sender = StartSender(options);
  ASSERT_NE(sender, nullptr);
  EXPECT_EQ(sender->curve_public_key().size(), kCurveKeyLength);  // generated in Create()
  EnqueueMany(*sender, 5);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 5; }));
  EXPECT_EQ(FirstArrivals(recorder.Stored()), Range(1, 5));
}

// With a wrong server key nothing reaches the handler, the sender keeps its batches, and the
// receiver keeps serving a sender that has the right key.
TEST_F(BatchSenderTest, CurveWithWrongServerKeyDeliversNothing) {
  Result<CurveKeyPair> server_keys = GenerateCurveKeyPair();
  Result<CurveKeyPair> other_keys = GenerateCurveKeyPair();
  ASSERT_TRUE(server_keys.ok() && other_keys.ok());
  Recorder recorder;
  auto receiver = StartReceiver(recorder, "tcp://127.0.0.1:0", server_keys->secret_key);
  ASSERT_NE(receiver, nullptr);

  BatchSenderOptions wrong = SenderOptions(receiver->endpoint());
  wrong.curve_server_key = other_keys->public_key;
  auto impostor = StartSender(wrong);
  ASSERT_NE(impostor, nullptr);
  EnqueueMany(*impostor, 3);
  // Several handshakes fail, so every attempt so far was refused.
  ASSERT_TRUE(WaitFor([&] { return impostor->Stats().handshake_failures >= 3; }))
      << "handshake failures " << impostor->Stats().handshake_failures;

  BatchSenderOptions right = SenderOptions(receiver->endpoint());
  right.collector_id = "collector-2";
  right.sequence_state_path = dir_.File("sequence-2");
  right.curve_server_key = server_keys->public_key;
  auto sender = StartSender(right);
  ASSERT_NE(sender, nullptr);
  EnqueueMany(*sender, 3);
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().acked_sequence == 3; }));

  EXPECT_EQ(recorder.Stored(), Range(1, 3));
  EXPECT_EQ(recorder.LastCollector(), "collector-2");
  EXPECT_EQ(receiver->Stats().frames, 3u);
  const BatchSenderStats impostor_stats = impostor->Stats();
  EXPECT_EQ(impostor_stats.acked_sequence, 0u);
  EXPECT_EQ(impostor_stats.queue_depth, 3u);
  EXPECT_FALSE(impostor_stats.connected);
}

// Stop() is idempotent, and Start() after Stop() and Enqueue() after Stop() fail cleanly.
TEST_F(BatchSenderTest, StopTwice) {
  auto sender = StartSender(SenderOptions("tcp://127.0.0.1:1"));
  ASSERT_NE(sender, nullptr);
  sender->Stop();
  sender->Stop();
  EXPECT_EQ(sender->Start().code(), StatusCode::kFailedPrecondition);
  Result<uint64_t> sequence = sender->Enqueue(MakeBatch());
  ASSERT_FALSE(sequence.ok());
  EXPECT_EQ(sequence.status().code(), StatusCode::kFailedPrecondition);
}

// Stop() without Start() returns at once, even with batches queued.
TEST_F(BatchSenderTest, StopWithoutStart) {
  Result<std::unique_ptr<BatchSender>> sender =
      BatchSender::Create(SenderOptions("tcp://127.0.0.1:1"));
  ASSERT_TRUE(sender.ok());
  EnqueueMany(**sender, 3);
  (*sender)->Stop(5s);
  EXPECT_EQ((*sender)->Stats().queue_depth, 3u);
}

// Destroying a running sender stops it (no hang, no leak under sanitizers).
TEST_F(BatchSenderTest, DestroyWithoutStop) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder);
  ASSERT_NE(receiver, nullptr);
  auto sender = StartSender(SenderOptions(receiver->endpoint()));
  ASSERT_NE(sender, nullptr);
  EnqueueMany(*sender, 10);
  sender.reset();
  SUCCEED();
}

// Stop(flush_timeout) with the aggregator gone returns within the timeout (a SIGTERM must let
// the collector exit within 2 s), leaving the batches unacknowledged.
TEST_F(BatchSenderTest, StopWithFlushDeadlineReturnsInTimeWhenAggregatorIsGone) {
  const std::string endpoint = UnusedEndpoint();
  ASSERT_FALSE(endpoint.empty());
  auto sender = StartSender(SenderOptions(endpoint));
  ASSERT_NE(sender, nullptr);
  EnqueueMany(*sender, 100);
  const auto start = std::chrono::steady_clock::now();
  sender->Stop(300ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 1500ms);  // 300 ms deadline plus generous scheduling slack
  EXPECT_EQ(sender->Stats().queue_depth, 100u);
}

// The flush timeout is real time even when the sender runs on a clock that never moves.
TEST_F(BatchSenderTest, StopFlushTimeoutIsRealTimeUnderFakeClock) {
  const std::string endpoint = UnusedEndpoint();
  ASSERT_FALSE(endpoint.empty());
  FakeClock clock;
  auto sender = StartSender(SenderOptions(endpoint), clock);
  ASSERT_NE(sender, nullptr);
  EnqueueMany(*sender, 5);
  const auto start = std::chrono::steady_clock::now();
  sender->Stop(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

// Stop(flush_timeout) with the aggregator up delivers what was queued before returning.
TEST_F(BatchSenderTest, StopFlushesQueuedBatches) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder);
  ASSERT_NE(receiver, nullptr);
  auto sender = StartSender(SenderOptions(receiver->endpoint()));
  ASSERT_NE(sender, nullptr);
  EnqueueMany(*sender, 20);
  sender->Stop(10s);
  EXPECT_EQ(sender->Stats().acked_sequence, 20u);
  EXPECT_EQ(sender->Stats().queue_depth, 0u);
  EXPECT_EQ(FirstArrivals(recorder.Stored()), Range(1, 20));
}

}  // namespace
}  // namespace etcdmon::transport
