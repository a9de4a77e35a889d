#pragma once

// Small-file reads shared by the sequence state file and the CURVE key files (writes go through
// files::WriteFileAtomically).

#include <sys/types.h>

#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::transport::detail {

/// Reads a whole small file. NotFound, PermissionDenied or Internal, naming the path.
Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes);

}  // namespace etcdmon::transport::detail
