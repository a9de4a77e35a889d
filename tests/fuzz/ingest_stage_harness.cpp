// IngestStage (fuzz_harness.h): the aggregator's ingest path after the frame is read, as
// aggregator/src/service.cpp runs it (receiver checks, Stage, Commit, Tick), on a history file of
// its own in a temporary directory and a FakeClock.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/batch_validation.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "fuzz_harness.h"
#include "model_points.h"

namespace etcdmon::fuzz {
namespace {

namespace v1 = etcdmonitor::v1;
using aggregator::ClusterModel;
using aggregator::DerivedPoint;
using aggregator::HistoryStore;
using aggregator::SeriesId;
using aggregator::WriteBatch;

constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
// The store and the model start afresh this often, so that neither grows without bound over a
// long run (a batch adds series and points).
constexpr uint64_t kRunsPerStore = 2000;

void Check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// What service.cpp's SampleRecorder does: each value of a sample to a point of its series.
class Recorder final : public aggregator::detail::SamplePointVisitor {
 public:
  Recorder(HistoryStore& store, WriteBatch& out) : store_(store), out_(out) {}
  void Member(const std::string& label, int64_t unix_ms) override {
    member_ = label;
    at_ = unix_ms;
  }
  void Point(std::string_view metric, double value) override {
    Result<SeriesId> series = store_.Series("default", metric, member_);
    if (series.ok()) {
      out_.points.push_back({*series, at_, value});
    }
  }

 private:
  HistoryStore& store_;
  WriteBatch& out_;
  std::string member_;
  int64_t at_ = 0;
};

class Harness {
 public:
  Harness() : clock_(std::chrono::system_clock::time_point(std::chrono::milliseconds(kStartMs))) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcdmon-ingest-fuzz-XXXXXX").string();
    Check(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    Reset();
  }
  ~Harness() {
    model_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Run(const std::uint8_t* data, std::size_t size) {
    if (++runs_ % kRunsPerStore == 0) {
      Reset();
    }
    clock_.Advance(std::chrono::seconds(1));
    v1::SampleBatch batch;
    if (!batch.ParseFromArray(data, static_cast<int>(size))) {
      return;
    }
    const int64_t now = UnixMs(clock_.Now());
    // As the receiver: schema, a collector id, then ValidateBatch.
    if (proto::CheckSchemaVersion(batch.schema_version()).ok() && !batch.collector_id().empty()) {
      const transport::BatchVerdict verdict = transport::ValidateBatch(batch, limits_, now);
      Check(verdict.ok() == (verdict.problem == transport::BatchProblem::kNone));
      Check(!transport::BatchProblemName(verdict.problem).empty());
      if (verdict.ok()) {
        Stage(batch, now);
      }
    }
    Repair(batch, now);
    if (transport::ValidateBatch(batch, limits_, now).ok()) {
      Stage(batch, now);
    }
  }

 private:
  void Reset() {
    model_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove(dir_ + "/history.db", ignored);
    std::filesystem::remove(dir_ + "/history.db-wal", ignored);
    std::filesystem::remove(dir_ + "/history.db-shm", ignored);
    aggregator::HistoryConfig config;
    config.path = dir_ + "/history.db";
    config.max_series = 500;
    Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(config);
    Check(store.ok());
    store_ = std::move(*store);
    aggregator::ModelConfig model;
    model.max_members = 16;
    model_ = std::make_unique<ClusterModel>(model, clock_);
  }

  // Makes what ValidateBatch checks first acceptable, keeping the rest of the input.
  void Repair(v1::SampleBatch& batch, int64_t now) {
    batch.set_schema_version(proto::kSchemaVersion);
    std::string id = batch.collector_id().substr(0, 32);
    for (char& c : id) {
      const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
      if (!allowed) {
        c = '_';
      }
    }
    batch.set_collector_id(id.empty() ? "collector-1" : id);
    batch.set_sequence(runs_);
    batch.set_sent_at_unix_ms(now);
    for (v1::MemberSample& sample : *batch.mutable_samples()) {
      const int64_t at = sample.collected_at_unix_ms();
      if (at > now || at < now - 3600000) {
        const uint64_t back = static_cast<uint64_t>(at) % 3600000;
        sample.set_collected_at_unix_ms(now - static_cast<int64_t>(back));
      }
    }
  }

  // Stage (service.cpp): a duplicate is skipped; the points and the committed sequence in one
  // write; then, as Commit does once stored, the model; then a tick as Tick does.
  void Stage(const v1::SampleBatch& batch, int64_t now) {
    if (batch.sequence() <= store_->HighestCommitted(batch.collector_id())) {
      return;
    }
    WriteBatch write;
    Recorder recorder(*store_, write);
    for (const v1::MemberSample& sample : batch.samples()) {
      aggregator::detail::VisitSamplePoints(sample, recorder);
    }
    write.committed.push_back({batch.collector_id(), batch.sequence()});
    if (!store_->Write(write).ok()) {
      return;
    }
    Check(store_->HighestCommitted(batch.collector_id()) == batch.sequence());
    for (const v1::MemberSample& sample : batch.samples()) {
      (void)model_->Ingest(batch.collector_id(), sample);
    }
    if (batch.has_stats()) {
      model_->IngestStats(batch.collector_id(), batch.stats());
    }
    v1::ClusterSnapshot snapshot;
    std::vector<DerivedPoint> points;
    model_->Tick(snapshot, points);
    WriteBatch tick;
    for (const DerivedPoint& p : points) {
      Result<SeriesId> series = store_->Series("default", p.metric, p.member);
      if (series.ok()) {
        tick.points.push_back({*series, p.unix_ms, p.value});
      }
    }
    (void)store_->Write(tick);
    (void)store_->Maintain(clock_.Now());
    // Read back what a sample wrote, as the gateway's history endpoint would.
    Result<std::vector<std::string>> metrics = store_->Metrics();
    if (!metrics.ok() || metrics->empty()) {
      return;
    }
    const std::string& metric = (*metrics)[batch.sequence() % metrics->size()];
    Result<std::vector<std::string>> members = store_->Members("default", metric);
    aggregator::HistoryQuery query;
    query.metric = metric;
    query.member = members.ok() && !members->empty() ? members->front() : "";
    query.from_unix_ms = now - 3600000;
    query.to_unix_ms = now;
    (void)store_->Query(query);
  }

  FakeClock clock_;
  transport::BatchLimits limits_;
  std::string dir_;
  std::unique_ptr<HistoryStore> store_;
  std::unique_ptr<ClusterModel> model_;
  uint64_t runs_ = 0;
};

}  // namespace

void IngestStage(const std::uint8_t* data, std::size_t size) {
  static Harness* harness = [] {
    static Harness h;
    return &h;
  }();
  harness->Run(data, size);
}

}  // namespace etcdmon::fuzz
