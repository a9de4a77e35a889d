#pragma once

#include <string_view>

namespace etcdmon::gateway::detail {

/// The built-in dashboard served at "/": one static HTML page whose script reads only the public
/// REST API (status, members, latency, alerts) and refreshes itself every few seconds.
std::string_view DashboardHtml();

}  // namespace etcdmon::gateway::detail
