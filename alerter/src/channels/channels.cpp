#include "etcdmon/alerter/channels.h"

#include <utility>

namespace etcdmon::alerter {

Result<std::vector<std::unique_ptr<Notifier>>> MakeNotifiers(
    const ChannelConfig& config, std::shared_ptr<spdlog::logger> console_logger, Clock& clock) {
  std::vector<std::unique_ptr<Notifier>> notifiers;
  if (config.console) {
    if (console_logger == nullptr) {
      return Status::InvalidArgument("console notifications need a logger");
    }
    notifiers.push_back(NewConsoleNotifier(std::move(console_logger)));
  }
  const auto add = [&](Result<std::unique_ptr<Notifier>> notifier) -> Status {
    if (!notifier.ok()) {
      return notifier.status();
    }
    notifiers.push_back(std::move(notifier).value());
    return Status::Ok();
  };
  if (config.webhook) {
    ETCDMON_RETURN_IF_ERROR(add(NewWebhookNotifier(*config.webhook, config.timeout, clock)));
  }
  if (config.slack) {
    ETCDMON_RETURN_IF_ERROR(add(NewSlackNotifier(*config.slack, config.timeout)));
  }
  if (config.pagerduty) {
    ETCDMON_RETURN_IF_ERROR(add(NewPagerDutyNotifier(*config.pagerduty, config.timeout)));
  }
  if (config.email) {
    ETCDMON_RETURN_IF_ERROR(add(NewEmailNotifier(*config.email, config.timeout, clock)));
  }
  return notifiers;
}

}  // namespace etcdmon::alerter
