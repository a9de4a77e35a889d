// The console channel: one key=value line per notification on the "alerts" logger.

#include <spdlog/spdlog.h>

#include <utility>

#include "channel_util.h"
#include "etcdmon/alerter/channels.h"

namespace etcdmon::alerter {
namespace {

constexpr std::size_t kMaxSummaryBytes = 1000;

// A value in double quotes with \ and " escaped; the logger escapes control characters.
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMaxSummaryBytes; ++i) {
    if (text[i] == '"' || text[i] == '\\') {
      out += '\\';
    }
    out += text[i];
  }
  out += text.size() > kMaxSummaryBytes ? "...\"" : "\"";
  return out;
}

class ConsoleNotifier final : public Notifier {
 public:
  explicit ConsoleNotifier(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}

  const std::string& name() const override { return name_; }

  Status Send(const Notification& n) override {
    const Alert& alert = n.alert;
    line_.clear();
    for (const AlertValue& v : alert.values) {
      if (!line_.empty()) {
        line_ += ',';
      }
      line_ += v.name;
      line_ += '=';
      line_ += FormatValue(v.value);
    }
    logger_->log(n.kind == NotificationKind::kResolved ? spdlog::level::info : spdlog::level::warn,
                 "alert kind={} rule={} severity={} cluster={} member={} summary={} values={} "
                 "fingerprint={} notification_id={}",
                 NotificationKindName(n.kind), alert.key.rule, SeverityName(alert.severity),
                 alert.key.cluster, alert.key.member.empty() ? "-" : alert.key.member,
                 Quoted(alert.summary), Quoted(line_), alert.fingerprint, n.id);
    return Status::Ok();
  }

 private:
  const std::string name_ = "console";
  std::shared_ptr<spdlog::logger> logger_;
  std::string line_;  // reused for the values of each line
};

}  // namespace

std::unique_ptr<Notifier> NewConsoleNotifier(std::shared_ptr<spdlog::logger> logger) {
  return std::make_unique<ConsoleNotifier>(std::move(logger));
}

}  // namespace etcdmon::alerter
