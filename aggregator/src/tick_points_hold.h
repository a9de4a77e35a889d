#pragma once

// How long the maintenance thread holds a tick's cluster-wide points before writing them, so
// that one write stores several ticks' points.

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace etcdmon::aggregator::detail {

/// A tick with fewer points than this is written at once. Writing a point rewrites the newest
/// page of its series (4 KiB in the WAL, and again at the checkpoint), so a small tick costs
/// little and its points reach the history without delay.
inline constexpr std::size_t kHoldTickPointsFrom = 1000;

/// The longest a larger tick's points wait for later ticks' (they then share their series' pages
/// in one write). With 100 clusters (3,300 cluster-wide series) writing every tick cost about
/// half of the aggregator's CPU.
inline constexpr std::chrono::milliseconds kMaxTickPointsHold{5000};

/// How long the points of a tick with `points` points (the first of the ticks waiting) may wait
/// before they are written. At most half of `rollup_delay`: a held point must still land before
/// its minute is rolled up, or that minute would be marked dirty and rolled up again.
inline std::chrono::milliseconds TickPointsHold(std::size_t points,
                                                std::chrono::milliseconds rollup_delay) {
  if (points < kHoldTickPointsFrom) {
    return std::chrono::milliseconds(0);
  }
  return std::clamp(rollup_delay / 2, std::chrono::milliseconds(0), kMaxTickPointsHold);
}

}  // namespace etcdmon::aggregator::detail
