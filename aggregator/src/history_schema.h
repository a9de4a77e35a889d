#pragma once

// The history file's schema and its levels. See docs/architecture.md, "History".

#include <cstdint>
#include <string_view>

#include "etcdmon/sqlite/connection.h"
#include "etcdmon/status/status.h"

namespace etcdmon::aggregator::detail {

/// PRAGMA user_version of the schema this build writes. Versions 1 (no remote_write_cursor) and
/// 2 (series without a cluster) are migrated in place; Open refuses any other version.
inline constexpr int64_t kSchemaVersion = 3;

/// PRAGMA application_id of a history file ("EMHS"), so another SQLite file is never mistaken for
/// one.
inline constexpr int64_t kApplicationId = 0x454D4853;

/// Storage levels, finest first. A level's row covers [ts, ts + kBucketMs[level]).
enum Level : int { kRaw = 0, kMinute = 1, kHour = 2 };
inline constexpr int kLevelCount = 3;
inline constexpr int64_t kBucketMs[kLevelCount] = {0, 60'000, 3'600'000};
inline constexpr const char* kLevelName[kLevelCount] = {"raw", "1m", "1h"};

/// Timestamps a point may carry: the Unix epoch to the end of year 9999, in ms. Keeps bucket
/// arithmetic far from int64 overflow.
inline constexpr int64_t kMinUnixMs = 0;
inline constexpr int64_t kMaxUnixMs = 253402300799999;

/// Longest metric, member or collector name.
inline constexpr size_t kMaxNameBytes = 200;

/// Creates the schema in an empty file, or checks an existing file's application id and schema
/// version. FailedPrecondition, saying what was found, for a file that is not a history file or
/// has another schema version. A file of version 1 or 2 is migrated; its series become series of
/// `legacy_cluster`, the cluster it served.
Status EnsureSchema(sqlite::Connection& db, std::string_view legacy_cluster);

/// `value` rounded down to a multiple of `step` (> 0), also for negative values.
inline int64_t AlignDown(int64_t value, int64_t step) {
  int64_t q = value / step;
  if (value % step != 0 && value < 0) {
    --q;
  }
  return q * step;
}

}  // namespace etcdmon::aggregator::detail
