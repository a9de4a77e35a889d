#pragma once

#include <cstdint>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// `count` distinct TCP ports that were free on 127.0.0.1 a moment ago: each is bound to port
/// 0 and the kernel's choice is read back. Another process may take a port before the caller
/// binds it; callers that can, retry on "address already in use".
Result<std::vector<uint16_t>> PickFreeLoopbackPorts(size_t count);

}  // namespace etcdmon::testing
