#include "tick_points_hold.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>

namespace etcdmon::aggregator::detail {
namespace {

using namespace std::chrono_literals;

// A small tick is written at once; a fleet's waits, at most kMaxTickPointsHold and at most half
// the roll-up delay, so a held point still lands before its minute is rolled up.
TEST(TickPointsHoldTest, HoldsOnlyLargeTicksAndNeverPastHalfTheRollupDelay) {
  struct Case {
    const char* name;
    std::size_t points;
    std::chrono::milliseconds rollup_delay;
    std::chrono::milliseconds want;
  };
  const Case cases[] = {
      {"one cluster", 33, 10s, 0ms},
      {"just below the threshold", kHoldTickPointsFrom - 1, 10s, 0ms},
      {"at the threshold", kHoldTickPointsFrom, 10s, 5s},
      {"a fleet, default delay", 3300, 10s, 5s},
      {"a fleet, long delay", 3300, 60s, kMaxTickPointsHold},
      {"a fleet, short delay", 3300, 3s, 1500ms},
      {"a fleet, no delay", 3300, 0ms, 0ms},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TickPointsHold(c.points, c.rollup_delay), c.want) << c.name;
    EXPECT_LE(TickPointsHold(c.points, c.rollup_delay) * 2, c.rollup_delay) << c.name;
  }
}

}  // namespace
}  // namespace etcdmon::aggregator::detail
