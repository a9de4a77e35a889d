// POST /api/v1/performance/benchmark (start a run; the benchmark token), GET
// /api/v1/performance/benchmark/<id> (its state and report) and GET
// /api/v1/performance/benchmark (the runs kept, newest first), over the BenchmarkBackend. A run
// writes into the monitored cluster, so it is bounded in bytes and refused while the target's
// database is near its quota (a full database makes etcd refuse every write).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "api.h"
#include "api_response.h"
#include "etcdmon/config/types.h"
#include "query.h"

namespace etcdmon::gateway::detail {
namespace {

using nlohmann::json;

constexpr size_t kMaxIdBytes = 128;

// A run is refused when a member's db size plus its bytes would reach this share of the quota.
constexpr double kQuotaRefuseFraction = 0.8;

std::string MiB(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

uint64_t RunBytes(const BenchmarkSpec& spec) {
  return spec.ops * (static_cast<uint64_t>(spec.key_size) + spec.value_size);
}

Status NoRunner(const SelectedCluster& cluster) {
  const std::string which =
      cluster.name.empty() ? std::string() : " for cluster \"" + cluster.name + "\"";
  return Status::Unimplemented(
      "benchmarks are not available in this gateway" + which +
      ": start it with --endpoints (or ENDPOINTS) naming the etcd cluster to run them against "
      "(and --cluster-name naming the cluster they belong to)");
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// An unsigned integer member of a JSON object within [min, max]; `fallback` when absent.
Result<uint64_t> JsonUint(const json& body, const char* key, uint64_t fallback, uint64_t min,
                          uint64_t max) {
  auto it = body.find(key);
  if (it == body.end()) {
    return fallback;
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return Status::InvalidArgument(std::string(key) + ": want an integer in " +
                                   std::to_string(min) + ".." + std::to_string(max));
  }
  const uint64_t value = it->get<uint64_t>();
  if (value < min || value > max) {
    return Status::InvalidArgument(std::string(key) + " " + std::to_string(value) +
                                   ": out of range " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  return value;
}

// A timed run's bounds: long enough to measure, short enough that a forgotten run ends soon.
constexpr std::chrono::milliseconds kMinBenchmarkDuration = std::chrono::seconds(1);
constexpr std::chrono::milliseconds kMaxBenchmarkDuration = std::chrono::minutes(10);

}  // namespace

ApiResponse Api::BenchmarkStart(const ApiRequest& request) {
  if (Status s = CheckBenchmarkToken(request.authorization); !s.ok()) {
    return ErrorResponse(s);
  }
  Result<json> parsed = ParseJsonBody(request, R"({"type": "write", "ops": 10000})");
  if (!parsed.ok()) {
    return ErrorResponse(parsed.status());
  }
  Result<SelectedCluster> cluster = SelectCluster(request);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  const json& body = *parsed;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    if (key != "type" && key != "ops" && key != "duration" && key != "clients" &&
        key != "key_size" && key != "value_size") {
      return ErrorResponse(Status::InvalidArgument("unknown field \"" + key.substr(0, 64) +
                                                   "\" (known: type, ops, duration, clients, "
                                                   "key_size, value_size)"));
    }
  }
  BenchmarkSpec spec;
  if (auto it = body.find("type"); it != body.end()) {
    const std::string type = it->is_string() ? it->get<std::string>() : "";
    if (type == "write") {
      spec.type = config::BenchmarkType::kWrite;
    } else if (type == "read") {
      spec.type = config::BenchmarkType::kRead;
    } else if (type == "mixed") {
      spec.type = config::BenchmarkType::kMixed;
    } else {
      return ErrorResponse(Status::InvalidArgument("type: want \"write\", \"read\" or \"mixed\""));
    }
  }
  Result<uint64_t> ops = JsonUint(body, "ops", spec.ops, 1, config_.max_benchmark_ops);
  Result<uint64_t> clients =
      JsonUint(body, "clients", spec.clients, 1, config_.max_benchmark_clients);
  Result<uint64_t> key_size = JsonUint(body, "key_size", spec.key_size, 1, 4096);
  Result<uint64_t> value_size = JsonUint(body, "value_size", spec.value_size, 1, 1024 * 1024);
  for (const auto* r : {&ops, &clients, &key_size, &value_size}) {
    if (!r->ok()) {
      return ErrorResponse(r->status());
    }
  }
  spec.ops = *ops;
  spec.key_size = static_cast<uint32_t>(*key_size);
  spec.value_size = static_cast<uint32_t>(*value_size);
  if (auto it = body.find("duration"); it != body.end()) {
    if (body.contains("ops")) {
      return ErrorResponse(
          Status::InvalidArgument("give either ops or duration: a run is bounded by one of them"));
    }
    Result<std::chrono::milliseconds> length =
        it->is_string() ? config::ParseDuration(it->get<std::string>())
                        : Result<std::chrono::milliseconds>(Status::InvalidArgument(""));
    if (!length.ok() || *length < kMinBenchmarkDuration || *length > kMaxBenchmarkDuration) {
      return ErrorResponse(Status::InvalidArgument(
          "duration: want how long the run lasts, from \"1s\" to \"10m\", e.g. \"30s\""));
    }
    // Capped at the rate that keeps the whole run within the byte budget and the ops bound, so
    // that the budget and quota checks below hold for a timed run as for a counted one.
    const uint64_t seconds =
        static_cast<uint64_t>((*length + std::chrono::milliseconds(999)) / std::chrono::seconds(1));
    const uint64_t most_ops = std::min<uint64_t>(
        config_.max_benchmark_ops,
        config_.benchmark_max_bytes / (static_cast<uint64_t>(spec.key_size) + spec.value_size));
    spec.duration = *length;
    spec.rate = std::max<uint64_t>(1, most_ops / seconds);
    spec.ops = spec.rate * seconds;
  }
  spec.clients = static_cast<uint32_t>(std::min<uint64_t>(*clients, spec.ops));
  if (Status s = CheckBenchmarkBudget(spec); !s.ok()) {
    return ErrorResponse(s);
  }
  const ClusterEtcdBackends* target = EtcdBackendsOf(*cluster);
  if (target == nullptr || target->benchmark == nullptr) {
    return ErrorResponse(NoRunner(*cluster));
  }
  if (Status s = CheckBenchmarkQuota(spec, *cluster); !s.ok()) {
    return ErrorResponse(s);
  }
  Result<std::string> id = target->benchmark->Start(spec);
  if (!id.ok()) {
    return ErrorResponse(id.status());
  }
  const std::string location = std::string(kBenchmarkPrefix) + *id;
  json answer = {{"id", *id},
                 {"state", "started"},
                 {"status_url", location},
                 {"type", std::string(config::BenchmarkTypeName(spec.type))},
                 {"ops", spec.ops},
                 {"clients", spec.clients},
                 {"key_size", spec.key_size},
                 {"value_size", spec.value_size}};
  if (spec.duration.count() > 0) {
    answer.erase("ops");
    answer["max_ops"] = spec.ops;
    answer["duration_seconds"] = std::chrono::duration<double>(spec.duration).count();
    answer["rate_limit"] = spec.rate;
  }
  ApiResponse r = JsonResponse(202, answer);
  r.location = location;
  return r;
}

Status Api::CheckBenchmarkBudget(const BenchmarkSpec& spec) const {
  const uint64_t bytes = RunBytes(spec);
  if (bytes <= config_.benchmark_max_bytes) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      "the run would write " + std::to_string(bytes) + " bytes (ops " + std::to_string(spec.ops) +
      " x (key_size " + std::to_string(spec.key_size) + " + value_size " +
      std::to_string(spec.value_size) + ")), over the budget of " +
      std::to_string(config_.benchmark_max_bytes) + " bytes per run (--benchmark-max-bytes)");
}

Status Api::CheckBenchmarkQuota(const BenchmarkSpec& spec, const SelectedCluster& cluster) const {
  const std::shared_ptr<const RenderedState>& state = cluster.state;
  if (state == nullptr) {
    return Status::Unavailable(
        "cannot run a benchmark yet: the target's database size is not known (no cluster "
        "snapshot so far); retry in a few seconds");
  }
  const uint64_t run_bytes = RunBytes(spec);
  for (const etcdmonitor::v1::MemberState& m : state->snapshot->members()) {
    uint64_t quota = m.db_quota_bytes() > 0 ? static_cast<uint64_t>(m.db_quota_bytes()) : 0;
    const char* quota_source = "etcd's quota";
    if (config_.max_db_size_bytes > 0 && (quota == 0 || config_.max_db_size_bytes < quota)) {
      quota = config_.max_db_size_bytes;
      quota_source = "--max-db-size-mb";
    }
    if (quota == 0 || !m.has_db_size_bytes() || m.db_size_bytes() < 0) {
      continue;  // nothing known to compare against
    }
    const auto db_size = static_cast<uint64_t>(m.db_size_bytes());
    if (static_cast<double>(db_size + run_bytes) >= kQuotaRefuseFraction * quota) {
      return Status::FailedPrecondition(
          "benchmark refused: member " + m.name() + "'s database is " + MiB(db_size) + " of " +
          MiB(quota) + " (" + quota_source + "), and with this run's " + MiB(run_bytes) +
          " it would be within 20% of the quota (a full database makes etcd refuse every "
          "write); compact and defragment it first, or raise the quota");
    }
  }
  return Status::Ok();
}

ApiResponse Api::BenchmarkGet(const ApiRequest& request, std::string_view id) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  if (!ValidId(id)) {
    return ErrorResponse(Status::NotFound("unknown benchmark id"));
  }
  // A run's id is unique to its runner; the runner of any cluster may have it.
  Result<std::string> result = NoRunner(SelectedCluster{});
  for (const auto& [name, target] : backends_.etcd_clusters) {
    if (target.benchmark == nullptr) {
      continue;
    }
    result = target.benchmark->Get(std::string(id));
    if (result.ok() || result.status().code() != StatusCode::kNotFound) {
      break;
    }
  }
  if (!result.ok()) {
    return ErrorResponse(result.status());
  }
  // The runner renders its own report document.
  return JsonResponse(200, std::move(result).value());
}

ApiResponse Api::BenchmarkList(const ApiRequest& request) {
  Result<SelectedCluster> cluster = SelectCluster(request);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  const ClusterEtcdBackends* target = EtcdBackendsOf(*cluster);
  if (target == nullptr || target->benchmark == nullptr) {
    return ErrorResponse(NoRunner(*cluster));
  }
  Result<std::string> result = target->benchmark->List();
  if (!result.ok()) {
    return ErrorResponse(result.status());
  }
  return JsonResponse(200, std::move(result).value());
}

}  // namespace etcdmon::gateway::detail
