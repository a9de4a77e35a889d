#pragma once

// What the Api's handler files (api_*.cpp) share: building a response from a Status or a JSON
// document, and the clock's time in Unix milliseconds. Defined in api.cpp. Private to the gateway.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api.h"
#include "etcdmon/status/status.h"

namespace etcdmon::gateway::detail {

inline constexpr std::string_view kBenchmarkPrefix = "/api/v1/performance/benchmark/";
// DELETE {prefix}{id} expires silence `id`.
inline constexpr std::string_view kSilencesPrefix = "/api/v1/alerts/silences/";

/// The error response of `status` (not OK): ToHttp's status and body, and WWW-Authenticate for
/// kUnauthenticated.
ApiResponse ErrorResponse(const Status& status);

/// A JSON response of an already rendered document.
ApiResponse JsonResponse(int status, std::string body);

/// A JSON response of `document`, dumped compactly; invalid UTF-8 in strings is replaced rather
/// than thrown on, since strings come from etcd members and the alerter.
ApiResponse JsonResponse(int status, const nlohmann::json& document);

int64_t UnixMs(std::chrono::system_clock::time_point t);

}  // namespace etcdmon::gateway::detail
