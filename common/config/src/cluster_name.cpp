#include "etcdmon/config/cluster_name.h"

#include <string>

namespace etcdmon::config {

namespace {

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

Status Invalid(std::string_view name, std::string_view why) {
  // The name is quoted only when short enough to be a typo rather than an attack on the log.
  std::string shown =
      name.size() <= 80 ? std::string(name) : std::string(name.substr(0, 80)) + "...";
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == 0x7f) c = '?';
  }
  return Status::InvalidArgument("invalid cluster name \"" + shown + "\": " + std::string(why));
}

}  // namespace

Status ValidateClusterName(std::string_view name) {
  if (name.empty()) {
    return Invalid(name, "it is empty");
  }
  if (name.size() > kMaxClusterNameBytes) {
    return Invalid(name, "longer than " + std::to_string(kMaxClusterNameBytes) + " bytes");
  }
  if (!IsAlnum(name.front())) {
    return Invalid(name, "it must start with a letter or a digit");
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') {
      return Invalid(name, "use only letters, digits, '_', '-' and '.'");
    }
  }
  return Status::Ok();
}

}  // namespace etcdmon::config
