#include "etcdmon/aggregator/flags.h"

#include <CLI/CLI.hpp>

#include "etcdmon/transport/curve.h"

namespace etcdmon::aggregator {

config::ParseResult<AggregatorCommandLine> ParseAggregatorCommandLine(int argc,
                                                                      const char* const* argv,
                                                                      std::ostream& out,
                                                                      std::ostream& err) {
  using config::FlagValue;
  CLI::App app{
      "etcd-monitor-aggregator: stores the collectors' samples, keeps the cluster model, "
      "publishes snapshots and serves MonitorService"};
  config::LogFlags log_flags(app);
  const AggregatorConfig d;
  FlagValue listen = FlagValue::AddOption(app, "listen", "", d.ingest_endpoint,
                                          "ZeroMQ endpoint collectors send to", "ENDPOINT");
  FlagValue publish = FlagValue::AddOption(app, "publish", "", d.publish_endpoint,
                                           "ZeroMQ PUB endpoint of the snapshots", "ENDPOINT");
  FlagValue grpc_listen = FlagValue::AddOption(app, "grpc-listen", "", d.grpc_address,
                                               "MonitorService address", "HOST:PORT");
  FlagValue db =
      FlagValue::AddOption(app, "db", "", "etcd-monitor-data/history.db",
                           "the SQLite history file (created with its directory)", "FILE");
  FlagValue tick = FlagValue::AddOption(app, "tick", "", "1s",
                                        "how often the model is "
                                        "recomputed and published",
                                        "DURATION");
  FlagValue cluster = FlagValue::AddOption(app, "cluster", "CLUSTER", d.model.cluster,
                                           "the cluster label on every series", "NAME");
  FlagValue metrics_interval = FlagValue::AddOption(
      app, "metrics-interval", "METRICS_INTERVAL", "10s",
      "the collectors' interval: a member without a sample for 3 of them is stale", "DURATION");
  FlagValue latency_window = FlagValue::AddOption(app, "latency-window", "", "1m",
                                                  "window of the latency percentiles", "DURATION");
  FlagValue raw_retention = FlagValue::AddOption(app, "raw-retention", "", "24h",
                                                 "how long raw points are kept", "DURATION");
  FlagValue minute_retention = FlagValue::AddOption(
      app, "minute-retention", "", "336h", "how long 1-minute roll-ups are kept", "DURATION");
  FlagValue hour_retention = FlagValue::AddOption(app, "hour-retention", "", "8760h",
                                                  "how long 1-hour roll-ups are kept", "DURATION");
  FlagValue max_points = FlagValue::AddOption(app, "max-points", "", "11000",
                                              "most points one history query returns", "N");
  FlagValue curve_key = FlagValue::AddOption(
      app, "curve-secret-key-file", "", "",
      "file holding this aggregator's CURVE secret key (Z85): encrypts ingest and snapshots",
      "FILE");

  auto build = [&]() -> Result<AggregatorCommandLine> {
    config::FlagErrors errors;
    AggregatorCommandLine line;
    Result<config::LogConfig> log = log_flags.Build();
    errors.Add(log.status());
    AggregatorConfig& c = line.aggregator;
    c.ingest_endpoint = listen.AsNonEmpty(errors);
    c.publish_endpoint = publish.AsNonEmpty(errors);
    c.grpc_address = grpc_listen.AsNonEmpty(errors);
    if (c.grpc_address.find(':') == std::string::npos) {
      errors.Add(grpc_listen.Error("want host:port"));
    }
    c.history.path = db.AsNonEmpty(errors);
    c.tick = tick.AsPositiveDuration(errors);
    c.model.cluster = cluster.AsNonEmpty(errors);
    c.model.expected_interval = metrics_interval.AsPositiveDuration(errors);
    c.model.latency_window = latency_window.AsPositiveDuration(errors);
    c.history.raw_retention = raw_retention.AsPositiveDuration(errors);
    c.history.minute_retention = minute_retention.AsPositiveDuration(errors);
    c.history.hour_retention = hour_retention.AsPositiveDuration(errors);
    c.history.max_points = static_cast<uint32_t>(max_points.AsInt(errors, 10, 1'000'000));
    const std::string key_file = curve_key.AsReadableFile(errors);
    if (!key_file.empty()) {
      Result<std::string> key = transport::LoadCurveKey(key_file);
      if (key.ok()) {
        c.curve_secret_key = *key;
      } else {
        errors.Add(curve_key.Error(key.status().message()));
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

}  // namespace etcdmon::aggregator
