#pragma once

#include <string_view>

namespace etcdmon::gateway::detail {

/// The built-in dashboard served at "/": one static HTML page whose script reads only the public
/// REST API (status, members, latency, alerts) and refreshes itself every few seconds.
std::string_view DashboardHtml();

/// The page's style sheet, served at "/dashboard.css".
std::string_view DashboardStyle();

/// The page's script, served at "/dashboard.js" (not inline: the Content-Security-Policy allows
/// scripts from the gateway's own origin only).
std::string_view DashboardScript();

}  // namespace etcdmon::gateway::detail
