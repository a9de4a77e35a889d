#include "etcdmon/aggregator/flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <string_view>

#include "etcdmon/config/cluster_name.h"
#include "etcdmon/rpc/flags.h"
#include "etcdmon/transport/collector_keys.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::aggregator {
namespace {

constexpr char kDefaultIngestLoopback[] = "tcp://127.0.0.1:5555";
constexpr char kDefaultIngestWithCurve[] = "tcp://0.0.0.0:5555";
constexpr char kDefaultPublishLoopback[] = "tcp://127.0.0.1:5556";
constexpr char kDefaultPublishWithCurve[] = "tcp://0.0.0.0:5556";

bool IsLabelName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

}  // namespace

RemoteWriteFlags::RemoteWriteFlags(CLI::App& app)
    : url_(config::FlagValue::AddOption(
          app, "remote-write-url", "REMOTE_WRITE_URL", "",
          "Prometheus remote_write receiver the history's raw points are sent to, e.g. "
          "http://prometheus:9090/api/v1/write (default: off)",
          "URL")),
      token_file_(config::FlagValue::AddOption(
          app, "remote-write-token-file", "REMOTE_WRITE_TOKEN_FILE", "",
          "file holding the bearer token sent to the remote_write receiver", "FILE")),
      ca_file_(config::FlagValue::AddOption(
          app, "remote-write-ca-file", "REMOTE_WRITE_CA_FILE", "",
          "CA bundle the https remote_write receiver's certificate is verified with (default: "
          "the system store)",
          "FILE")),
      external_labels_(config::FlagValue::AddRepeatedOption(
          app, "external-label",
          "a label added to every remote_write series (repeatable), e.g. region=eu-1",
          "NAME=VALUE")),
      interval_(config::FlagValue::AddOption(app, "remote-write-interval", "", "5s",
                                             "how often unsent points are sent (at once while "
                                             "there is a backlog)",
                                             "DURATION")),
      max_samples_(config::FlagValue::AddOption(app, "remote-write-max-samples", "", "2000",
                                                "most samples in one remote_write request", "N")) {}

RemoteWriteConfig RemoteWriteFlags::Build(config::FlagErrors& errors) const {
  RemoteWriteConfig c;
  c.url = url_.AsString();
  if (!c.url.empty() && c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
    errors.Add(url_.Error("want an http:// or https:// URL"));
  }
  const std::string token_file = token_file_.AsReadableFile(errors);
  if (!token_file.empty()) {
    Result<std::string> token = config::ReadSecretFile(token_file);
    if (token.ok()) {
      c.bearer_token = config::Secret(std::move(token).value());
    } else {
      errors.Add(token_file_.Error(token.status().message()));
    }
  }
  c.tls.ca_file = ca_file_.AsReadableFile(errors);
  for (const std::string& label : external_labels_.values()) {
    const std::size_t eq = label.find('=');
    if (eq == std::string::npos) {
      errors.Add(external_labels_.ValueError(label, "want NAME=VALUE"));
      continue;
    }
    std::string name = label.substr(0, eq);
    std::string value = label.substr(eq + 1);
    if (!IsLabelName(name) || name.rfind("__", 0) == 0) {
      errors.Add(external_labels_.ValueError(
          label, "the name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"));
    } else if (value.empty()) {
      errors.Add(external_labels_.ValueError(label, "empty value"));
    } else if (std::any_of(c.external_labels.begin(), c.external_labels.end(),
                           [&](const auto& l) { return l.first == name; })) {
      errors.Add(external_labels_.ValueError(label, "label given twice"));
    } else {
      c.external_labels.emplace_back(std::move(name), std::move(value));
    }
  }
  c.interval = interval_.AsPositiveDuration(errors);
  c.max_samples = static_cast<uint32_t>(max_samples_.AsInt(errors, 1, 1'000'000));
  return c;
}

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
  // Without CURVE anyone who reaches the ingest port can send as any collector: the defaults
  // bind every interface only with CURVE.
  FlagValue listen = FlagValue::AddOption(
      app, "listen", "", "",
      "ZeroMQ endpoint collectors send to (default: " + std::string(kDefaultIngestWithCurve) +
          " with CURVE, " + std::string(kDefaultIngestLoopback) + " without)",
      "ENDPOINT");
  FlagValue publish = FlagValue::AddOption(
      app, "publish", "", "",
      "ZeroMQ PUB endpoint of the snapshots (default: " + std::string(kDefaultPublishWithCurve) +
          " with CURVE, " + std::string(kDefaultPublishLoopback) + " without)",
      "ENDPOINT");
  rpc::GrpcServerFlags grpc_flags(app, "MonitorService", d.grpc_address);
  RemoteWriteFlags remote_write_flags(app);
  FlagValue db =
      FlagValue::AddOption(app, "db", "", "etcd-monitor-data/history.db",
                           "the SQLite history file (created with its directory)", "FILE");
  FlagValue tick = FlagValue::AddOption(app, "tick", "", "1s",
                                        "how often the model is "
                                        "recomputed and published",
                                        "DURATION");
  FlagValue cluster = FlagValue::AddOption(app, "cluster", "CLUSTER", d.model.cluster,
                                           "the default cluster: the one of collectors that "
                                           "name none (and of a history file written before "
                                           "clusters had names)",
                                           "NAME");
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
  FlagValue max_clock_skew = FlagValue::AddOption(
      app, "max-clock-skew", "", "5m",
      "a batch with a sample dated further ahead of this host's clock is refused", "DURATION");
  FlagValue max_series = FlagValue::AddOption(
      app, "max-series", "", std::to_string(d.history.max_series),
      "most (metric, member) series in use (unused for the raw retention: forgotten); "
      "beyond it new series are refused and counted",
      "N");
  FlagValue collector_keys = FlagValue::AddOption(
      app, "collector-keys", "", "",
      "allow-list of collector CURVE keys, lines `collector-id public-key` (re-read on SIGHUP): "
      "other keys are refused, and a key may send only as its ids; needs "
      "--curve-secret-key-file",
      "FILE");
  FlagValue max_peers = FlagValue::AddOption(
      app, "max-peers", "", std::to_string(d.max_ingest_peers),
      "most collector connections at once; further ones are refused and counted", "N");
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
    const bool curve = curve_key.given() && !curve_key.AsString().empty();
    c.ingest_endpoint = listen.given()
                            ? listen.AsNonEmpty(errors)
                            : std::string(curve ? kDefaultIngestWithCurve : kDefaultIngestLoopback);
    c.publish_endpoint =
        publish.given() ? publish.AsNonEmpty(errors)
                        : std::string(curve ? kDefaultPublishWithCurve : kDefaultPublishLoopback);
    c.max_ingest_peers = static_cast<std::size_t>(max_peers.AsInt(errors, 1, 1'000'000));
    rpc::GrpcServerConfig grpc = grpc_flags.Build(errors);
    c.grpc_address = std::move(grpc.address);
    c.grpc_security = std::move(grpc.security);
    c.history.path = db.AsNonEmpty(errors);
    c.tick = tick.AsPositiveDuration(errors);
    c.model.cluster = cluster.AsNonEmpty(errors);
    if (Status valid = config::ValidateClusterName(c.model.cluster);
        !c.model.cluster.empty() && !valid.ok()) {
      errors.Add(cluster.Error(valid.message()));
    }
    c.model.expected_interval = metrics_interval.AsPositiveDuration(errors);
    c.model.latency_window = latency_window.AsPositiveDuration(errors);
    c.history.raw_retention = raw_retention.AsPositiveDuration(errors);
    c.history.minute_retention = minute_retention.AsPositiveDuration(errors);
    c.history.hour_retention = hour_retention.AsPositiveDuration(errors);
    c.history.max_points = static_cast<uint32_t>(max_points.AsInt(errors, 10, 1'000'000));
    c.max_clock_skew = max_clock_skew.AsPositiveDuration(errors);
    c.remote_write = remote_write_flags.Build(errors);
    c.history.max_series = static_cast<uint32_t>(max_series.AsInt(errors, 100, 10'000'000));
    const std::string key_file = curve_key.AsReadableFile(errors);
    if (!key_file.empty()) {
      Result<std::string> key = transport::LoadCurveSecretKey(key_file);
      if (key.ok()) {
        c.curve_secret_key = *key;
      } else {
        errors.Add(curve_key.Error(key.status().message()));
      }
    }
    c.collector_keys_file = collector_keys.AsReadableFile(errors);
    if (!c.collector_keys_file.empty()) {
      if (!curve) {
        errors.Add(collector_keys.Error(
            "needs --curve-secret-key-file (the allow-list names CURVE keys)"));
      }
      if (Result<transport::CollectorKeys> keys =
              transport::CollectorKeys::Load(c.collector_keys_file);
          !keys.ok()) {
        errors.Add(collector_keys.Error(keys.status().message()));
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
