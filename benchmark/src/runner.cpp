#include "etcdmon/benchmark/runner.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcdmon/benchmark/latency_histogram.h"
#include "etcdmon/etcd/channel.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/errors.h"
#include "worker.h"

namespace etcdmon::benchmark {

std::string_view PhaseName(Progress::Phase phase) {
  switch (phase) {
    case Progress::Phase::kPopulating:
      return "populating";
    case Progress::Phase::kRunning:
      return "running";
    case Progress::Phase::kCleaningUp:
      return "cleaning_up";
  }
  return "running";
}
namespace {

namespace pb = ::etcdserverpb;

using detail::Connection;
using detail::KeyLayout;
using detail::kGrpcCodeCount;
using detail::PhaseCounters;
using detail::PhasePlan;
using detail::SteadyClock;
using detail::Target;
using detail::WallClock;
using detail::Worker;
using detail::WorkerResult;

constexpr std::chrono::seconds kProgressInterval{1};
// Deleting a large key space takes longer than an ordinary request.
constexpr std::chrono::seconds kMinCleanupTimeout{60};

constexpr std::string_view kGrpcCodeNames[kGrpcCodeCount] = {
    "ok",        "cancelled",      "unknown",           "invalid_argument",   "deadline_exceeded",
    "not_found", "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
    "aborted",   "out_of_range",   "unimplemented",     "internal",           "unavailable",
    "data_loss", "unauthenticated"};

}  // namespace

struct BenchmarkRunner::Impl {
  Impl(etcd::ChannelFactory f, BenchmarkSpec s) : factory(std::move(f)), spec(std::move(s)) {}

  Status ResolveTargets();
  Status Connect();
  // Runs one phase on fresh workers; fills `results`.
  void RunPhase(const PhasePlan& plan, PhaseCounters& counters, const ProgressCallback& cb,
                std::vector<WorkerResult>& results);
  Status Cleanup(const std::string& run_prefix);

  etcd::ChannelFactory factory;
  const BenchmarkSpec spec;
  std::atomic<bool> cancelled{false};
  bool ran = false;

  std::vector<Target> targets;
  std::vector<Connection> connections;
  KeyLayout keys;
  std::string value;
};

BenchmarkRunner::BenchmarkRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BenchmarkRunner::~BenchmarkRunner() = default;

const BenchmarkSpec& BenchmarkRunner::spec() const { return impl_->spec; }

void BenchmarkRunner::Cancel() { impl_->cancelled.store(true); }

Result<std::unique_ptr<BenchmarkRunner>> BenchmarkRunner::Create(
    const config::EtcdConnectionConfig& connection, BenchmarkSpec spec) {
  ETCDMON_RETURN_IF_ERROR(ValidateSpec(spec));
  if (spec.target == TargetKind::kEndpoint) {
    const bool known = std::any_of(
        connection.endpoints.begin(), connection.endpoints.end(),
        [&](const config::Endpoint& e) { return e.Authority() == spec.target_endpoint; });
    if (!known) {
      return Status::InvalidArgument("target " + spec.target_endpoint +
                                     " is not one of the endpoints (give it in --endpoints too)");
    }
  }
  Result<etcd::ChannelFactory> factory = etcd::ChannelFactory::Create(connection);
  if (!factory.ok()) {
    return factory.status();
  }
  return std::unique_ptr<BenchmarkRunner>(
      new BenchmarkRunner(std::make_unique<Impl>(std::move(factory).value(), std::move(spec))));
}

Status BenchmarkRunner::Impl::ResolveTargets() {
  const config::EtcdConnectionConfig& config = factory.config();
  for (const config::Endpoint& e : config.endpoints) {
    if (spec.target == TargetKind::kEndpoint && e.Authority() != spec.target_endpoint) {
      continue;
    }
    targets.push_back(Target{e, e.Authority(), ""});
  }
  if (spec.target != TargetKind::kLeader) {
    return Status::Ok();
  }
  // Ask every endpoint for its status; the one whose member id is the leader's is the target.
  std::vector<std::string> problems;
  for (const Target& t : targets) {
    Result<std::shared_ptr<grpc::Channel>> channel = factory.Dial(t.endpoint);
    if (!channel.ok()) {
      return channel.status();
    }
    Result<std::string> token = factory.Authenticate(**channel, t.authority);
    if (!token.ok()) {
      return token.status();
    }
    std::unique_ptr<pb::Maintenance::Stub> maintenance = pb::Maintenance::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(WallClock::now() + config.dial_timeout + config.request_timeout);
    if (!token->empty()) {
      ctx.AddMetadata(etcd::kAuthTokenMetadataKey, *token);
    }
    pb::StatusRequest request;
    pb::StatusResponse response;
    grpc::Status s = maintenance->Status(&ctx, request, &response);
    if (!s.ok()) {
      problems.push_back(
          etcd::StatusFromGrpc(t.authority, "Status", s.error_code(), s.error_message()).message());
      continue;
    }
    if (response.leader() != 0 && response.leader() == response.header().member_id()) {
      Target leader = t;
      targets.assign(1, std::move(leader));
      return Status::Ok();
    }
  }
  std::string message = "cannot find the leader among the endpoints";
  for (const std::string& p : problems) {
    message += "; " + p;
  }
  return Status::Unavailable(message);
}

Status BenchmarkRunner::Impl::Connect() {
  for (Target& t : targets) {
    Result<std::shared_ptr<grpc::Channel>> channel = factory.Dial(t.endpoint);
    if (!channel.ok()) {
      return channel.status();
    }
    Result<std::string> token = factory.Authenticate(**channel, t.authority);
    if (!token.ok()) {
      return token.status();
    }
    t.token = std::move(token).value();
  }
  connections.resize(spec.conns);
  for (uint32_t i = 0; i < spec.conns; ++i) {
    Connection& c = connections[i];
    c.target = &targets[i % targets.size()];
    Result<std::shared_ptr<grpc::Channel>> channel = factory.Dial(c.target->endpoint);
    if (!channel.ok()) {
      return channel.status();
    }
    c.channel = std::move(channel).value();
    c.kv = pb::KV::NewStub(c.channel);
  }
  // Connect every channel before the clock starts, so that dialling is not measured as
  // latency. Members that do not answer are left to fail during the run (and be counted),
  // unless none answers.
  const auto deadline = WallClock::now() + factory.config().dial_timeout;
  size_t connected = 0;
  for (Connection& c : connections) {
    c.channel->GetState(/*try_to_connect=*/true);
  }
  for (Connection& c : connections) {
    if (c.channel->WaitForConnected(deadline)) {
      ++connected;
    }
  }
  if (connected == 0) {
    return Status::Unavailable("cannot connect to any target endpoint within " +
                               etcd::FormatDuration(factory.config().dial_timeout));
  }
  return Status::Ok();
}

void BenchmarkRunner::Impl::RunPhase(const PhasePlan& plan, PhaseCounters& counters,
                                     const ProgressCallback& on_progress,
                                     std::vector<WorkerResult>& results) {
  // One completion queue thread per two cores keeps gRPC busy (gRPC polls and runs callbacks
  // on threads of its own as well); more only adds wake-ups, lock handoffs and contention with
  // etcd members on the same machine: on 2 cores, two workers cost the runner ~10% more CPU
  // per operation than one, for no more throughput.
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  const uint32_t worker_count = std::min({spec.clients, spec.conns, std::max(1u, cores / 2), 8u});
  std::vector<std::unique_ptr<Worker>> workers;
  workers.reserve(worker_count);
  for (uint32_t i = 0; i < worker_count; ++i) {
    workers.push_back(std::make_unique<Worker>(spec, plan, counters, keys, value,
                                               factory.config().request_timeout, cancelled));
  }
  std::mt19937_64 seeds(std::random_device{}());
  for (uint32_t i = 0; i < spec.clients; ++i) {
    workers[i % worker_count]->AddSlot(&connections[i % connections.size()], seeds());
  }

  std::mutex mu;
  std::condition_variable cv;
  size_t running = worker_count;  // guarded by mu
  std::vector<std::thread> threads;
  threads.reserve(worker_count);
  for (auto& w : workers) {
    threads.emplace_back([&, worker = w.get()] {
      worker->Run();
      std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_all();
    });
  }

  LatencyHistogram merged;  // reused by every progress tick
  uint64_t last_done = 0;
  SteadyClock::time_point last_tick = SteadyClock::now();
  std::unique_lock<std::mutex> lock(mu);
  while (running > 0) {
    if (cv.wait_for(lock, kProgressInterval, [&] { return running == 0; })) {
      break;
    }
    if (!on_progress) {
      continue;
    }
    lock.unlock();
    const SteadyClock::time_point now = SteadyClock::now();
    Progress p;
    p.phase = plan.phase;
    p.elapsed = now - plan.start;
    p.ops_done = counters.completed.load(std::memory_order_relaxed);
    p.ops_total = plan.ops;
    p.failed = counters.failed.load(std::memory_order_relaxed);
    const double seconds = std::chrono::duration<double>(now - last_tick).count();
    p.current_ops_per_second =
        seconds > 0 ? static_cast<double>(p.ops_done - last_done) / seconds : 0;
    merged.Reset();
    for (auto& w : workers) {
      w->AddSnapshotTo(merged);
    }
    p.p99_so_far = merged.Percentile(99);
    last_done = p.ops_done;
    last_tick = now;
    on_progress(p);
    lock.lock();
  }
  lock.unlock();
  for (std::thread& t : threads) {
    t.join();
  }
  results.clear();
  for (auto& w : workers) {
    results.push_back(std::move(w->result()));
  }
}

Status BenchmarkRunner::Impl::Cleanup(const std::string& run_prefix) {
  const config::EtcdConnectionConfig& config = factory.config();
  const std::string range_end = etcd::PrefixRangeEnd(run_prefix);
  std::string problems;
  // One attempt per target endpoint, on the first connection to it.
  for (const Target& t : targets) {
    auto c = std::find_if(connections.begin(), connections.end(),
                          [&](const Connection& conn) { return conn.target == &t; });
    if (c == connections.end()) {
      continue;
    }
    pb::DeleteRangeRequest request;
    request.set_key(run_prefix);
    request.set_range_end(range_end);
    pb::DeleteRangeResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(WallClock::now() + std::max<std::chrono::milliseconds>(config.request_timeout,
                                                                            kMinCleanupTimeout));
    if (!t.token.empty()) {
      ctx.AddMetadata(etcd::kAuthTokenMetadataKey, t.token);
    }
    grpc::Status s = c->kv->DeleteRange(&ctx, request, &response);
    if (s.ok()) {
      return Status::Ok();
    }
    problems += (problems.empty() ? "" : "; ") +
                etcd::StatusFromGrpc(t.authority, "DeleteRange", s.error_code(), s.error_message())
                    .message();
  }
  return Status::Unavailable("cannot delete the benchmark keys under " + run_prefix + ": " +
                             problems);
}

Result<BenchmarkReport> BenchmarkRunner::Run(const ProgressCallback& on_progress) {
  Impl& impl = *impl_;
  const BenchmarkSpec& spec = impl.spec;
  if (impl.ran) {
    return Status::FailedPrecondition("a benchmark runner runs once");
  }
  impl.ran = true;
  ETCDMON_RETURN_IF_ERROR(impl.ResolveTargets());
  ETCDMON_RETURN_IF_ERROR(impl.Connect());

  // The run's own prefix: cleanup deletes exactly these keys.
  std::mt19937_64 rng(std::random_device{}());
  char run_id[16];
  std::snprintf(run_id, sizeof(run_id), "%08x/", static_cast<unsigned>(rng() & 0xffffffffu));
  impl.keys.run_prefix = spec.prefix + run_id;
  impl.keys.key_size = spec.key_size;
  impl.keys.index_digits = spec.key_size - impl.keys.run_prefix.size();
  impl.value.resize(spec.value_size);
  for (char& c : impl.value) {
    c = static_cast<char>('a' + rng() % 26);
  }

  BenchmarkReport report;
  report.type = spec.type;
  report.key_prefix = impl.keys.run_prefix;
  for (const Target& t : impl.targets) {
    report.endpoints.push_back(t.authority);
  }
  report.clients = spec.clients;
  report.conns = spec.conns;
  report.rate_limit = spec.rate;
  report.consistency = std::string(ConsistencyName(spec.consistency));

  std::vector<WorkerResult> results;
  Status populate_status;
  if (spec.type != WorkloadType::kWrite && !impl.cancelled.load()) {
    PhasePlan populate;
    populate.phase = Progress::Phase::kPopulating;
    populate.populate = true;
    populate.ops = spec.key_space;
    populate.start = SteadyClock::now();
    PhaseCounters counters;
    impl.RunPhase(populate, counters, on_progress, results);
    const uint64_t failed = counters.failed.load();
    report.keys_populated = counters.completed.load() - failed;
    if (failed > 0) {
      std::string example;
      for (const WorkerResult& r : results) {
        for (size_t code = 0; code < kGrpcCodeCount && example.empty(); ++code) {
          if (r.errors[code] > 0) {
            example = std::string(kGrpcCodeNames[code]) + ": " + r.error_examples[code];
          }
        }
      }
      populate_status = Status::Unavailable(
          "writing the key space before the run failed: " + std::to_string(failed) + " of " +
          std::to_string(spec.key_space) + " writes failed (" + example + ")");
    }
  }

  if (populate_status.ok()) {
    PhasePlan run;
    run.phase = Progress::Phase::kRunning;
    run.start = SteadyClock::now();
    run.rate = spec.rate;
    if (spec.duration.has_value()) {
      run.deadline = run.start + *spec.duration;
    } else {
      run.ops = spec.ops;
    }
    PhaseCounters counters;
    impl.RunPhase(run, counters, on_progress, results);

    LatencyHistogram latency;
    std::array<uint64_t, kGrpcCodeCount> errors{};
    std::array<std::string, kGrpcCodeCount> examples;
    SteadyClock::time_point end = run.start;
    for (WorkerResult& r : results) {
      latency.Merge(r.latency);
      report.reads += r.reads;
      report.writes += r.writes;
      for (size_t code = 0; code < kGrpcCodeCount; ++code) {
        errors[code] += r.errors[code];
        if (examples[code].empty()) {
          examples[code] = std::move(r.error_examples[code]);
        }
      }
      if (report.per_second.size() < r.per_second.size()) {
        report.per_second.resize(r.per_second.size(), 0);
      }
      for (size_t i = 0; i < r.per_second.size(); ++i) {
        report.per_second[i] += r.per_second[i];
      }
      end = std::max(end, r.last_completion);
    }
    for (size_t code = 0; code < kGrpcCodeCount; ++code) {
      if (errors[code] > 0) {
        report.errors.push_back(
            ErrorCount{std::string(kGrpcCodeNames[code]), errors[code], examples[code]});
        report.failed += errors[code];
      }
    }
    std::stable_sort(report.errors.begin(), report.errors.end(),
                     [](const ErrorCount& a, const ErrorCount& b) { return a.count > b.count; });
    report.succeeded = latency.count();
    report.ops = report.succeeded + report.failed;
    report.duration = end - run.start;
    report.ops_per_second = report.duration.count() > 0
                                ? static_cast<double>(report.succeeded) /
                                      std::chrono::duration<double>(report.duration).count()
                                : 0;
    report.mean = latency.mean();
    report.stddev = latency.stddev();
    report.min = latency.min();
    report.max = latency.max();
    for (size_t i = 0; i < kReportedPercentileCount; ++i) {
      report.percentiles[i] = latency.Percentile(kReportedPercentiles[i]);
    }
    if (spec.check_perf.has_value()) {
      report.verdict = JudgePerf(*spec.check_perf, report);
    }
  }
  report.cancelled = impl.cancelled.load();

  if (!spec.keep) {
    if (on_progress) {
      Progress p;
      p.phase = Progress::Phase::kCleaningUp;
      on_progress(p);
    }
    Status cleaned = impl.Cleanup(impl.keys.run_prefix);
    report.keys_deleted = cleaned.ok();
    if (!cleaned.ok()) {
      report.cleanup_error = cleaned.message();
    }
  }
  if (!populate_status.ok()) {
    return populate_status;
  }
  return report;
}

}  // namespace etcdmon::benchmark
