#include "worker.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <utility>

#include "etcdmon/etcd/channel.h"

namespace etcdmon::benchmark::detail {
namespace {

namespace pb = ::etcdserverpb;

// A client whose request failed waits this long before its next one: a dead member must not
// turn the run into a busy loop of instant UNAVAILABLE answers.
constexpr std::chrono::milliseconds kFailureBackoff{10};
// How often a worker publishes its histogram for the progress line.
constexpr std::chrono::milliseconds kPublishInterval{250};
// How often a worker waiting for answers checks for cancellation and the deadline.
constexpr std::chrono::milliseconds kPollInterval{100};
// The per-second series is bounded: later seconds count into the last entry.
constexpr size_t kMaxSeriesSeconds = 24 * 3600 + 1;
// Error examples are cut to this many bytes.
constexpr size_t kMaxErrorExampleSize = 200;

}  // namespace

// One concurrent client: its request and response objects are reused by every operation, so
// the steady state allocates nothing of ours per operation.
struct Worker::Slot {
  enum class State { kIdle, kWaiting, kInFlight };
  enum class Kind { kPut, kRange };

  Connection* connection = nullptr;
  State state = State::kIdle;
  Kind kind = Kind::kPut;
  uint64_t op = 0;  // the claimed operation number
  pb::PutRequest put;
  pb::PutResponse put_response;
  pb::RangeRequest range;
  pb::RangeResponse range_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::PutResponse>> put_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pb::RangeResponse>> range_reader;
  std::optional<grpc::ClientContext> context;  // a context serves one call only
  grpc::Status status;
  grpc::Alarm alarm;
  SteadyClock::time_point started;
  uint64_t rng = 0;  // xorshift64 state for random reads
};

Worker::Worker(const BenchmarkSpec& spec, const PhasePlan& plan, PhaseCounters& counters,
               const KeyLayout& keys, const std::string& value, std::chrono::milliseconds timeout,
               const std::atomic<bool>& cancelled)
    : spec_(spec),
      plan_(plan),
      counters_(counters),
      keys_(keys),
      value_(value),
      timeout_(timeout),
      cancelled_(cancelled) {}

Worker::~Worker() = default;

void Worker::AddSlot(Connection* connection, uint64_t seed) {
  auto slot = std::make_unique<Slot>();
  slot->connection = connection;
  slot->put.set_key(keys_.Template());
  slot->put.set_value(value_);
  slot->range.set_key(keys_.Template());
  slot->range.set_serializable(spec_.consistency == Consistency::kSerializable);
  slot->rng = seed | 1;
  slots_.push_back(std::move(slot));
}

void Worker::Run() {
  if (plan_.deadline.has_value()) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(*plan_.deadline - plan_.start).count();
    result_.per_second.reserve(std::min(static_cast<size_t>(seconds) + 2, kMaxSeriesSeconds));
  }
  next_publish_ = SteadyClock::now() + kPublishInterval;
  for (auto& slot : slots_) {
    StartNext(*slot, SteadyClock::now());
  }
  bool alarms_cancelled = false;
  while (pending_ > 0) {
    void* tag = nullptr;
    bool ok = false;
    const auto status = cq_.AsyncNext(&tag, &ok, WallClock::now() + kPollInterval);
    if (status == grpc::CompletionQueue::TIMEOUT) {
      if (!alarms_cancelled && StopIssuing(SteadyClock::now())) {
        // Wake clients waiting for their turn (rate limit or backoff) so the phase ends now.
        for (auto& slot : slots_) {
          if (slot->state == Slot::State::kWaiting) {
            slot->alarm.Cancel();
          }
        }
        alarms_cancelled = true;
      }
      continue;
    }
    if (status == grpc::CompletionQueue::SHUTDOWN) {
      break;
    }
    Slot& slot = *static_cast<Slot*>(tag);
    --pending_;
    if (slot.state == Slot::State::kWaiting) {
      slot.state = Slot::State::kIdle;
      if (ok && !StopIssuing(SteadyClock::now())) {
        Issue(slot);
      }
      continue;
    }
    const SteadyClock::time_point now = SteadyClock::now();
    const bool succeeded = Complete(slot, now);
    StartNext(slot, succeeded ? now : now + kFailureBackoff);
  }
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
  Publish();
}

void Worker::AddSnapshotTo(LatencyHistogram& into) {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  into.Merge(snapshot_);
}

bool Worker::StopIssuing(SteadyClock::time_point now) const {
  return cancelled_.load(std::memory_order_relaxed) ||
         (plan_.deadline.has_value() && now >= *plan_.deadline);
}

// Claims the slot's next operation and issues it now, or arms the slot's alarm for the time
// it may start (rate limit, failure backoff).
void Worker::StartNext(Slot& slot, SteadyClock::time_point not_before) {
  const SteadyClock::time_point now = SteadyClock::now();
  if (StopIssuing(now)) {
    return;
  }
  const uint64_t op = counters_.next_op.fetch_add(1, std::memory_order_relaxed);
  if (plan_.ops > 0 && op >= plan_.ops) {
    return;
  }
  slot.op = op;
  SteadyClock::time_point start = not_before;
  if (plan_.rate > 0) {
    start = std::max(start, ClaimRateSlot(now));
  }
  if (start > now) {
    slot.state = Slot::State::kWaiting;
    ++pending_;
    slot.alarm.Set(&cq_, WallClock::now() + (start - now), &slot);
    return;
  }
  Issue(slot);
}

// Strict pacing: operation k of the phase starts no earlier than start + k / rate; a pause
// earns no burst.
SteadyClock::time_point Worker::ClaimRateSlot(SteadyClock::time_point now) {
  const int64_t interval = std::max<int64_t>(1, static_cast<int64_t>(1'000'000'000 / plan_.rate));
  const int64_t now_ns = now.time_since_epoch().count();
  int64_t next = counters_.next_start_ns.load(std::memory_order_relaxed);
  int64_t claimed = 0;
  do {
    claimed = std::max(next, now_ns);
  } while (!counters_.next_start_ns.compare_exchange_weak(next, claimed + interval,
                                                          std::memory_order_relaxed));
  return SteadyClock::time_point(SteadyClock::duration(claimed));
}

uint64_t Worker::RandomKeyIndex(Slot& slot) {
  uint64_t x = slot.rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  slot.rng = x;
  return x % spec_.key_space;
}

void Worker::Issue(Slot& slot) {
  bool write = true;
  uint64_t index = 0;
  if (plan_.populate) {
    index = slot.op;
  } else {
    switch (spec_.type) {
      case WorkloadType::kWrite:
        index = slot.op % spec_.key_space;
        break;
      case WorkloadType::kRead:
        write = false;
        index = RandomKeyIndex(slot);
        break;
      case WorkloadType::kMixed:
        // Exactly 3 of every 10 operations write.
        write = slot.op % 10 < 3;
        index = write ? slot.op % spec_.key_space : RandomKeyIndex(slot);
        break;
    }
  }
  slot.context.emplace();
  slot.context->set_deadline(WallClock::now() + timeout_);
  const Target& target = *slot.connection->target;
  if (!target.token.empty()) {
    slot.context->AddMetadata(etcd::kAuthTokenMetadataKey, target.token);
  }
  slot.state = Slot::State::kInFlight;
  ++pending_;
  slot.started = SteadyClock::now();
  if (write) {
    slot.kind = Slot::Kind::kPut;
    keys_.SetIndex(*slot.put.mutable_key(), index);
    slot.put_reader = slot.connection->kv->AsyncPut(&*slot.context, slot.put, &cq_);
    slot.put_reader->Finish(&slot.put_response, &slot.status, &slot);
  } else {
    slot.kind = Slot::Kind::kRange;
    keys_.SetIndex(*slot.range.mutable_key(), index);
    slot.range_reader = slot.connection->kv->AsyncRange(&*slot.context, slot.range, &cq_);
    slot.range_reader->Finish(&slot.range_response, &slot.status, &slot);
  }
}

// Records the answer; true when the operation succeeded.
bool Worker::Complete(Slot& slot, SteadyClock::time_point now) {
  slot.state = Slot::State::kIdle;
  const auto second = static_cast<size_t>(
      std::chrono::duration_cast<std::chrono::seconds>(now - plan_.start).count());
  const size_t bucket = std::min(second, kMaxSeriesSeconds - 1);
  if (result_.per_second.size() <= bucket) {
    result_.per_second.resize(bucket + 1, 0);
  }
  ++result_.per_second[bucket];
  result_.last_completion = std::max(result_.last_completion, now);
  const bool ok = slot.status.ok();
  if (ok) {
    result_.latency.Record(now - slot.started);
    if (slot.kind == Slot::Kind::kPut) {
      ++result_.writes;
    } else {
      ++result_.reads;
    }
  } else {
    const size_t code =
        std::min<size_t>(static_cast<size_t>(slot.status.error_code()), kGrpcCodeCount - 1);
    if (result_.errors[code]++ == 0) {
      result_.error_examples[code] = slot.status.error_message().substr(0, kMaxErrorExampleSize);
    }
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
  }
  counters_.completed.fetch_add(1, std::memory_order_relaxed);
  if (now >= next_publish_) {
    Publish();
    next_publish_ = now + kPublishInterval;
  }
  return ok;
}

void Worker::Publish() {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  snapshot_ = result_.latency;
}

}  // namespace etcdmon::benchmark::detail
