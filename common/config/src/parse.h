#pragma once

// Parsers shared by types.cpp and flags.cpp. Their errors carry only the reason ("missing
// port"), so each caller can name the input the way its user wrote it: the public ParseEndpoint
// says `invalid endpoint "x": ...`, a flag says `--endpoints "x": ...`.

#include <chrono>
#include <string>
#include <string_view>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::config::detail {

/// ParseEndpoint without the `invalid endpoint "<text>": ` prefix.
Result<Endpoint> ParseEndpointReason(std::string_view text);

/// ParseDuration at full precision, without the `invalid duration "<text>": ` prefix.
Result<std::chrono::nanoseconds> ParseDurationReason(std::string_view text);

/// `"text"` with quotes, backslashes and control characters escaped, for error messages.
std::string Quote(std::string_view text);

}  // namespace etcdmon::config::detail
