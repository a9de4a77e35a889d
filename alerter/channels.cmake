# Notification channels (console, webhook, Slack, PagerDuty, email), the dispatcher and the
# channel flags. Included from alerter/CMakeLists.txt.
target_sources(etcdmon_alerter PRIVATE
  src/channel_console.cpp
  src/channel_email.cpp
  src/channel_flags.cpp
  src/channel_pagerduty.cpp
  src/channel_slack.cpp
  src/channel_util.cpp
  src/channel_webhook.cpp
  src/channels.cpp
  src/dispatcher.cpp)
# channels.h and channel_flags.h name config types, CLI::App and spdlog::logger: PUBLIC.
target_link_libraries(etcdmon_alerter
  PUBLIC etcdmon::config spdlog::spdlog
  PRIVATE etcdmon::http CURL::libcurl nlohmann_json::nlohmann_json OpenSSL::Crypto)
