# Notification channels (console, webhook, Slack, PagerDuty, email), the dispatcher and the
# channel flags. Included from alerter/CMakeLists.txt.
target_sources(etcdmon_alerter PRIVATE
  src/channels/channel_console.cpp
  src/channels/channel_email.cpp
  src/channels/channel_flags.cpp
  src/channels/channel_pagerduty.cpp
  src/channels/channel_slack.cpp
  src/channels/channel_util.cpp
  src/channels/channel_webhook.cpp
  src/channels/channels.cpp
  src/channels/dispatcher.cpp)
# channels.h and channel_flags.h name config types, CLI::App and spdlog::logger: PUBLIC.
target_link_libraries(etcdmon_alerter
  PUBLIC etcdmon::config spdlog::spdlog
  PRIVATE etcdmon::http CURL::libcurl nlohmann_json::nlohmann_json OpenSSL::Crypto)
