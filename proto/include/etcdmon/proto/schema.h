#pragma once

#include <cstdint>

#include "etcdmon/status/status.h"

namespace etcdmon::proto {

/// The schema version of every etcdmonitor.v1 envelope (SampleBatch, Ack, ClusterSnapshot) this
/// build writes and accepts. Bump it only with an incompatible change.
inline constexpr uint32_t kSchemaVersion = 1;

/// OK when `version` is the one this build speaks; otherwise an InvalidArgument naming both.
/// Unknown versions are rejected, never guessed at.
Status CheckSchemaVersion(uint32_t version);

}  // namespace etcdmon::proto
