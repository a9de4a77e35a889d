#pragma once

// How every service names a member and its health, so that an alert, a /metrics series, a history
// series and a REST answer about one member all say the same thing. Pure functions; safe for
// concurrent use.

#include <cstdint>
#include <string>
#include <string_view>

namespace etcdmonitor::v1 {
class MemberState;
enum MemberHealth : int;
}  // namespace etcdmonitor::v1

namespace etcdmon::metrics {

/// A member or cluster id as etcd prints it: lower-case hex, no prefix ("8e9e05c52164694d").
std::string HexId(uint64_t id);

/// The member's label: its name, else its id in hex, else its endpoint (a member that never
/// answered is known only by the endpoint its collector uses). Empty only when all three are.
std::string MemberLabel(std::string_view name, uint64_t id, std::string_view endpoint);
/// The same, for a member of a snapshot.
std::string MemberLabel(const etcdmonitor::v1::MemberState& member);

/// "healthy", "unhealthy", "unreachable", "stale" or "unknown": a member's health as the REST API
/// and the model's sentences spell it. Static storage.
const char* HealthName(etcdmonitor::v1::MemberHealth health);

}  // namespace etcdmon::metrics
