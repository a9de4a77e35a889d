#pragma once

// Durable small-file writes shared by the sequence state file and the CURVE key files.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::transport::detail {

/// Writes `content` to `path` with `mode`: a temporary file next to it is written, fsynced and
/// renamed over `path`, then the directory is fsynced. Internal (naming the path and the failing
/// step) on any error; the temporary file is removed then.
Status WriteFileDurably(const std::string& path, std::string_view content, mode_t mode);

/// Reads a whole small file. NotFound, PermissionDenied or Internal, naming the path.
Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes);

}  // namespace etcdmon::transport::detail
