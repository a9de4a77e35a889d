#pragma once

// What the aggregator's start-up takes over from its previous run, read from the history file.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::aggregator {

class HistoryStore;

/// The members of `cluster` (their labels as stored: name, hex id or endpoint) the previous run
/// was still
/// sampling when it stopped: those with an etcd_member_up point no more than 3 `interval`s (at
/// least 30 s) older than the newest such point, when that is less than an hour before `now`.
/// Empty for a new file, or after a longer stop (the start-up then waits for the member lists
/// only). For ClusterModel::ExpectMembers. Errors are the store's query errors.
Result<std::vector<std::string>> MembersSampledLast(const HistoryStore& store,
                                                    std::string_view cluster,
                                                    std::chrono::system_clock::time_point now,
                                                    std::chrono::milliseconds interval);

}  // namespace etcdmon::aggregator
