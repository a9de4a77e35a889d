#include "etcdmon/aggregator/startup.h"

#include <algorithm>
#include <utility>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/metrics/catalogue.h"

namespace etcdmon::aggregator {
namespace {

// A previous run stopped longer ago than this tells nothing about the members now.
constexpr int64_t kLookBackMs = 60 * 60 * 1000;
// Members whose newest sample is this much older than the newest of all were not being sampled
// at the end (their collector had gone): not waited for.
constexpr int64_t kStaleIntervals = 3;
constexpr int64_t kMinRecentMs = 30 * 1000;

}  // namespace

Result<std::vector<std::string>> MembersSampledLast(const HistoryStore& store,
                                                    std::string_view cluster,
                                                    std::chrono::system_clock::time_point now,
                                                    std::chrono::milliseconds interval) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  Result<std::vector<std::string>> members = store.Members(cluster, metrics::kMemberUp);
  if (!members.ok()) {
    if (members.status().code() == StatusCode::kNotFound) {
      return std::vector<std::string>();  // a new file: nothing sampled yet
    }
    return members.status();
  }
  std::vector<std::pair<std::string, int64_t>> last_seen;  // (label, newest point)
  int64_t newest = 0;
  for (std::string& member : *members) {
    if (member.empty()) {
      continue;  // the cluster-wide series, if any
    }
    HistoryQuery query;
    query.cluster = std::string(cluster);
    query.metric = std::string(metrics::kMemberUp);
    query.member = member;
    query.from_unix_ms = std::max<int64_t>(0, now_ms - kLookBackMs);
    query.to_unix_ms = now_ms;
    Result<HistoryResult> points = store.Query(query);
    if (!points.ok()) {
      if (points.status().code() == StatusCode::kNotFound) {
        continue;
      }
      return points.status();
    }
    if (points->points.empty()) {
      continue;
    }
    const int64_t at = points->points.back().unix_ms;
    newest = std::max(newest, at);
    last_seen.emplace_back(std::move(member), at);
  }
  const int64_t recent_ms = std::max<int64_t>(kMinRecentMs, kStaleIntervals * interval.count());
  std::vector<std::string> out;
  for (auto& [label, at] : last_seen) {
    if (at >= newest - recent_ms) {
      out.push_back(std::move(label));
    }
  }
  return out;
}

}  // namespace etcdmon::aggregator
