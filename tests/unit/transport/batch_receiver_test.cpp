// BatchReceiver driven by a raw ZeroMQ DEALER, so the tests choose every frame: garbage,
// acks, the hold-back after a handler failure, group commit, and the lifecycle.

#include "etcdmon/transport/batch_receiver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/proto/schema.h"
#include "transport_test_util.h"

namespace etcdmon::transport {
namespace {

using namespace std::chrono_literals;
using etcdmonitor::v1::Ack;
using etcdmonitor::v1::SampleBatch;
using ::testing::HasSubstr;
using testing::MakeBatch;
using testing::Range;
using testing::Recorder;
using testing::WaitFor;

// A DEALER of its own context, connected to the receiver. Single-threaded (the test's).
class RawPeer {
 public:
  explicit RawPeer(const std::string& endpoint)
      : context_(zmq_ctx_new()), socket_(zmq_socket(context_, ZMQ_DEALER)) {
    const int linger = 0;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof(linger));
    EXPECT_EQ(zmq_connect(socket_, endpoint.c_str()), 0);
  }
  ~RawPeer() {
    zmq_close(socket_);
    zmq_ctx_term(context_);
  }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  void Send(const std::string& frame, bool more = false) {
    ASSERT_GE(zmq_send(socket_, frame.data(), frame.size(), more ? ZMQ_SNDMORE : 0), 0)
        << zmq_strerror(zmq_errno());
  }

  void SendBatch(const SampleBatch& batch) { Send(batch.SerializeAsString()); }

  // The next Ack, or nullopt when none comes within `timeout`.
  std::optional<Ack> ReceiveAck(std::chrono::milliseconds timeout = 10s) {
    zmq_pollitem_t item = {socket_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) {
      return std::nullopt;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    std::optional<Ack> ack;
    if (zmq_msg_recv(&msg, socket_, 0) >= 0) {
      Ack parsed;
      if (parsed.ParseFromArray(zmq_msg_data(&msg), static_cast<int>(zmq_msg_size(&msg)))) {
        ack = parsed;
      }
    }
    zmq_msg_close(&msg);
    return ack;
  }

 private:
  void* context_;
  void* socket_;
};

SampleBatch ValidBatch(uint64_t sequence, const std::string& collector = "c1") {
  SampleBatch batch = MakeBatch();
  batch.set_schema_version(proto::kSchemaVersion);
  batch.set_collector_id(collector);
  batch.set_sequence(sequence);
  return batch;
}

// (collector id, sequence).
using Key = std::pair<std::string, uint64_t>;

// The owner's side of group mode, deduplicating the way the aggregator does: a sequence at or
// below the collector's highest committed, staged or being committed one is acked with the
// group, not stored. The commit can be held (to let frames queue up behind it) and made to
// fail once. Safe for concurrent use (the receiver calls it on its threads, the test reads it).
class GroupStore {
 public:
  BatchHandler Handler() {
    return [this](const SampleBatch& batch) { return Stage(batch); };
  }
  std::function<Status()> Commit() {
    return [this] { return CommitGroup(); };
  }
  /// Background group commit: the receiver seals each group before committing it.
  BatchReceiverOptions BackgroundOptions() {
    BatchReceiverOptions options;
    options.endpoint = "tcp://127.0.0.1:0";
    options.commit = Commit();
    options.seal = [this] { Seal(); };
    options.discard = [this] { Discard(); };
    return options;
  }

  /// Commits wait until Release() (at most 10 s, so a failed test cannot hang).
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  /// Waits until a commit is waiting at the hold.
  bool WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [this] { return held_; });
  }
  /// The `n`-th commit (1-based) fails.
  void FailCommit(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_commit_ = n;
  }

  /// Batches committed, once each, in commit order.
  std::vector<Key> Stored() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }
  /// Every batch handed over in each committed group, duplicates included.
  std::vector<std::vector<Key>> Groups() const {
    std::lock_guard<std::mutex> lock(mu_);
    return groups_;
  }

 private:
  Status Stage(const SampleBatch& batch) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string& collector = batch.collector_id();
    const uint64_t high =
        std::max({committed_[collector], staged_high_[collector], sealed_high_[collector]});
    const bool duplicate = batch.sequence() <= high;
    if (!duplicate) {
      staged_high_[collector] = batch.sequence();
    }
    group_.push_back({{collector, batch.sequence()}, duplicate});
    return Status::Ok();
  }

  void Seal() {
    std::lock_guard<std::mutex> lock(mu_);
    sealed_ = std::move(group_);
    group_.clear();
    sealed_high_ = std::move(staged_high_);
    staged_high_.clear();
    background_ = true;
  }

  void Discard() {
    std::lock_guard<std::mutex> lock(mu_);
    discarded_ += group_.size();
    group_.clear();
    staged_high_.clear();
    sealed_high_.clear();
  }

  Status CommitGroup() {
    std::unique_lock<std::mutex> lock(mu_);
    held_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, 10s, [this] { return !hold_; });
    held_ = false;
    // Per I/O-thread commit the open group is the one to write; in the background, the sealed.
    std::vector<std::pair<Key, bool>>& group = background_ ? sealed_ : group_;
    if (++commits_ == fail_commit_) {
      group.clear();
      if (!background_) {
        staged_high_.clear();
      }
      return Status::Unavailable("injected commit failure");
    }
    std::vector<Key> handed;
    for (const auto& [key, duplicate] : group) {
      handed.push_back(key);
      if (!duplicate) {
        stored_.push_back(key);
        committed_[key.first] = std::max(committed_[key.first], key.second);
      }
    }
    groups_.push_back(std::move(handed));
    group.clear();
    if (!background_) {
      staged_high_.clear();
    }
    return Status::Ok();
  }

 public:
  /// Background mode: batches of open groups a failed commit made the receiver drop.
  std::size_t Discarded() const {
    std::lock_guard<std::mutex> lock(mu_);
    return discarded_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;                            // guarded by mu_
  bool held_ = false;                            // a commit waits at the hold; guarded by mu_
  int commits_ = 0;                              // guarded by mu_
  int fail_commit_ = 0;                          // guarded by mu_
  std::map<std::string, uint64_t> committed_;    // guarded by mu_
  std::map<std::string, uint64_t> staged_high_;  // guarded by mu_
  std::vector<std::pair<Key, bool>> group_;      // staged, with "duplicate"; guarded by mu_
  std::vector<std::pair<Key, bool>> sealed_;     // background: being committed; guarded by mu_
  std::map<std::string, uint64_t> sealed_high_;  // guarded by mu_
  bool background_ = false;                      // guarded by mu_
  std::size_t discarded_ = 0;                    // guarded by mu_
  std::vector<Key> stored_;                      // guarded by mu_
  std::vector<std::vector<Key>> groups_;         // guarded by mu_
};

// The next `count` acks on `peer` as (collector, sequence); fewer when one does not come.
std::vector<Key> ReceiveAcks(RawPeer& peer, std::size_t count) {
  std::vector<Key> acks;
  while (acks.size() < count) {
    std::optional<Ack> ack = peer.ReceiveAck();
    if (!ack.has_value()) {
      break;
    }
    acks.emplace_back(ack->collector_id(), ack->sequence());
  }
  return acks;
}

class BatchReceiverTest : public ::testing::Test {
 protected:
  // Started with `options` (its endpoint and the rest as given); null, with a failure, when it
  // cannot be.
  std::unique_ptr<BatchReceiver> StartReceiver(BatchHandler handler, BatchReceiverOptions options) {
    Result<std::unique_ptr<BatchReceiver>> receiver =
        BatchReceiver::Create(options, std::move(handler));
    EXPECT_TRUE(receiver.ok()) << receiver.status().ToString();
    if (!receiver.ok()) {
      return nullptr;
    }
    EXPECT_TRUE((*receiver)->Start().ok());
    return std::move(*receiver);
  }
  std::unique_ptr<BatchReceiver> StartReceiver(BatchHandler handler,
                                               std::size_t max_frame_bytes = 64 * 1024,
                                               std::function<Status()> commit = nullptr) {
    BatchReceiverOptions options;
    options.endpoint = "tcp://127.0.0.1:0";
    options.max_frame_bytes = max_frame_bytes;
    options.commit = std::move(commit);
    return StartReceiver(std::move(handler), std::move(options));
  }
};

// Port 0 binds a free port that endpoint() and port() report.
TEST_F(BatchReceiverTest, ReportsTheBoundPort) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder.Handler());
  ASSERT_NE(receiver, nullptr);
  EXPECT_NE(receiver->port(), 0);
  EXPECT_EQ(receiver->endpoint(), "tcp://127.0.0.1:" + std::to_string(receiver->port()));
}

// Binding a port that is taken fails at Create() with Unavailable naming the endpoint.
TEST_F(BatchReceiverTest, PortInUseIsAnError) {
  Recorder recorder;
  auto first = StartReceiver(recorder.Handler());
  ASSERT_NE(first, nullptr);
  BatchReceiverOptions options;
  options.endpoint = first->endpoint();
  Result<std::unique_ptr<BatchReceiver>> second =
      BatchReceiver::Create(options, recorder.Handler());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(first->endpoint()));
}

// A stored batch is acked with its own sequence and collector id.
TEST_F(BatchReceiverTest, AcksStoredBatch) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder.Handler());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  peer.SendBatch(ValidBatch(42, "collector-x"));
  std::optional<Ack> ack = peer.ReceiveAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->schema_version(), proto::kSchemaVersion);
  EXPECT_EQ(ack->collector_id(), "collector-x");
  EXPECT_EQ(ack->sequence(), 42u);
  EXPECT_EQ(recorder.Stored(), std::vector<uint64_t>{42});
}

// Garbage of every kind is counted under its reason and dropped without an ack; the receiver
// still stores and acks a valid batch afterwards.
TEST_F(BatchReceiverTest, GarbageFramesAreCountedByReason) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder.Handler(), /*max_frame_bytes=*/64 * 1024);
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());

  std::mt19937 random(7);
  std::string noise(1000, '\0');
  for (char& c : noise) {
    c = static_cast<char>(random());
  }
  // 0xff bytes are a varint that never ends: never a parseable message.
  peer.Send(std::string(64, '\xff'));
  SampleBatch wrong_version = ValidBatch(1);
  wrong_version.set_schema_version(proto::kSchemaVersion + 1);
  peer.SendBatch(wrong_version);
  SampleBatch no_version = ValidBatch(1);
  no_version.clear_schema_version();
  peer.SendBatch(no_version);
  SampleBatch no_collector = ValidBatch(1);
  no_collector.clear_collector_id();
  peer.SendBatch(no_collector);
  peer.Send(std::string(100 * 1024, 'x'));  // over the 64 KiB limit
  peer.Send("first part", /*more=*/true);
  peer.Send("second part");
  peer.Send(noise);  // random bytes: unparseable, or parsed with a bad envelope

  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().frames == 7; }));
  const BatchReceiverStats stats = receiver->Stats();
  EXPECT_EQ(stats.rejected_for(RejectReason::kSchemaVersion) +
                stats.rejected_for(RejectReason::kMalformed) +
                stats.rejected_for(RejectReason::kNoCollectorId),
            5u);
  EXPECT_GE(stats.rejected_for(RejectReason::kMalformed), 1u);
  EXPECT_GE(stats.rejected_for(RejectReason::kSchemaVersion), 2u);
  EXPECT_GE(stats.rejected_for(RejectReason::kNoCollectorId), 1u);
  EXPECT_EQ(stats.rejected_for(RejectReason::kOversized), 1u);
  EXPECT_EQ(stats.rejected_for(RejectReason::kMultipart), 1u);
  EXPECT_EQ(stats.rejected_total(), 7u);
  EXPECT_EQ(stats.accepted, 0u);
  EXPECT_EQ(stats.acked, 0u);

  peer.SendBatch(ValidBatch(7));
  std::optional<Ack> ack = peer.ReceiveAck();
  ASSERT_TRUE(ack.has_value()) << "the receiver stopped answering after garbage";
  EXPECT_EQ(ack->sequence(), 7u);  // no ack was sent for any of the garbage before it
  EXPECT_EQ(recorder.Stored(), std::vector<uint64_t>{7});
}

// Reason names are stable (they become metric labels).
TEST_F(BatchReceiverTest, RejectReasonNames) {
  EXPECT_EQ(RejectReasonName(RejectReason::kOversized), "oversized");
  EXPECT_EQ(RejectReasonName(RejectReason::kMultipart), "multipart");
  EXPECT_EQ(RejectReasonName(RejectReason::kMalformed), "malformed");
  EXPECT_EQ(RejectReasonName(RejectReason::kSchemaVersion), "schema_version");
  EXPECT_EQ(RejectReasonName(RejectReason::kNoCollectorId), "no_collector_id");
}

// After the handler fails a batch, later batches of that collector are neither stored nor
// acked (an ack is cumulative and would cover the failed one) until it is resent; other
// collectors are not held back.
TEST_F(BatchReceiverTest, HoldsCollectorBackAfterHandlerFailureUntilResend) {
  Recorder recorder;
  recorder.FailOnce(2);
  auto receiver = StartReceiver(recorder.Handler());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  RawPeer other(receiver->endpoint());

  for (uint64_t s = 1; s <= 4; ++s) {
    peer.SendBatch(ValidBatch(s));
  }
  std::optional<Ack> ack = peer.ReceiveAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->sequence(), 1u);
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().deferred == 2; }));
  EXPECT_FALSE(peer.ReceiveAck(50ms).has_value());

  other.SendBatch(ValidBatch(100, "c2"));
  ack = other.ReceiveAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->sequence(), 100u);

  // The sender's resend round: 2, 3, 4 again.
  for (uint64_t s = 2; s <= 4; ++s) {
    peer.SendBatch(ValidBatch(s));
  }
  for (uint64_t s = 2; s <= 4; ++s) {
    ack = peer.ReceiveAck();
    ASSERT_TRUE(ack.has_value()) << s;
    EXPECT_EQ(ack->sequence(), s);
  }
  EXPECT_EQ(recorder.Stored(), (std::vector<uint64_t>{1, 100, 2, 3, 4}));
  EXPECT_EQ(receiver->Stats().handler_failures, 1u);
}

// A resend round from the same connection that starts above the failed batch means the sender
// gave that batch up (its queue was full): the hold-back ends instead of stalling forever.
TEST_F(BatchReceiverTest, HoldBackEndsWhenSenderGaveUpTheFailedBatch) {
  Recorder recorder;
  recorder.FailOnce(2);
  auto receiver = StartReceiver(recorder.Handler());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  for (uint64_t s = 1; s <= 4; ++s) {
    peer.SendBatch(ValidBatch(s));
  }
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().deferred == 2; }));
  // New round without 2: 3, 4.
  peer.SendBatch(ValidBatch(3));
  peer.SendBatch(ValidBatch(4));
  std::optional<Ack> ack;
  ASSERT_TRUE(WaitFor([&] {
    ack = peer.ReceiveAck(10ms);
    return ack.has_value() && ack->sequence() == 4;
  }));
  EXPECT_EQ(recorder.Stored(), (std::vector<uint64_t>{1, 3, 4}));
}

// A handler that throws counts as a failure; the receiver keeps running.
TEST_F(BatchReceiverTest, ThrowingHandlerIsAFailureNotACrash) {
  int calls = 0;
  auto receiver = StartReceiver([&calls](const SampleBatch&) -> Status {
    if (++calls == 1) {
      throw std::runtime_error("boom");
    }
    return Status::Ok();
  });
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  peer.SendBatch(ValidBatch(1));
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().handler_failures == 1; }));
  peer.SendBatch(ValidBatch(1));  // the resend
  std::optional<Ack> ack = peer.ReceiveAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->sequence(), 1u);
}

// Bad options fail at Create().
TEST_F(BatchReceiverTest, RejectsBadOptions) {
  Recorder recorder;
  BatchReceiverOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  options.curve_secret_key = "not a key";
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.curve_secret_key.clear();
  options.max_frame_bytes = 0;
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.max_frame_bytes = 1024;
  options.receive_hwm = 0;
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.receive_hwm = 100;
  options.max_peers = 0;
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.max_peers = 1;
  options.max_held_back = 0;
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.max_held_back = 1;
  EXPECT_EQ(BatchReceiver::Create(options, nullptr).status().code(), StatusCode::kInvalidArgument);
  // Background commit needs seal, discard and commit together.
  options.seal = [] {};
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.discard = [] {};
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.seal = nullptr;
  options.commit = [] { return Status::Ok(); };
  EXPECT_EQ(BatchReceiver::Create(options, recorder.Handler()).status().code(),
            StatusCode::kInvalidArgument);
  options.discard = nullptr;
  options.endpoint = "nonsense";
  EXPECT_FALSE(BatchReceiver::Create(options, recorder.Handler()).ok());
}

// Stop() twice, Stop() without Start(), destruction without Stop(), Start() after Stop().
TEST_F(BatchReceiverTest, Lifecycle) {
  Recorder recorder;
  BatchReceiverOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  {
    Result<std::unique_ptr<BatchReceiver>> never_started =
        BatchReceiver::Create(options, recorder.Handler());
    ASSERT_TRUE(never_started.ok());
    (*never_started)->Stop();
    (*never_started)->Stop();
    EXPECT_EQ((*never_started)->Start().code(), StatusCode::kFailedPrecondition);
  }
  {
    auto running = StartReceiver(recorder.Handler());
    ASSERT_NE(running, nullptr);
    EXPECT_EQ(running->Start().code(), StatusCode::kFailedPrecondition);
    // destroyed while running
  }
  // The port of a stopped receiver is free again at once.
  auto receiver = StartReceiver(recorder.Handler());
  ASSERT_NE(receiver, nullptr);
  const std::string endpoint = receiver->endpoint();
  receiver->Stop();
  options.endpoint = endpoint;
  Result<std::unique_ptr<BatchReceiver>> successor =
      BatchReceiver::Create(options, recorder.Handler());
  EXPECT_TRUE(successor.ok()) << successor.status().ToString();
}

// Group mode: a batch is acked only once the commit of its group returned OK; the batches that
// queued up behind a held commit form the next group and are acked in arrival order.
TEST_F(BatchReceiverTest, GroupModeAcksOnlyAfterCommit) {
  GroupStore store;
  store.Hold();
  auto receiver = StartReceiver(store.Handler(), 64 * 1024, store.Commit());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  peer.SendBatch(ValidBatch(1));
  ASSERT_TRUE(store.WaitUntilHeld());
  peer.SendBatch(ValidBatch(2));
  peer.SendBatch(ValidBatch(3));
  // Staged, not committed: nothing is acked.
  EXPECT_FALSE(peer.ReceiveAck(50ms).has_value());
  EXPECT_EQ(receiver->Stats().acked, 0u);
  EXPECT_TRUE(store.Stored().empty());

  store.Release();
  EXPECT_EQ(ReceiveAcks(peer, 3), (std::vector<Key>{{"c1", 1}, {"c1", 2}, {"c1", 3}}));
  EXPECT_EQ(store.Stored(), (std::vector<Key>{{"c1", 1}, {"c1", 2}, {"c1", 3}}));
  const BatchReceiverStats stats = receiver->Stats();
  EXPECT_EQ(stats.acked, 3u);
  EXPECT_EQ(stats.commits, store.Groups().size());
  EXPECT_EQ(stats.commit_failures, 0u);
}

// Batches of several collectors, from several connections, share one group; each connection
// gets the acks of its own batches, in order.
TEST_F(BatchReceiverTest, GroupModeMixesCollectorsInOneGroup) {
  GroupStore store;
  store.Hold();
  auto receiver = StartReceiver(store.Handler(), 64 * 1024, store.Commit());
  ASSERT_NE(receiver, nullptr);
  RawPeer first(receiver->endpoint());
  RawPeer second(receiver->endpoint());
  first.SendBatch(ValidBatch(1, "c0"));
  ASSERT_TRUE(store.WaitUntilHeld());
  first.SendBatch(ValidBatch(1, "c1"));
  first.SendBatch(ValidBatch(1, "c2"));
  first.SendBatch(ValidBatch(2, "c1"));
  second.SendBatch(ValidBatch(7, "c3"));
  EXPECT_FALSE(first.ReceiveAck(50ms).has_value());  // the later frames queue up meanwhile
  store.Release();

  EXPECT_EQ(ReceiveAcks(first, 4), (std::vector<Key>{{"c0", 1}, {"c1", 1}, {"c2", 1}, {"c1", 2}}));
  EXPECT_EQ(ReceiveAcks(second, 1), (std::vector<Key>{{"c3", 7}}));
  const std::vector<std::vector<Key>> groups = store.Groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0], (std::vector<Key>{{"c0", 1}}));
  EXPECT_THAT(groups[1], ::testing::UnorderedElementsAre(Key{"c1", 1}, Key{"c2", 1}, Key{"c1", 2},
                                                         Key{"c3", 7}));
  EXPECT_EQ(store.Stored().size(), 5u);
}

// A batch resent within the group of its first copy is acked for both copies and stored once.
TEST_F(BatchReceiverTest, GroupModeAcksDuplicateInsideOneGroup) {
  GroupStore store;
  store.Hold();
  auto receiver = StartReceiver(store.Handler(), 64 * 1024, store.Commit());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  peer.SendBatch(ValidBatch(1, "c0"));
  ASSERT_TRUE(store.WaitUntilHeld());
  // A round, then a resend round of the same batches.
  for (uint64_t s : {1, 2, 1, 2}) {
    peer.SendBatch(ValidBatch(s));
  }
  EXPECT_FALSE(peer.ReceiveAck(50ms).has_value());
  store.Release();

  EXPECT_EQ(ReceiveAcks(peer, 5),
            (std::vector<Key>{{"c0", 1}, {"c1", 1}, {"c1", 2}, {"c1", 1}, {"c1", 2}}));
  const std::vector<std::vector<Key>> groups = store.Groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1], (std::vector<Key>{{"c1", 1}, {"c1", 2}, {"c1", 1}, {"c1", 2}}));
  EXPECT_EQ(store.Stored(), (std::vector<Key>{{"c0", 1}, {"c1", 1}, {"c1", 2}}));
}

// A failed commit acks nothing of its group and holds each of its collectors back from the
// lowest staged sequence: a newer batch is deferred, not acked (its ack would cover the
// uncommitted ones); the resend round is then stored once and acked.
TEST_F(BatchReceiverTest, GroupModeCommitFailureAcksNothingAndHoldsBack) {
  GroupStore store;
  store.Hold();
  store.FailCommit(2);  // the group that queues up behind the first one
  auto receiver = StartReceiver(store.Handler(), 64 * 1024, store.Commit());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  RawPeer other(receiver->endpoint());
  peer.SendBatch(ValidBatch(1, "c0"));
  ASSERT_TRUE(store.WaitUntilHeld());
  for (uint64_t s = 1; s <= 3; ++s) {
    peer.SendBatch(ValidBatch(s));
  }
  other.SendBatch(ValidBatch(5, "c2"));
  EXPECT_FALSE(peer.ReceiveAck(50ms).has_value());
  store.Release();
  EXPECT_EQ(ReceiveAcks(peer, 1), (std::vector<Key>{{"c0", 1}}));
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().commit_failures == 1; }));
  EXPECT_FALSE(peer.ReceiveAck(50ms).has_value());
  EXPECT_FALSE(other.ReceiveAck(1ms).has_value());

  // A newer batch of the held-back collector is deferred; another collector is not held back.
  peer.SendBatch(ValidBatch(4));
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().deferred == 1; }));
  other.SendBatch(ValidBatch(6, "c2"));  // c2 too was held back from 5: deferred
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().deferred == 2; }));
  peer.SendBatch(ValidBatch(100, "c9"));
  EXPECT_EQ(ReceiveAcks(peer, 1), (std::vector<Key>{{"c9", 100}}));

  // The resend rounds restart at the oldest unacknowledged batch.
  for (uint64_t s = 1; s <= 4; ++s) {
    peer.SendBatch(ValidBatch(s));
  }
  other.SendBatch(ValidBatch(5, "c2"));
  other.SendBatch(ValidBatch(6, "c2"));
  EXPECT_EQ(ReceiveAcks(peer, 4), (std::vector<Key>{{"c1", 1}, {"c1", 2}, {"c1", 3}, {"c1", 4}}));
  EXPECT_EQ(ReceiveAcks(other, 2), (std::vector<Key>{{"c2", 5}, {"c2", 6}}));
  EXPECT_THAT(store.Stored(), ::testing::UnorderedElementsAre(
                                  Key{"c0", 1}, Key{"c9", 100}, Key{"c1", 1}, Key{"c1", 2},
                                  Key{"c1", 3}, Key{"c1", 4}, Key{"c2", 5}, Key{"c2", 6}));
  const BatchReceiverStats stats = receiver->Stats();
  EXPECT_EQ(stats.commit_failures, 1u);
  EXPECT_EQ(stats.handler_failures, 0u);
}

// The observer sees every valid batch as it arrives, a batch deferred behind a failed commit
// included (the handler does not get it), and a resend again; never a refused one.
TEST_F(BatchReceiverTest, ObserverSeesDeferredBatchesToo) {
  GroupStore store;
  store.FailCommit(1);
  std::mutex mu;
  std::vector<Key> observed;  // guarded by mu
  BatchReceiverOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  options.commit = store.Commit();
  options.observe = [&](const SampleBatch& batch) {
    std::lock_guard<std::mutex> lock(mu);
    observed.emplace_back(batch.collector_id(), batch.sequence());
  };
  auto receiver = BatchReceiver::Create(options, store.Handler());
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
  ASSERT_TRUE((*receiver)->Start().ok());
  auto observed_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return observed.size();
  };
  RawPeer peer((*receiver)->endpoint());
  peer.SendBatch(ValidBatch(1));
  ASSERT_TRUE(WaitFor([&] { return (*receiver)->Stats().commit_failures == 1; }));
  peer.SendBatch(ValidBatch(2));  // held back behind 1: deferred, yet observed
  ASSERT_TRUE(WaitFor([&] { return (*receiver)->Stats().deferred == 1; }));
  ASSERT_TRUE(WaitFor([&] { return observed_count() == 2; }));
  peer.SendBatch(ValidBatch(3, "bad id!"));  // refused by the checks: never observed
  ASSERT_TRUE(WaitFor(
      [&] { return (*receiver)->Stats().invalid_for(BatchProblem::kBadCollectorId) == 1; }));
  peer.SendBatch(ValidBatch(1));  // the resend round
  peer.SendBatch(ValidBatch(2));
  EXPECT_EQ(ReceiveAcks(peer, 2), (std::vector<Key>{{"c1", 1}, {"c1", 2}}));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(observed, (std::vector<Key>{{"c1", 1}, {"c1", 2}, {"c1", 1}, {"c1", 2}}));
}

// Without a commit callback nothing changes: each batch is acked as its handler returns, and
// the group counters stay at zero.
TEST_F(BatchReceiverTest, PerBatchModeNeverCommitsGroups) {
  Recorder recorder;
  auto receiver = StartReceiver(recorder.Handler());
  ASSERT_NE(receiver, nullptr);
  RawPeer peer(receiver->endpoint());
  peer.SendBatch(ValidBatch(1));
  EXPECT_EQ(ReceiveAcks(peer, 1), (std::vector<Key>{{"c1", 1}}));
  EXPECT_EQ(receiver->Stats().commits, 0u);
}

// A batch the per-batch checks refuse (here: a sample dated an hour past the receiver's
// injected clock, and an id with a space) is counted under its reason, never handed over or
// acked, and holds nobody back: the same collector's next batch and another's are stored.
TEST_F(BatchReceiverTest, InvalidBatchIsRefusedAloneAndCounted) {
  Recorder recorder;
  FakeClock clock(std::chrono::system_clock::now());
  BatchReceiverOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  options.clock = &clock;
  Result<std::unique_ptr<BatchReceiver>> receiver =
      BatchReceiver::Create(options, recorder.Handler());
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
  ASSERT_TRUE((*receiver)->Start().ok());
  RawPeer peer((*receiver)->endpoint());

  SampleBatch future = ValidBatch(10, "c1");
  const auto ahead = clock.Now() + std::chrono::hours(1);
  future.mutable_samples(0)->set_collected_at_unix_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(ahead.time_since_epoch()).count());
  peer.SendBatch(future);
  peer.SendBatch(ValidBatch(3, "bad id!"));
  peer.SendBatch(ValidBatch(11, "c1"));
  peer.SendBatch(ValidBatch(1, "c2"));
  EXPECT_EQ(ReceiveAcks(peer, 2), (std::vector<Key>{{"c1", 11}, {"c2", 1}}));
  EXPECT_EQ(recorder.Stored(), (std::vector<uint64_t>{11, 1}));
  const BatchReceiverStats stats = (*receiver)->Stats();
  EXPECT_EQ(stats.invalid_for(BatchProblem::kClockSkew), 1u);
  EXPECT_EQ(stats.invalid_for(BatchProblem::kBadCollectorId), 1u);
  EXPECT_EQ(stats.accepted, 2u);
  EXPECT_EQ(stats.deferred, 0u);
  EXPECT_EQ(stats.rejected_total(), 2u);
}

// Background group commit, with every commit held until the test releases it.
class BackgroundCommitTest : public BatchReceiverTest {
 protected:
  void SetUp() override {
    store_.Hold();
    receiver_ = StartReceiver(store_.Handler(), store_.BackgroundOptions());
    ASSERT_NE(receiver_, nullptr);
    peer_ = std::make_unique<RawPeer>(receiver_->endpoint());
  }

  // Sends `first` and waits until its commit is held: what comes next is staged meanwhile.
  void HoldFirstCommit(const SampleBatch& first) {
    peer_->SendBatch(first);
    ASSERT_TRUE(store_.WaitUntilHeld());
  }

  GroupStore store_;  // declared first: the receiver calls it until it is destroyed
  std::unique_ptr<BatchReceiver> receiver_;
  std::unique_ptr<RawPeer> peer_;
};

// Background commit: while a group is being written, the next batches are read, handed over
// and staged (the I/O thread does not wait for the disk), and acked only after their own
// group's commit, in arrival order.
TEST_F(BackgroundCommitTest, StagesTheNextGroupMeanwhile) {
  ASSERT_NO_FATAL_FAILURE(HoldFirstCommit(ValidBatch(1, "c0")));
  peer_->SendBatch(ValidBatch(1));
  peer_->SendBatch(ValidBatch(2));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().accepted == 3; }));
  EXPECT_FALSE(peer_->ReceiveAck(50ms).has_value());
  EXPECT_TRUE(store_.Stored().empty());

  store_.Release();
  EXPECT_EQ(ReceiveAcks(*peer_, 3), (std::vector<Key>{{"c0", 1}, {"c1", 1}, {"c1", 2}}));
  EXPECT_EQ(store_.Groups(), (std::vector<std::vector<Key>>{{{"c0", 1}}, {{"c1", 1}, {"c1", 2}}}));
  const BatchReceiverStats stats = receiver_->Stats();
  EXPECT_EQ(stats.commits, 2u);
  EXPECT_EQ(stats.acked, 3u);
}

// A batch resent while its first copy is being committed is a duplicate: both copies are
// acked, the batch is stored once.
TEST_F(BackgroundCommitTest, ResendDuringCommitIsADuplicate) {
  ASSERT_NO_FATAL_FAILURE(HoldFirstCommit(ValidBatch(1)));
  peer_->SendBatch(ValidBatch(1));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().accepted == 2; }));
  store_.Release();
  EXPECT_EQ(ReceiveAcks(*peer_, 2), (std::vector<Key>{{"c1", 1}, {"c1", 1}}));
  EXPECT_EQ(store_.Stored(), (std::vector<Key>{{"c1", 1}}));
}

// A failed background commit takes the group staged meanwhile down with it: nothing of either
// is acked, and both groups' collectors are held back from their lowest sequence, so that a
// later batch is never committed ahead of a failed one. The resend rounds are stored once each.
TEST_F(BackgroundCommitTest, FailureDropsTheGroupStagedMeanwhile) {
  store_.FailCommit(1);
  RawPeer other(receiver_->endpoint());
  ASSERT_NO_FATAL_FAILURE(HoldFirstCommit(ValidBatch(1)));
  peer_->SendBatch(ValidBatch(2));  // staged while 1 is being committed
  other.SendBatch(ValidBatch(7, "c2"));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().accepted == 3; }));
  store_.Release();
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().commit_failures == 1; }));
  EXPECT_EQ(store_.Discarded(), 2u);
  EXPECT_FALSE(peer_->ReceiveAck(50ms).has_value());
  EXPECT_FALSE(other.ReceiveAck(1ms).has_value());
  EXPECT_TRUE(store_.Stored().empty());

  peer_->SendBatch(ValidBatch(3));       // held back from 1: deferred
  other.SendBatch(ValidBatch(8, "c2"));  // held back from 7: deferred
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().deferred == 2; }));

  for (uint64_t s = 1; s <= 3; ++s) {
    peer_->SendBatch(ValidBatch(s));
  }
  other.SendBatch(ValidBatch(7, "c2"));
  other.SendBatch(ValidBatch(8, "c2"));
  EXPECT_EQ(ReceiveAcks(*peer_, 3), (std::vector<Key>{{"c1", 1}, {"c1", 2}, {"c1", 3}}));
  EXPECT_EQ(ReceiveAcks(other, 2), (std::vector<Key>{{"c2", 7}, {"c2", 8}}));
  EXPECT_THAT(store_.Stored(),
              ::testing::UnorderedElementsAre(Key{"c1", 1}, Key{"c1", 2}, Key{"c1", 3},
                                              Key{"c2", 7}, Key{"c2", 8}));
  EXPECT_EQ(receiver_->Stats().commit_failures, 1u);
}

// While a commit is in flight the next group grows to 1024 batches at most: then the I/O
// thread stops reading (the rest waits in the sockets) until the commit ends.
TEST_F(BackgroundCommitTest, BoundsTheGroupStagedMeanwhile) {
  ASSERT_NO_FATAL_FAILURE(HoldFirstCommit(ValidBatch(1)));
  constexpr uint64_t kLast = 1300;
  for (uint64_t s = 2; s <= kLast; ++s) {
    peer_->SendBatch(ValidBatch(s));
  }
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().accepted == 1 + 1024; }));
  store_.Release();
  // (The acks of a whole group go out at once, beyond what the sockets queue: not counted here.)
  ASSERT_TRUE(WaitFor([&] { return store_.Stored().size() == kLast; }));
  const std::vector<std::vector<Key>> groups = store_.Groups();
  ASSERT_GE(groups.size(), 3u);
  EXPECT_EQ(groups[1].size(), 1024u);
  std::size_t total = 0;
  for (const std::vector<Key>& group : groups) {
    EXPECT_LE(group.size(), 1024u);
    total += group.size();
  }
  EXPECT_EQ(total, kLast);
}

// Stop() while a commit is in flight and another group is staged: both are committed and
// acked before the I/O thread ends; nothing read is stranded.
TEST_F(BackgroundCommitTest, StopCommitsWhatWasRead) {
  ASSERT_NO_FATAL_FAILURE(HoldFirstCommit(ValidBatch(1)));
  peer_->SendBatch(ValidBatch(2));
  ASSERT_TRUE(WaitFor([&] { return receiver_->Stats().accepted == 2; }));
  store_.Release();
  receiver_->Stop();
  EXPECT_EQ(store_.Stored(), (std::vector<Key>{{"c1", 1}, {"c1", 2}}));
  const BatchReceiverStats stats = receiver_->Stats();
  EXPECT_EQ(stats.commits, 2u);
  EXPECT_EQ(stats.acked, 2u);
}

// The held-back set is bounded: beyond max_held_back the oldest entry is forgotten (counted)
// and that collector's later batches are taken again, while the newer entries still hold back.
TEST_F(BatchReceiverTest, HeldBackSetIsBoundedByEvictingTheOldest) {
  Recorder recorder;
  recorder.FailOnce(10);
  recorder.FailOnce(20);
  recorder.FailOnce(30);
  BatchReceiverOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  options.max_held_back = 2;
  Result<std::unique_ptr<BatchReceiver>> receiver =
      BatchReceiver::Create(options, recorder.Handler());
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
  ASSERT_TRUE((*receiver)->Start().ok());
  RawPeer peer((*receiver)->endpoint());
  peer.SendBatch(ValidBatch(10, "c1"));
  peer.SendBatch(ValidBatch(20, "c2"));
  peer.SendBatch(ValidBatch(30, "c3"));  // c1's entry, the oldest, is evicted
  ASSERT_TRUE(WaitFor([&] { return (*receiver)->Stats().handler_failures == 3; }));
  EXPECT_EQ((*receiver)->Stats().held_back_evicted, 1u);
  peer.SendBatch(ValidBatch(31, "c3"));  // still held back: deferred
  peer.SendBatch(ValidBatch(11, "c1"));  // forgotten: taken
  EXPECT_EQ(ReceiveAcks(peer, 1), (std::vector<Key>{{"c1", 11}}));
  EXPECT_EQ((*receiver)->Stats().deferred, 1u);
  EXPECT_FALSE(recorder.HasStored(31));
}

}  // namespace
}  // namespace etcdmon::transport
