#include "etcdmon/collector/flags.h"

#include <CLI/CLI.hpp>

#include "etcdmon/config/cluster_name.h"
#include "etcdmon/runtime/signals.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::collector {

config::ParseResult<CollectorCommandLine> ParseCollectorCommandLine(int argc,
                                                                    const char* const* argv,
                                                                    std::ostream& out,
                                                                    std::ostream& err) {
  using config::FlagValue;
  CLI::App app{
      "etcd-monitor-collector: samples one etcd member and pushes the samples to the "
      "aggregator"};
  config::ConnectionFlags etcd_flags(app);
  config::LogFlags log_flags(app);
  const CollectorConfig defaults;
  FlagValue aggregator = FlagValue::AddOption(app, "aggregator", "AGGREGATOR", defaults.aggregator,
                                              "the aggregator's ingest endpoint", "ENDPOINT");
  FlagValue collector_id =
      FlagValue::AddOption(app, "collector-id", "COLLECTOR_ID", runtime::HostName(),
                           "this collector's unique id (default: the host name)", "ID");
  FlagValue cluster = FlagValue::AddOption(
      app, "cluster", "CLUSTER", "",
      "the cluster this member belongs to, sent with every sample (1..63 of A-Z a-z 0-9 _ - ., "
      "starting with a letter or digit; default: the aggregator's --cluster)",
      "NAME");
  FlagValue metrics_interval = FlagValue::AddOption(app, "metrics-interval", "METRICS_INTERVAL",
                                                    "10s", "how often to sample", "DURATION");
  FlagValue health_interval = FlagValue::AddOption(
      app, "health-check-interval", "HEALTH_CHECK_INTERVAL", "30s",
      "how often to add the member list, /health and the certificate", "DURATION");
  FlagValue write_probe = FlagValue::AddSwitch(
      app, "write-probe", "", true,
      "time a Put of /etcd-monitor/probe/<member> every interval (--write-probe=false: off)");
  FlagValue metrics_url = FlagValue::AddOption(
      app, "metrics-url", "", "", "the member's /metrics (default: its client URL)", "URL");
  FlagValue member_name = FlagValue::AddOption(
      app, "member-name", "", "", "the member's name (default: from the member list)", "NAME");
  FlagValue data_dir = FlagValue::AddOption(
      app, "data-dir", "", "",
      "the member's data dir, for disk usage (default: found from /proc when the member runs "
      "on this host)",
      "DIR");
  FlagValue state_file = FlagValue::AddOption(app, "state-file", "", defaults.sequence_state_file,
                                              "where the batch sequence survives restarts", "FILE");
  FlagValue max_buffer = FlagValue::AddOption(
      app, "max-buffer", "", std::to_string(defaults.max_buffered_batches),
      "unacknowledged batches kept for resending; the oldest is dropped beyond", "N");
  FlagValue curve_server_key = FlagValue::AddOption(
      app, "curve-server-key", "CURVE_SERVER_KEY", "",
      "the aggregator's CURVE public key (Z85, or a file holding it): encrypts and authenticates",
      "KEY|FILE");
  FlagValue curve_key_dir = FlagValue::AddOption(
      app, "curve-key-dir", "CURVE_KEY_DIR", "",
      "directory of this collector's CURVE key pair, curve.key (mode 0600) and curve.pub "
      "(etcd-monitor keygen --collector ID); the aggregator's --collector-keys lists the public "
      "key (default: a fresh pair per start, which an allow-list refuses)",
      "DIR");

  auto build = [&]() -> Result<CollectorCommandLine> {
    config::FlagErrors errors;
    CollectorCommandLine line;
    Result<config::EtcdConnectionConfig> etcd = etcd_flags.Build();
    errors.Add(etcd.status());
    Result<config::LogConfig> log = log_flags.Build();
    errors.Add(log.status());
    CollectorConfig& c = line.collector;
    if (etcd.ok()) {
      c.etcd = *etcd;
      if (c.etcd.endpoints.size() != 1) {
        errors.Add(
            "--endpoints: a collector samples exactly one member; give one endpoint and "
            "run one collector per member");
      }
    }
    c.aggregator = aggregator.AsNonEmpty(errors);
    if (!c.aggregator.empty() && c.aggregator.rfind("tcp://", 0) != 0 &&
        c.aggregator.rfind("ipc://", 0) != 0 && c.aggregator.rfind("inproc://", 0) != 0) {
      errors.Add(aggregator.Error("want tcp://host:port"));
    }
    c.collector_id = collector_id.AsNonEmpty(errors);
    c.cluster = cluster.AsString();
    if (cluster.given()) {
      // ValidateClusterName names the input; the flag's line names the flag instead.
      if (Status valid = config::ValidateClusterName(c.cluster); !valid.ok()) {
        const std::string& message = valid.message();
        const auto reason = message.find("\": ");
        errors.Add(
            cluster.Error(reason == std::string::npos ? message : message.substr(reason + 3)));
      }
    }
    c.metrics_interval = metrics_interval.AsPositiveDuration(errors);
    c.health_check_interval = health_interval.AsPositiveDuration(errors);
    c.write_probe = write_probe.AsBool(errors);
    c.metrics_url = metrics_url.AsString();
    c.member_name = member_name.AsString();
    c.data_dir = data_dir.AsString();
    c.sequence_state_file = state_file.AsNonEmpty(errors);
    c.max_buffered_batches = static_cast<size_t>(max_buffer.AsInt(errors, 1, 10'000'000));
    const std::string key = curve_server_key.AsString();
    if (!key.empty()) {
      Result<std::string> resolved = transport::ResolveCurveKeyArgument(key);
      if (resolved.ok()) {
        c.curve_server_key = *resolved;
      } else {
        errors.Add("--curve-server-key: " + resolved.status().message());
      }
    }
    const std::string key_dir = curve_key_dir.AsString();
    if (!key_dir.empty()) {
      if (key.empty()) {
        errors.Add(curve_key_dir.Error("needs --curve-server-key (a key pair is for CURVE)"));
      }
      // The secret key is refused when group or others can read it.
      Result<transport::CurveKeyPair> pair = transport::LoadCurveKeyPair(key_dir);
      if (pair.ok()) {
        c.curve_public_key = pair->public_key;
        c.curve_secret_key = pair->secret_key;
      } else {
        errors.Add(curve_key_dir.Source() + ": " + pair.status().message());
      }
    }
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    line.log = *log;
    return line;
  };
  return config::ParseCommandLine(app, argc, argv, build, out, err);
}

}  // namespace etcdmon::collector
