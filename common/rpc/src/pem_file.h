#pragma once

// Reading the PEM files of TLS credentials, shared by the server and client sides.

#include <string>

#include "etcdmon/status/status.h"

namespace etcdmon::rpc {

/// The content of the PEM file at `path`; InvalidArgument naming the path when it cannot be read
/// or holds no PEM block. The content (a private key, perhaps) never reaches the message.
Result<std::string> ReadPemFile(const std::string& path);

}  // namespace etcdmon::rpc
