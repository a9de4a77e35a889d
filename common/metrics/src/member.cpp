#include "etcdmon/metrics/member.h"

#include <cstdio>

#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::metrics {

namespace v1 = etcdmonitor::v1;

std::string HexId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string MemberLabel(std::string_view name, uint64_t id, std::string_view endpoint) {
  if (!name.empty()) {
    return std::string(name);
  }
  if (id != 0) {
    return HexId(id);
  }
  return std::string(endpoint);
}

std::string MemberLabel(const v1::MemberState& member) {
  return MemberLabel(member.name(), member.id(), member.endpoint());
}

const char* HealthName(v1::MemberHealth health) {
  switch (health) {
    case v1::HEALTHY:
      return "healthy";
    case v1::UNHEALTHY:
      return "unhealthy";
    case v1::UNREACHABLE:
      return "unreachable";
    case v1::STALE:
      return "stale";
    default:
      return "unknown";
  }
}

}  // namespace etcdmon::metrics
