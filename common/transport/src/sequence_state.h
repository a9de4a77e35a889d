#pragma once

// The sender's sequence state file: one line, the next unreserved sequence number in decimal
// (>= 1), followed by a newline. Written through a temporary file that is fsynced and renamed
// over the old one, then the directory is fsynced, so after a crash the file holds either the
// old value or the new one.

#include <cstdint>
#include <string>

#include "etcdmon/status/status.h"

namespace etcdmon::transport::detail {

/// The stored value; 0 when the file does not exist. InvalidArgument when the content is not
/// one positive decimal number; PermissionDenied or Internal when it cannot be read. Every
/// message names the path.
Result<uint64_t> ReadSequenceState(const std::string& path);

/// Replaces the file's content with `next_unreserved`, durably. Internal (naming the path and
/// the failing step) on any file system error.
Status WriteSequenceState(const std::string& path, uint64_t next_unreserved);

}  // namespace etcdmon::transport::detail
