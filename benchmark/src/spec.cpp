#include "etcdmon/benchmark/spec.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "etcdmon/config/flags.h"

namespace etcdmon::benchmark {
namespace {

constexpr PerfProfileParams kProfiles[] = {
    {"s", 150, 50},
    {"m", 1000, 200},
    {"l", 8000, 500},
    {"xl", 15000, 1000},
};

size_t DecimalDigits(uint64_t n) {
  size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

PerfProfileParams ProfileParams(PerfProfile profile) {
  return kProfiles[static_cast<size_t>(profile)];
}

Result<PerfProfile> ParsePerfProfile(std::string_view text) {
  const std::string lower = Lower(text);
  for (size_t i = 0; i < sizeof(kProfiles) / sizeof(kProfiles[0]); ++i) {
    if (lower == kProfiles[i].name) {
      return static_cast<PerfProfile>(i);
    }
  }
  return Status::InvalidArgument("invalid check-perf load \"" + std::string(text) +
                                 "\": want s, m, l or xl");
}

BenchmarkSpec CheckPerfSpec(PerfProfile profile, const BenchmarkSpec& base) {
  const PerfProfileParams params = ProfileParams(profile);
  BenchmarkSpec spec = base;
  spec.type = WorkloadType::kWrite;
  spec.duration = std::chrono::seconds(60);
  spec.rate = params.rate;
  spec.clients = params.clients;
  spec.conns = std::min(base.conns, params.clients);
  spec.key_size = 256;
  spec.value_size = 1024;
  spec.check_perf = profile;
  return spec;
}

Status ValidateSpec(const BenchmarkSpec& spec) {
  config::FlagErrors errors;
  if (spec.duration.has_value()) {
    if (*spec.duration < std::chrono::seconds(1) || *spec.duration > kMaxDuration) {
      errors.Add("duration must be between 1s and 24h");
    }
  } else if (spec.ops < 1 || spec.ops > kMaxOps) {
    errors.Add("ops must be between 1 and " + std::to_string(kMaxOps));
  }
  if (spec.clients < 1 || spec.clients > kMaxClients) {
    errors.Add("clients must be between 1 and " + std::to_string(kMaxClients));
  }
  if (spec.conns < 1 || spec.conns > kMaxConns) {
    errors.Add("conns must be between 1 and " + std::to_string(kMaxConns));
  } else if (spec.conns > spec.clients) {
    errors.Add("conns (" + std::to_string(spec.conns) + ") must not exceed clients (" +
               std::to_string(spec.clients) + ")");
  }
  if (spec.value_size > kMaxValueSize) {
    errors.Add("value size must be at most " + std::to_string(kMaxValueSize) + " bytes");
  }
  // Every client holds one request and one response of its own.
  if (static_cast<uint64_t>(spec.clients) * (spec.key_size + spec.value_size) > (256ULL << 20)) {
    errors.Add("clients x (key size + value size) must be at most 256 MiB");
  }
  if (spec.key_space < 1 || spec.key_space > kMaxKeySpace) {
    errors.Add("key space must be between 1 and " + std::to_string(kMaxKeySpace));
  }
  if (spec.rate > kMaxRate) {
    errors.Add("rate must be at most " + std::to_string(kMaxRate) + " ops/s (0 = unlimited)");
  }
  if (spec.prefix.empty() || spec.prefix.size() > kMaxPrefixSize) {
    errors.Add("prefix must be 1.." + std::to_string(kMaxPrefixSize) + " bytes");
  }
  if (spec.key_space >= 1 && spec.key_space <= kMaxKeySpace) {
    const size_t needed = spec.prefix.size() + kRunIdSize + DecimalDigits(spec.key_space - 1);
    if (spec.key_size < needed || spec.key_size > kMaxKeySize) {
      errors.Add("key size must be between " + std::to_string(needed) +
                 " (prefix, run id and key index) and " + std::to_string(kMaxKeySize) + " bytes");
    }
    if (spec.type != WorkloadType::kWrite &&
        spec.key_space * (static_cast<uint64_t>(spec.key_size) + spec.value_size) >
            kMaxPopulateBytes) {
      errors.Add(
          "key space x (key size + value size) of a read or mixed run must be at most "
          "1 GiB (it is written before the run)");
    }
  }
  if (spec.target == TargetKind::kEndpoint && spec.target_endpoint.empty()) {
    errors.Add("target endpoint must not be empty");
  }
  if (spec.check_perf.has_value() && spec.type != WorkloadType::kWrite) {
    errors.Add("check-perf runs writes only");
  }
  return errors.ToStatus();
}

std::string_view ConsistencyName(Consistency c) {
  return c == Consistency::kSerializable ? "s" : "l";
}

std::string_view TargetName(TargetKind t) {
  switch (t) {
    case TargetKind::kAll:
      return "all";
    case TargetKind::kLeader:
      return "leader";
    case TargetKind::kEndpoint:
      return "endpoint";
  }
  return "all";
}

}  // namespace etcdmon::benchmark
