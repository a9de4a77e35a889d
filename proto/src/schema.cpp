#include "etcdmon/proto/schema.h"

#include <string>

namespace etcdmon::proto {

Status CheckSchemaVersion(uint32_t version) {
  if (version == kSchemaVersion) {
    return Status::Ok();
  }
  if (version == 0) {
    return Status::InvalidArgument("envelope has no schema_version (expected " +
                                   std::to_string(kSchemaVersion) + ")");
  }
  return Status::InvalidArgument("unsupported schema_version " + std::to_string(version) +
                                 " (this build speaks " + std::to_string(kSchemaVersion) + ")");
}

}  // namespace etcdmon::proto
