#include "etcdmon/alerter/flags.h"

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "etcdmon/alerter/channel_flags.h"
#include "etcdmon/rpc/flags.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::alerter {

using config::FlagValue;

AlertRuleFlags::AlertRuleFlags(CLI::App& app)
    : rules_file_(FlagValue::AddOption(
          app, "rules-file", "", "",
          "YAML or JSON file changing rules' thresholds, `for`, severity and channels", "FILE")),
      repeat_interval_(FlagValue::AddOption(app, "repeat-interval", "", "4h",
                                            "notify a still-firing alert again after this long",
                                            "DURATION")),
      api_token_file_(FlagValue::AddOption(
          app, "api-token-file", "", "",
          "file holding the bearer token that creating and expiring silences needs, and in "
          "etcd-monitor with "
          "--api-auth=all every read (or env API_TOKEN); benchmarks need --benchmark-token-file",
          "FILE")) {}

Status AlertRuleFlags::Build(const config::AlertThresholds& thresholds,
                             AlerterConfig& config) const {
  config::FlagErrors errors;
  config.rules = RuleSet::Defaults(thresholds);
  config.cluster_rules.clear();
  const std::string rules_file = rules_file_.AsReadableFile(errors);
  config.rules_file = rules_file;
  if (!rules_file.empty()) {
    // The rules file's own errors name the file and line already (once: every cluster's
    // section is checked by this first read).
    const Status applied = config.rules.ApplyFile(rules_file);
    errors.Add(applied);
    Result<std::vector<std::string>> clusters =
        applied.ok() ? ClustersOfRulesFile(rules_file) : std::vector<std::string>();
    errors.Add(clusters.status());
    if (clusters.ok()) {
      for (const std::string& name : *clusters) {
        RuleSet rules = RuleSet::Defaults(thresholds);
        if (Status s = rules.ApplyFile(rules_file, name); !s.ok()) {
          errors.Add(s);  // the file changed between the reads
          break;
        }
        config.cluster_rules.emplace(name, std::move(rules));
      }
    }
  }
  config.repeat_interval = repeat_interval_.AsPositiveDuration(errors);
  const std::string token_file = api_token_file_.AsReadableFile(errors);
  if (!token_file.empty()) {
    Result<std::string> token = config::ReadSecretFile(token_file);
    if (token.ok()) {
      config.api_token = config::Secret(*std::move(token));
    } else {
      errors.Add(api_token_file_.Source() + " \"" + token_file +
                 "\": " + std::string(token.status().message()));
    }
  } else if (const char* env = std::getenv("API_TOKEN"); env != nullptr && *env != '\0') {
    config.api_token = config::Secret(env);
  }
  return errors.ToStatus();
}

config::ParseResult<AlerterCommandLine> ParseAlerterCommandLine(int argc, const char* const* argv,
                                                                std::ostream& out,
                                                                std::ostream& err) {
  CLI::App app{
      "etcd-monitor-alerter: evaluates alert rules on the aggregator's snapshots, notifies "
      "people and keeps the alert history"};
  config::LogFlags log_flags(app);
  config::AlertThresholdFlags threshold_flags(app);
  AlertRuleFlags rule_flags(app);
  ChannelFlags channel_flags(app);
  const AlerterConfig d;
  FlagValue snapshots =
      FlagValue::AddOption(app, "snapshots", "", d.snapshot_endpoint,
                           "the aggregator's snapshot stream (ZeroMQ)", "ENDPOINT");
  FlagValue curve_key = FlagValue::AddOption(
      app, "curve-server-key-file", "", "",
      "file holding the aggregator's CURVE public key (Z85), when it encrypts", "FILE");
  rpc::GrpcServerFlags grpc_flags(app, "AlertService", d.grpc_address);
  FlagValue db = FlagValue::AddOption(app, "db", "", d.db_path,
                                      "the SQLite alert state and history (created with its "
                                      "directory)",
                                      "FILE");
  FlagValue history_retention = FlagValue::AddOption(
      app, "history-retention", "", "720h", "how long resolved alerts are kept", "DURATION");

  auto build = [&]() -> Result<AlerterCommandLine> {
    config::FlagErrors errors;
    AlerterCommandLine line;
    Result<config::LogConfig> log = log_flags.Build();
    errors.Add(log.status());
    Result<config::AlertThresholds> thresholds = threshold_flags.Build();
    errors.Add(thresholds.status());
    AlerterConfig& c = line.alerter;
    if (thresholds.ok()) {
      errors.Add(rule_flags.Build(*thresholds, c));
    }
    Result<ChannelConfig> channels = channel_flags.Build();
    errors.Add(channels.status());
    c.snapshot_endpoint = snapshots.AsNonEmpty(errors);
    rpc::GrpcServerConfig grpc = grpc_flags.Build(errors);
    c.grpc_address = std::move(grpc.address);
    c.grpc_security = std::move(grpc.security);
    c.db_path = db.AsNonEmpty(errors);
    c.store.history_retention = history_retention.AsPositiveDuration(errors);
    const std::string key_file = curve_key.AsReadableFile(errors);
    if (!key_file.empty()) {
      Result<std::string> key = transport::LoadCurveKey(key_file);
      if (key.ok()) {
        c.curve_server_key = *key;
      } else {
        errors.Add(curve_key.Error(key.status().message()));
      }
    }
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    line.log = *log;
    line.channels = *std::move(channels);
    return line;
  };
  return config::ParseCommandLine(app, argc, argv, build, out, err);
}

}  // namespace etcdmon::alerter
