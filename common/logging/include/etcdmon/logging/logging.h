#pragma once

// The one way services create their logger (STYLE.md §6): main() calls MakeLogger() once with
// the service's name and passes the logger down. Libraries never configure sinks.
//
// Formats, one event per line:
//   text: 2026-11-25T10:00:00.123Z info collector sample_stored collector=c1 seq=812
//   json: {"ts":"2026-11-25T10:00:00.123Z","level":"info","logger":"collector",
//          "msg":"sample_stored collector=c1 seq=812"}
// Timestamps are UTC with milliseconds. Level names are those of LogConfig (trace, debug, info,
// warn, error, critical). In text, control characters of the message (a newline in an etcd
// error, say) are escaped as \n, \t, \xNN so that an event never spans lines; in json, the
// message is a JSON string (invalid UTF-8 becomes U+FFFD).

#include <spdlog/fwd.h>

#include <memory>
#include <string>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::logging {

/// Creates a logger named `name` that writes to stderr with the level and format of `config`.
/// The logger is not registered in spdlog's global registry: the caller owns it and passes it
/// down. spdlog loggers are safe for concurrent use.
/// @return InvalidArgument for an unknown level or format.
Result<std::shared_ptr<spdlog::logger>> MakeLogger(std::string name,
                                                   const config::LogConfig& config);

/// Same, writing to `sink` instead of stderr (tests pass an ostream sink). The sink's formatter
/// is replaced by the one `config` asks for.
Result<std::shared_ptr<spdlog::logger>> MakeLogger(std::string name,
                                                   const config::LogConfig& config,
                                                   std::shared_ptr<spdlog::sinks::sink> sink);

}  // namespace etcdmon::logging
