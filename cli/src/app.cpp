#include "etcdmon/cli/app.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <ostream>

#include "all_in_one.h"
#include "etcdmon/aggregator/flags.h"
#include "etcdmon/alerter/channel_flags.h"
#include "etcdmon/alerter/flags.h"
#include "etcdmon/cli/benchmark_command.h"
#include "etcdmon/cli/ctl.h"
#include "etcdmon/cli/ctl_maintenance.h"
#include "etcdmon/cli/grpc_tls_keygen.h"
#include "etcdmon/cli/keygen.h"
#include "etcdmon/cli/silence.h"
#include "etcdmon/config/cluster_name.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/logging/logging.h"
#include "monitor_flags.h"

namespace etcdmon::cli {
namespace {

// How long the certificates of `keygen --grpc-tls` and `--https-tls` stay valid: the longest
// browsers accept, and long enough that a stack does not stop on its own certificate's expiry.
constexpr int kGrpcTlsDays = 825;

enum class Command {
  kMonitor,
  kBenchmark,
  kKeygen,
  kSilenceCreate,
  kSilenceList,
  kSilenceExpire,
  kEndpointStatus,
  kEndpointHealth,
  kEndpointHashKV,
  kMemberList,
  kCheckConsistency,
  kAlarmList,
  kAlarmDisarm,
  kDefrag,
  kCompact,
  kSnapshotSave,
  kMoveLeader,
};

// Commands that need every member of the cluster, not only the configured endpoints: the
// quorum guard and the leader hand-over look at all members, consistency compares them all.
bool NeedsWholeCluster(Command command) {
  return command == Command::kDefrag || command == Command::kMoveLeader ||
         command == Command::kCheckConsistency;
}

// What the command line asked for, validated.
struct Invocation {
  Command command = Command::kMonitor;
  AllInOneConfig all_in_one;          // kMonitor (all_in_one.monitor: also --run-benchmark)
  config::EtcdConnectionConfig etcd;  // ctl commands
  config::LogConfig log;              // ctl commands
  OutputFormat format = OutputFormat::kTable;
  bool assume_yes = false;
  int64_t hash_revision = 0;    // kEndpointHashKV
  bool defrag_cluster = false;  // kDefrag
  bool skip_quorum_check = false;
  CompactOptions compact;    // kCompact
  SnapshotOptions snapshot;  // kSnapshotSave
  std::string member;        // kMoveLeader
  std::string keygen_dir;    // kKeygen
  bool keygen_force = false;
  std::string keygen_collector;
  std::vector<std::string> keygen_grpc_tls;   // hosts: the gRPC CA and server certificate
  std::vector<std::string> keygen_https_tls;  // hosts: the HTTPS proxy's CA and certificate
  SilenceOptions silence;                     // kSilenceCreate, kSilenceList, kSilenceExpire
};

// The flags that only some ctl commands have, as CLI11 stores them.
struct CtlArgs {
  std::string write_out = "table";
  bool yes = false;
  int64_t hash_revision = 0;
  bool defrag_cluster = false;
  bool skip_quorum_check = false;
  std::string compact_revision;
  int64_t compact_keep = 0;
  bool compact_physical = false;
  std::string snapshot_file;
  std::string snapshot_timeout = "10m";
  std::string member;
};

// A client whose endpoints cover every member: the configured ones plus the client URL of each
// member none of them answers for. nullptr when the configured endpoints already do.
Result<std::unique_ptr<etcd::EtcdClient>> WholeClusterClient(
    const config::EtcdConnectionConfig& base, etcd::EtcdClient& client) {
  Result<std::vector<std::string>> missing = MissingMemberUrls(client);
  if (!missing.ok() || missing->empty()) {
    // Nothing to add, or nobody answered: the command itself reports that.
    return std::unique_ptr<etcd::EtcdClient>();
  }
  config::EtcdConnectionConfig whole = base;
  for (const auto& url : *missing) {
    Result<config::Endpoint> endpoint = config::ParseEndpoint(url);
    if (endpoint.ok()) {
      whole.endpoints.push_back(*endpoint);
    }
  }
  return etcd::NewEtcdClient(whole);
}

int RunCtl(const Invocation& inv, std::istream& in, bool in_is_terminal, std::ostream& out,
           std::ostream& err) {
  // Diagnostics (gRPC's own included, at debug) go to stderr, never into the command's output.
  Result<std::shared_ptr<spdlog::logger>> logger = logging::MakeLogger("ctl", inv.log);
  if (!logger.ok()) {
    err << "error: " << logger.status().message() << "\n";
    return config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);
  Result<std::unique_ptr<etcd::EtcdClient>> configured = etcd::NewEtcdClient(inv.etcd);
  if (!configured.ok()) {
    err << "error: " << configured.status().message() << "\n";
    return config::kExitUsage;
  }
  const std::vector<std::string> configured_endpoints = (*configured)->Endpoints();
  std::unique_ptr<etcd::EtcdClient> client = std::move(configured).value();
  if (NeedsWholeCluster(inv.command)) {
    Result<std::unique_ptr<etcd::EtcdClient>> whole = WholeClusterClient(inv.etcd, *client);
    if (!whole.ok()) {
      err << "error: " << whole.status().message() << "\n";
      return kExitFailed;
    }
    if (*whole) {
      client = std::move(whole).value();
    }
  }
  const Confirmation confirmation{inv.assume_yes, in_is_terminal, &in};
  switch (inv.command) {
    case Command::kEndpointStatus:
      return RunEndpointStatus(*client, inv.format, out, err);
    case Command::kEndpointHealth:
      return RunEndpointHealth(*client, inv.format, out, err);
    case Command::kEndpointHashKV:
      return RunEndpointHashKV(*client, inv.hash_revision, inv.format, out, err);
    case Command::kMemberList:
      return RunMemberList(*client, inv.format, out, err);
    case Command::kCheckConsistency:
      return RunCheckConsistency(*client, inv.format, out, err);
    case Command::kAlarmList:
      return RunAlarmList(*client, inv.format, out, err);
    case Command::kAlarmDisarm:
      return RunAlarmDisarm(*client, confirmation, inv.format, out, err);
    case Command::kDefrag: {
      DefragOptions options;
      options.targets = inv.defrag_cluster ? client->Endpoints() : configured_endpoints;
      options.skip_quorum_check = inv.skip_quorum_check;
      return RunDefrag(*client, options, confirmation, inv.format, out, err);
    }
    case Command::kCompact:
      return RunCompact(*client, inv.compact, confirmation, inv.format, out, err);
    case Command::kSnapshotSave:
      return RunSnapshotSave(*client, inv.snapshot, inv.format, out, err);
    case Command::kMoveLeader:
      return RunMoveLeader(*client, inv.member, confirmation, inv.format, out, err);
    case Command::kMonitor:
    case Command::kBenchmark:
    case Command::kKeygen:
    case Command::kSilenceCreate:
    case Command::kSilenceList:
    case Command::kSilenceExpire:
      break;
  }
  err << "error: internal: not a ctl command\n";
  return kExitFailed;
}

// A ctl subcommand that passes the flags it does not know to its parent, so flags may follow
// the command words, as with etcdctl: `ctl endpoint status --endpoints=... -w json`.
CLI::App* AddCtlCommand(CLI::App& parent, const std::string& name, const std::string& help) {
  return parent.add_subcommand(name, help)->fallthrough();
}

}  // namespace

int RunEtcdMonitor(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  return RunEtcdMonitor(argc, argv, std::cin, isatty(STDIN_FILENO) == 1, out, err);
}

int RunEtcdMonitor(int argc, const char* const* argv, std::istream& in, bool in_is_terminal,
                   std::ostream& out, std::ostream& err) {
  CLI::App app{
      "etcd-monitor: monitoring, alerting, benchmarking and administration for etcd.\n"
      "Without a subcommand it runs the whole monitor in one process."};
  app.require_subcommand(0, 1);
  MonitorFlags monitor_flags(app);
  alerter::ChannelFlags channel_flags(app);
  alerter::AlertRuleFlags rule_flags(app);
  aggregator::RemoteWriteFlags remote_write_flags(app);
  config::FlagValue tls_cert = config::FlagValue::AddOption(
      app, "tls-cert-file", "", "",
      "certificate (PEM) to serve the REST API over HTTPS. Not recommended: the TLS handshake "
      "runs on the one listener thread, so a client that connects and stays silent stalls every "
      "new connection; serve plain HTTP on 127.0.0.1 and terminate TLS in a proxy in front (the "
      "stacks run nginx: deploy/tls-proxy)",
      "FILE");
  config::FlagValue tls_key = config::FlagValue::AddOption(
      app, "tls-key-file", "", "", "private key (PEM) of --tls-cert-file", "FILE");
  BenchmarkCommand benchmark(app);

  CLI::App* keygen =
      app.add_subcommand("keygen", "Write a CURVE key pair for the encrypted ZeroMQ link");
  std::string keygen_dir;
  bool keygen_force = false;
  keygen->add_option("--out", keygen_dir, "Directory for curve.key and curve.pub")->required();
  keygen->add_flag("--force", keygen_force, "Replace an existing key pair");
  std::string keygen_collector;
  keygen->add_option("--collector", keygen_collector,
                     "A collector's pair (for its --curve-key-dir): also print the line `ID "
                     "PUBLICKEY` for the aggregator's --collector-keys file");
  std::vector<std::string> keygen_grpc_tls;
  keygen
      ->add_option("--grpc-tls", keygen_grpc_tls,
                   "Instead of a CURVE pair, write a self-signed CA (grpc-ca.pem) and a server "
                   "certificate for these hosts (grpc-server.pem, grpc-server-key.pem), valid 825 "
                   "days, for the services' gRPC TLS")
      ->delimiter(',')
      ->excludes("--collector");
  std::vector<std::string> keygen_https_tls;
  keygen
      ->add_option("--https-tls", keygen_https_tls,
                   "As --grpc-tls, for the HTTPS proxy in front of the gateway (deploy/tls-proxy): "
                   "https-ca.pem (the clients' CA), https-server.pem and https-server-key.pem")
      ->delimiter(',')
      ->excludes("--collector")
      ->excludes("--grpc-tls");

  CLI::App* silence = app.add_subcommand(
      "silence", "Silence alerts during planned maintenance (through the REST API)");
  silence->require_subcommand(1);
  config::FlagValue silence_api_url =
      config::FlagValue::AddOption(*silence, "api-url", "API_URL", "http://localhost:8080",
                                   "base URL of the REST API (gateway or all-in-one)", "URL");
  config::FlagValue silence_cluster = config::FlagValue::AddOption(
      *silence, "cluster", "", "",
      "the cluster (?cluster=) when the API monitors several; default: its only one", "NAME");
  config::FlagValue silence_token_file = config::FlagValue::AddOption(
      *silence, "api-token-file", "", "", "file holding the API token (or env API_TOKEN)", "FILE");
  std::string silence_write_out = "table";
  silence->add_option("-w,--write-out", silence_write_out, "Output format: table or json")
      ->capture_default_str();
  CLI::App* silence_create =
      silence->add_subcommand("create", "Mute matching alerts for a while")->fallthrough();
  std::string silence_rule, silence_member, silence_comment, silence_for;
  silence_create->add_option("--rule", silence_rule, "Rule to silence (default: every rule)");
  silence_create->add_option("--member", silence_member,
                             "Member to silence (default: every member)");
  silence_create->add_option("--for", silence_for, "How long, e.g. 30m or 2h")->required();
  silence_create->add_option("--comment", silence_comment, "Why (shown with the silence)");
  CLI::App* silence_list = silence->add_subcommand("list", "The silences in force")->fallthrough();
  bool silence_all = false;
  silence_list->add_flag("--all", silence_all,
                         "Expired silences too (newest first), with their state");
  CLI::App* silence_expire =
      silence->add_subcommand("expire", "End a silence now (it stays listed with --all)")
          ->fallthrough();
  std::string silence_id;
  silence_expire->add_option("id", silence_id, "The silence's id (from silence list)")->required();

  CLI::App* ctl = app.add_subcommand("ctl", "Administer an etcd cluster (like etcdctl)");
  ctl->require_subcommand(1);
  config::ConnectionFlags ctl_flags(*ctl);
  config::LogFlags ctl_log_flags(*ctl);
  CtlArgs args;
  ctl->add_option("-w,--write-out", args.write_out, "Output format: table, json or simple")
      ->capture_default_str();
  ctl->add_flag("-y,--yes", args.yes, "Do not ask before changing the cluster");

  CLI::App* endpoint = AddCtlCommand(*ctl, "endpoint", "Per-endpoint commands");
  endpoint->require_subcommand(1);
  CLI::App* endpoint_status =
      AddCtlCommand(*endpoint, "status", "Status of every endpoint: leader, raft, db size");
  CLI::App* endpoint_health =
      AddCtlCommand(*endpoint, "health", "Whether every endpoint serves a linearizable read");
  CLI::App* endpoint_hashkv =
      AddCtlCommand(*endpoint, "hashkv", "Hash of every endpoint's key space");
  endpoint_hashkv->add_option("--rev", args.hash_revision, "Revision to hash (0: newest)");

  CLI::App* member = AddCtlCommand(*ctl, "member", "Membership commands");
  member->require_subcommand(1);
  CLI::App* member_list = AddCtlCommand(*member, "list", "List the cluster's members");

  CLI::App* check = AddCtlCommand(*ctl, "check", "Cluster checks");
  check->require_subcommand(1);
  CLI::App* check_consistency =
      AddCtlCommand(*check, "consistency", "Compare every member's key-space hash at one revision");

  CLI::App* alarm = AddCtlCommand(*ctl, "alarm", "Alarm commands");
  alarm->require_subcommand(1);
  CLI::App* alarm_list = AddCtlCommand(*alarm, "list", "List the active alarms");
  CLI::App* alarm_disarm = AddCtlCommand(*alarm, "disarm", "Clear every active alarm");

  CLI::App* defrag = AddCtlCommand(
      *ctl, "defrag", "Defragment members one at a time, refusing when quorum would be lost");
  defrag->add_flag("--cluster", args.defrag_cluster, "Every member in turn, the leader last");
  defrag->add_flag("--skip-quorum-check", args.skip_quorum_check,
                   "Defragment even when the cluster loses quorum meanwhile");

  CLI::App* compact = AddCtlCommand(*ctl, "compact", "Drop the history before a revision");
  compact->add_option("revision", args.compact_revision, "Compact up to this revision");
  compact->add_option("--keep", args.compact_keep, "Instead keep the newest N revisions");
  compact->add_flag("--physical", args.compact_physical,
                    "Wait until the data is removed from the backend");

  CLI::App* snapshot = AddCtlCommand(*ctl, "snapshot", "Snapshot commands");
  snapshot->require_subcommand(1);
  CLI::App* snapshot_save = AddCtlCommand(*snapshot, "save", "Save one member's database");
  snapshot_save->add_option("file", args.snapshot_file, "The file to write")->required();
  snapshot_save->add_option("--timeout", args.snapshot_timeout, "Bound on the whole transfer")
      ->capture_default_str();

  CLI::App* move_leader = AddCtlCommand(*ctl, "move-leader", "Hand leadership to another member");
  move_leader->add_option("member", args.member, "Member id (hex) or name")->required();

  auto build = [&]() -> Result<Invocation> {
    Invocation inv;
    if (benchmark.parsed()) {
      ETCDMON_RETURN_IF_ERROR(benchmark.Build());
      inv.command = Command::kBenchmark;
      return inv;
    }
    if (silence->parsed()) {
      config::FlagErrors errors;
      inv.command = silence_create->parsed()   ? Command::kSilenceCreate
                    : silence_expire->parsed() ? Command::kSilenceExpire
                                               : Command::kSilenceList;
      (void)silence_list;
      SilenceOptions& o = inv.silence;
      o.api_url = silence_api_url.AsNonEmpty(errors);
      if (o.api_url.rfind("http://", 0) != 0 && o.api_url.rfind("https://", 0) != 0) {
        errors.Add(silence_api_url.Error("want http:// or https://"));
      }
      o.cluster = silence_cluster.AsString();
      if (Status valid = config::ValidateClusterName(o.cluster);
          !o.cluster.empty() && !valid.ok()) {
        errors.Add(silence_cluster.Error(valid.message()));
      }
      const std::string token_file = silence_token_file.AsReadableFile(errors);
      if (!token_file.empty()) {
        Result<std::string> token = config::ReadSecretFile(token_file);
        if (token.ok()) {
          o.api_token = config::Secret(*std::move(token));
        } else {
          errors.Add(silence_token_file.Source() + " \"" + token_file +
                     "\": " + std::string(token.status().message()));
        }
      } else if (const char* env = std::getenv("API_TOKEN"); env != nullptr && *env != '\0') {
        o.api_token = config::Secret(env);
      }
      if (silence_write_out != "table" && silence_write_out != "json") {
        errors.Add("--write-out \"" + silence_write_out + "\": want table or json");
      }
      o.json = silence_write_out == "json";
      if (inv.command == Command::kSilenceCreate) {
        Result<std::chrono::milliseconds> length = config::ParseDuration(silence_for);
        if (!length.ok() || length->count() <= 0) {
          errors.Add("--for \"" + silence_for + "\": want a duration such as 30m or 2h");
        } else {
          o.duration = *length;
        }
        o.rule = silence_rule;
        o.member = silence_member;
        o.comment = silence_comment;
      }
      o.all = silence_all;
      o.id = silence_id;
      if (!errors.empty()) {
        return errors.ToStatus();
      }
      return inv;
    }
    if (keygen->parsed()) {
      inv.command = Command::kKeygen;
      inv.keygen_dir = keygen_dir;
      inv.keygen_force = keygen_force;
      inv.keygen_collector = keygen_collector;
      inv.keygen_grpc_tls = keygen_grpc_tls;
      inv.keygen_https_tls = keygen_https_tls;
      return inv;
    }
    if (!ctl->parsed()) {
      config::FlagErrors errors;
      Result<MonitorConfig> monitor = monitor_flags.Build();
      errors.Add(monitor.status());
      Result<alerter::ChannelConfig> channels = channel_flags.Build();
      errors.Add(channels.status());
      // Checked even when other flags are bad, so that every problem shows at once.
      errors.Add(rule_flags.Build(monitor.ok() ? monitor->thresholds : config::AlertThresholds{},
                                  inv.all_in_one.alerter));
      inv.all_in_one.remote_write = remote_write_flags.Build(errors);
      inv.all_in_one.tls_cert_file = tls_cert.AsReadableFile(errors);
      inv.all_in_one.tls_key_file = tls_key.AsPrivateKeyFile(errors);
      if (inv.all_in_one.tls_cert_file.empty() != inv.all_in_one.tls_key_file.empty()) {
        errors.Add("--tls-cert-file and --tls-key-file go together");
      }
      if (!errors.empty()) {
        return errors.ToStatus();
      }
      inv.all_in_one.monitor = std::move(monitor).value();
      inv.all_in_one.channels = std::move(channels).value();
      return inv;
    }
    config::FlagErrors errors;
    Result<config::EtcdConnectionConfig> etcd = ctl_flags.Build();
    errors.Add(etcd.status());
    Result<config::LogConfig> log = ctl_log_flags.Build();
    errors.Add(log.status());
    Result<OutputFormat> format = ParseOutputFormat(args.write_out);
    errors.Add(format.status());
    const std::pair<CLI::App*, Command> commands[] = {
        {endpoint_status, Command::kEndpointStatus},
        {endpoint_health, Command::kEndpointHealth},
        {endpoint_hashkv, Command::kEndpointHashKV},
        {member_list, Command::kMemberList},
        {check_consistency, Command::kCheckConsistency},
        {alarm_list, Command::kAlarmList},
        {alarm_disarm, Command::kAlarmDisarm},
        {defrag, Command::kDefrag},
        {compact, Command::kCompact},
        {snapshot_save, Command::kSnapshotSave},
        {move_leader, Command::kMoveLeader},
    };
    for (const auto& [subcommand, command] : commands) {
      if (subcommand->parsed()) {
        inv.command = command;
      }
    }
    if (inv.command == Command::kEndpointHashKV && args.hash_revision < 0) {
      errors.Add("--rev \"" + std::to_string(args.hash_revision) + "\": must be >= 0");
    }
    if (inv.command == Command::kCompact) {
      const bool has_revision = !args.compact_revision.empty();
      if (has_revision) {
        char* end = nullptr;
        errno = 0;
        const long long revision = std::strtoll(args.compact_revision.c_str(), &end, 10);
        if (errno != 0 || *end != '\0' || revision <= 0) {
          errors.Add("compact revision \"" + args.compact_revision + "\": want a positive integer");
        }
        inv.compact.revision = revision;
      }
      if (args.compact_keep < 0) {
        errors.Add("--keep \"" + std::to_string(args.compact_keep) + "\": must be positive");
      }
      if (has_revision == (args.compact_keep > 0)) {
        errors.Add("compact: give either a revision or --keep=N, not both or neither");
      }
      inv.compact.keep = args.compact_keep;
      inv.compact.physical = args.compact_physical;
    }
    if (inv.command == Command::kSnapshotSave) {
      Result<std::chrono::milliseconds> timeout = config::ParseDuration(args.snapshot_timeout);
      if (!timeout.ok() || timeout->count() <= 0) {
        errors.Add("--timeout \"" + args.snapshot_timeout + "\": want a positive duration");
      } else {
        inv.snapshot.timeout = *timeout;
      }
      inv.snapshot.path = args.snapshot_file;
    }
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    inv.etcd = std::move(etcd).value();
    inv.log = *log;
    inv.format = *format;
    inv.assume_yes = args.yes;
    inv.hash_revision = args.hash_revision;
    inv.defrag_cluster = args.defrag_cluster;
    inv.skip_quorum_check = args.skip_quorum_check;
    inv.member = args.member;
    return inv;
  };

  auto parsed = config::ParseCommandLine(app, argc, argv, build, out, err);
  if (!parsed.ok()) {
    return parsed.exit_code();
  }
  const Invocation& inv = parsed.value();
  switch (inv.command) {
    case Command::kMonitor:
      if (inv.all_in_one.monitor.benchmark.run_once) {
        return RunQuickstartBenchmark(inv.all_in_one.monitor.etcd, inv.all_in_one.monitor.log,
                                      inv.all_in_one.monitor.benchmark, out, err);
      }
      return RunAllInOne(inv.all_in_one, out, err);
    case Command::kBenchmark:
      return benchmark.Run(out, err);
    case Command::kKeygen:
      if (!inv.keygen_grpc_tls.empty()) {
        return RunGrpcTlsKeygen(inv.keygen_dir, inv.keygen_grpc_tls, kGrpcTlsDays, inv.keygen_force,
                                out, err);
      }
      if (!inv.keygen_https_tls.empty()) {
        return RunTlsKeygen(inv.keygen_dir, inv.keygen_https_tls, kGrpcTlsDays, inv.keygen_force,
                            kHttpsTlsNames, out, err);
      }
      return RunKeygen(inv.keygen_dir, inv.keygen_force, inv.keygen_collector, out, err);
    case Command::kSilenceCreate:
      return RunSilenceCreate(inv.silence, out, err);
    case Command::kSilenceList:
      return RunSilenceList(inv.silence, out, err);
    case Command::kSilenceExpire:
      return RunSilenceExpire(inv.silence, out, err);
    default:
      return RunCtl(inv, in, in_is_terminal, out, err);
  }
}

}  // namespace etcdmon::cli
