// The rule catalogue with its defaults, and rules files (YAML or JSON) that change it.

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "etcdmon/alerter/rules.h"
#include "etcdmon/config/cluster_name.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/strings/strings.h"
#include "etcdmon/yaml/file_errors.h"

namespace etcdmon::alerter {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr double kMinuteMs = 60000;
constexpr double kHourMs = 60 * kMinuteMs;
constexpr double kDayMs = 24 * kHourMs;

// At most this many channels per rule: a bound on what a file can make us hold.
constexpr std::size_t kMaxChannels = 16;
constexpr std::string_view kKnownChannels[] = {"console", "webhook", "slack", "pagerduty", "email"};

RuleParameter Number(std::string name, double value, double min, double max) {
  return RuleParameter{std::move(name), ParameterKind::kNumber, value, min, max};
}
RuleParameter Duration(std::string name, milliseconds value, double min_ms, double max_ms) {
  return RuleParameter{std::move(name), ParameterKind::kDuration,
                       static_cast<double>(value.count()), min_ms, max_ms};
}
RuleParameter ResolvePercent() { return Number("resolve_percent", 90, 1, 100); }

RuleSpec Spec(std::string_view id, Severity severity, milliseconds for_duration,
              std::vector<RuleParameter> parameters) {
  RuleSpec spec;
  spec.id = std::string(id);
  spec.severity = severity;
  spec.for_duration = for_duration;
  spec.parameters = std::move(parameters);
  return spec;
}

using yaml::Entries;
using yaml::FileErrors;

void ParseFor(const YAML::Node& node, FileErrors& errors, milliseconds* out) {
  if (!node.IsScalar()) {
    errors.Add(node, "for: want a duration such as \"5m\"");
    return;
  }
  auto parsed = config::ParseDuration(node.Scalar());
  if (!parsed.ok()) {
    errors.Add(node, "for: " + parsed.status().message());
    return;
  }
  *out = *parsed;
}

void ParseChannels(const YAML::Node& node, FileErrors& errors, std::vector<std::string>* out) {
  if (!node.IsSequence()) {
    errors.Add(node, "channels: want a list of channel names");
    return;
  }
  if (node.size() > kMaxChannels) {
    errors.Add(node, "channels: at most " + std::to_string(kMaxChannels) + " channels");
    return;
  }
  std::vector<std::string> channels;
  for (const auto& item : node) {
    const bool known =
        item.IsScalar() && std::find(std::begin(kKnownChannels), std::end(kKnownChannels),
                                     item.Scalar()) != std::end(kKnownChannels);
    if (!known) {
      errors.Add(item, "channels: unknown channel" +
                           (item.IsScalar() ? " \"" + item.Scalar() + "\"" : std::string()) +
                           " (use console, webhook, slack, pagerduty or email)");
      continue;
    }
    channels.push_back(item.Scalar());
  }
  *out = std::move(channels);
}

void ParseParameter(const YAML::Node& node, RuleParameter& parameter, FileErrors& errors) {
  const std::string& name = parameter.name;
  if (!node.IsScalar()) {
    errors.Add(node, name + ": want " +
                         (parameter.kind == ParameterKind::kDuration ? "a duration" : "a number"));
    return;
  }
  double value = 0;
  if (parameter.kind == ParameterKind::kDuration) {
    auto parsed = config::ParseDuration(node.Scalar());
    if (!parsed.ok()) {
      errors.Add(node, name + ": " + parsed.status().message());
      return;
    }
    value = static_cast<double>(parsed->count());
  } else {
    const std::string& text = node.Scalar();
    char* end = nullptr;
    errno = 0;
    value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value)) {
      errors.Add(node, name + ": \"" + text + "\" is not a number");
      return;
    }
  }
  if (value < parameter.min || value > parameter.max) {
    if (parameter.kind == ParameterKind::kDuration) {
      errors.Add(node, name + ": \"" + node.Scalar() + "\" out of range " +
                           std::to_string(static_cast<int64_t>(parameter.min / 1000)) + "s.." +
                           std::to_string(static_cast<int64_t>(parameter.max / 1000)) + "s");
    } else {
      std::ostringstream range;
      range << parameter.min << ".." << parameter.max;
      errors.Add(node, name + ": " + node.Scalar() + " out of range " + range.str());
    }
    return;
  }
  parameter.value = value;
}

void ParseRule(const YAML::Node& node, RuleSpec& spec, FileErrors& errors) {
  if (node.IsNull()) {
    return;  // "NoLeader:" with nothing: the defaults
  }
  if (!node.IsMap()) {
    errors.Add(node, spec.id + ": want a mapping of settings");
    return;
  }
  for (const auto& [key_node, value] : Entries(node, errors)) {
    const std::string& key = key_node.Scalar();
    if (key == "enabled") {
      auto parsed = value.IsScalar() ? config::ParseBool(value.Scalar())
                                     : Result<bool>(Status::InvalidArgument("want true or false"));
      if (!parsed.ok()) {
        errors.Add(value, "enabled: " + parsed.status().message());
      } else {
        spec.enabled = *parsed;
      }
    } else if (key == "severity") {
      auto parsed = value.IsScalar()
                        ? ParseSeverity(value.Scalar())
                        : Result<Severity>(Status::InvalidArgument("want warning or critical"));
      if (!parsed.ok()) {
        errors.Add(value, "severity: " + parsed.status().message());
      } else {
        spec.severity = *parsed;
      }
    } else if (key == "for") {
      ParseFor(value, errors, &spec.for_duration);
    } else if (key == "channels") {
      ParseChannels(value, errors, &spec.channels);
    } else {
      auto parameter = std::find_if(spec.parameters.begin(), spec.parameters.end(),
                                    [&](const RuleParameter& p) { return p.name == key; });
      if (parameter == spec.parameters.end()) {
        std::vector<std::string> known = {"enabled", "severity", "for", "channels"};
        for (const auto& p : spec.parameters) {
          known.push_back(p.name);
        }
        errors.Add(key_node, spec.id + ": unknown key \"" + key +
                                 "\" (known: " + strings::Join(known, ", ") + ")");
        continue;
      }
      ParseParameter(value, *parameter, errors);
    }
  }
  if (spec.id == kCertificateExpiringSoon &&
      spec.Parameter("critical_days") > spec.Parameter("warning_days")) {
    errors.Add(node, spec.id + ": critical_days must not exceed warning_days");
  }
}

// Applies a `defaults` mapping to every rule. `prefix` places the errors ("" at the top level,
// "clusters: prod: " in a cluster's section).
void ApplyDefaults(const YAML::Node& defaults, const std::string& prefix,
                   std::vector<RuleSpec>& rules, FileErrors& errors) {
  if (!defaults || defaults.IsNull()) {
    return;
  }
  if (!defaults.IsMap()) {
    errors.Add(defaults, prefix + "defaults: want a mapping with for and channels");
    return;
  }
  for (const auto& [key_node, value] : Entries(defaults, errors)) {
    const std::string& key = key_node.Scalar();
    if (key == "for") {
      milliseconds duration{0};
      ParseFor(value, errors, &duration);
      for (auto& spec : rules) {
        spec.for_duration = duration;
      }
    } else if (key == "channels") {
      std::vector<std::string> channels;
      ParseChannels(value, errors, &channels);
      for (auto& spec : rules) {
        spec.channels = channels;
      }
    } else {
      errors.Add(key_node, prefix + "defaults: unknown key \"" + key + "\" (known: for, channels)");
    }
  }
}

// Applies a `rules` mapping (rule id to settings).
void ApplyRules(const YAML::Node& rules_node, const std::string& prefix,
                std::vector<RuleSpec>& rules, FileErrors& errors) {
  if (!rules_node || rules_node.IsNull()) {
    return;
  }
  if (!rules_node.IsMap()) {
    errors.Add(rules_node, prefix + "rules: want a mapping of rule id to settings");
    return;
  }
  for (const auto& [key_node, value] : Entries(rules_node, errors)) {
    // A copy of the name: C++17 lambdas cannot capture a structured binding (clang refuses).
    const std::string id = key_node.Scalar();
    auto spec =
        std::find_if(rules.begin(), rules.end(), [&](const RuleSpec& s) { return s.id == id; });
    if (spec == rules.end()) {
      errors.Add(key_node, prefix + "unknown rule \"" + key_node.Scalar() + "\"");
      continue;
    }
    ParseRule(value, *spec, errors);
  }
}

// The settings of one level: the file's top level or one cluster's section.
struct Section {
  YAML::Node defaults, rules;
  std::string prefix;  // where its errors are: "" or "clusters: prod: "
};

struct Document {
  Section top;
  std::vector<std::pair<std::string, Section>> clusters;  // in file order
};

// Splits `node` (a mapping) into its defaults and rules, plus the clusters at the top level.
void SplitSection(const YAML::Node& node, bool top, Section& section, Document& document,
                  FileErrors& errors);

void ParseClusters(const YAML::Node& node, Document& document, FileErrors& errors) {
  if (!node || node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    errors.Add(node, "clusters: want a mapping of cluster name to settings");
    return;
  }
  if (node.size() > kMaxRulesFileClusters) {
    errors.Add(node, "clusters: at most " + std::to_string(kMaxRulesFileClusters) + " clusters");
    return;
  }
  for (const auto& [key_node, value] : Entries(node, errors)) {
    const std::string& name = key_node.Scalar();
    if (Status valid = config::ValidateClusterName(name); !valid.ok()) {
      errors.Add(key_node, "clusters: " + valid.message());
      continue;
    }
    Section section;
    section.prefix = "clusters: " + name + ": ";
    if (!value.IsNull() && !value.IsMap()) {
      errors.Add(value,
                 section.prefix + "want a mapping with \"rules\" and optionally \"defaults\"");
      continue;
    }
    if (value.IsMap()) {
      SplitSection(value, /*top=*/false, section, document, errors);
    }
    document.clusters.emplace_back(name, std::move(section));
  }
}

void SplitSection(const YAML::Node& node, bool top, Section& section, Document& document,
                  FileErrors& errors) {
  for (const auto& [key_node, value] : Entries(node, errors)) {
    const std::string& key = key_node.Scalar();
    if (key == "defaults") {
      section.defaults = value;
    } else if (key == "rules") {
      section.rules = value;
    } else if (top && key == "clusters") {
      ParseClusters(value, document, errors);
    } else {
      errors.Add(key_node, section.prefix + "unknown key \"" + key + "\" (known: rules, defaults" +
                               (top ? ", clusters)" : ")"));
    }
  }
}

// The parts of a parsed file; every problem of its shape goes to `errors`.
Document ParseDocument(const YAML::Node& root, FileErrors& errors) {
  Document document;
  if (root.IsNull()) {
    return document;  // an empty file changes nothing
  }
  if (!root.IsMap()) {
    errors.Add(root, "want a mapping with \"rules\" and optionally \"defaults\" and \"clusters\"");
    return document;
  }
  SplitSection(root, /*top=*/true, document.top, document, errors);
  return document;
}

// The rules of the top level with `cluster` (null: none) over them: defaults first, so that a
// rule's own setting beats them wherever it is written; the cluster's after the top level's.
// Problems of the top level go to `top_errors`, those of the cluster's section to
// `cluster_errors`.
void ApplyLevels(const Document& document, const Section* cluster, std::vector<RuleSpec>& rules,
                 FileErrors& top_errors, FileErrors& cluster_errors) {
  ApplyDefaults(document.top.defaults, document.top.prefix, rules, top_errors);
  if (cluster != nullptr) {
    ApplyDefaults(cluster->defaults, cluster->prefix, rules, cluster_errors);
  }
  ApplyRules(document.top.rules, document.top.prefix, rules, top_errors);
  if (cluster != nullptr) {
    ApplyRules(cluster->rules, cluster->prefix, rules, cluster_errors);
  }
}

// Applies `text` to `rules` for `cluster` (empty: the top level only), checking every cluster's
// section; `cluster_names` (when not null) receives the names under `clusters:`.
Status ApplyRulesText(std::string_view text, std::string_view source, std::string_view cluster,
                      std::vector<RuleSpec>& rules, std::vector<std::string>* cluster_names) {
  if (text.size() > kMaxRulesFileBytes) {
    return Status::InvalidArgument(std::string(source) + ": larger than " +
                                   std::to_string(kMaxRulesFileBytes) + " bytes");
  }
  FileErrors errors(source);
  std::vector<RuleSpec> updated = rules;
  // yaml-cpp reports errors by exception; none leaves this function.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    const Document document = ParseDocument(root, errors);
    const Section* selected = nullptr;
    for (const auto& [name, section] : document.clusters) {
      if (!cluster.empty() && name == cluster) {
        selected = &section;
      }
    }
    ApplyLevels(document, selected, updated, errors, errors);
    // Every other cluster's section is checked on a scratch copy, so that a file is accepted or
    // refused the same whichever cluster it is applied for (the top level's problems are
    // reported once, above).
    for (const auto& [name, section] : document.clusters) {
      if (&section == selected) {
        continue;
      }
      std::vector<RuleSpec> scratch = rules;
      FileErrors ignored(source);
      ApplyLevels(document, &section, scratch, ignored, errors);
    }
    if (cluster_names != nullptr) {
      cluster_names->clear();
      for (const auto& entry : document.clusters) {
        cluster_names->push_back(entry.first);
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  ETCDMON_RETURN_IF_ERROR(errors.ToStatus());
  rules = std::move(updated);
  return Status::Ok();
}

Result<std::string> ReadRulesFile(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return StatusFromErrno(errno, "rules file " + path);
  }
  if (!S_ISREG(info.st_mode)) {
    return Status::InvalidArgument("rules file " + path + ": not a regular file");
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxRulesFileBytes) {
    return Status::InvalidArgument(path + ": larger than " + std::to_string(kMaxRulesFileBytes) +
                                   " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return StatusFromErrno(errno, "rules file " + path);
  }
  // Read at most one byte more than allowed: the file may have grown since stat().
  std::string text(kMaxRulesFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    return Status::Internal("rules file " + path + ": read failed");
  }
  return text;
}

}  // namespace

const RuleParameter* RuleSpec::FindParameter(std::string_view name) const {
  for (const auto& parameter : parameters) {
    if (parameter.name == name) {
      return &parameter;
    }
  }
  return nullptr;
}

double RuleSpec::Parameter(std::string_view name) const {
  const RuleParameter* parameter = FindParameter(name);
  assert(parameter != nullptr && "the rule declares every parameter its evaluator reads");
  return parameter != nullptr ? parameter->value : 0;
}

RuleSet RuleSet::Defaults(const config::AlertThresholds& thresholds) {
  const double max_latency_ms = static_cast<double>(thresholds.max_latency.count());
  const double max_db_mb = static_cast<double>(thresholds.max_db_size_bytes) / (1024.0 * 1024.0);
  constexpr auto kCritical = Severity::kCritical;
  constexpr auto kWarning = Severity::kWarning;
  constexpr double kBig = 1e12;
  RuleSet set;
  set.rules_ = {
      Spec(kNoLeader, kCritical, seconds(10), {}),
      Spec(kQuorumLost, kCritical, seconds(10), {}),
      Spec(kSplitBrain, kCritical, seconds(0), {}),
      Spec(kFrequentLeaderElections, kCritical, seconds(0),
           {Number("max_changes", thresholds.max_leader_changes, 0, 100000), ResolvePercent()}),
      Spec(kMemberUnavailable, kWarning, minutes(1),
           {Number("min_available_nodes", thresholds.min_available_nodes, 1, 1000)}),
      Spec(kEtcdAlarmActive, kCritical, seconds(0), {}),
      Spec(kWalFsyncSlow, kCritical, minutes(5),
           {Number("threshold_ms", 100, 0, kBig), ResolvePercent()}),
      Spec(kDatabaseNearQuota, kCritical, minutes(1),
           {Number("threshold_percent", 80, 1, 100), Number("max_db_size_mb", max_db_mb, 1, kBig),
            ResolvePercent()}),
      Spec(kDatabaseQuotaExhaustionSoon, kWarning, minutes(10),
           {Duration("horizon", hours(4), kMinuteMs, 30 * kDayMs), ResolvePercent()}),
      Spec(kDatabaseFragmented, kWarning, minutes(10),
           {Number("in_use_percent", 50, 1, 100), Number("min_size_mb", 100, 0, kBig),
            ResolvePercent()}),
      Spec(kRequestLatencyDegraded, kWarning, minutes(5),
           {Number("threshold_ms", max_latency_ms, 0, kBig), Number("baseline_factor", 3, 1, 1000),
            Number("relative_floor_ms", std::max(1.0, max_latency_ms / 4), 0, kBig),
            Duration("min_baseline", minutes(10), kMinuteMs, kHourMs),
            Duration("restart_grace", minutes(2), 0, kHourMs), ResolvePercent()}),
      Spec(kProposalFailureRateHigh, kWarning, minutes(5),
           {Number("threshold", 5, 0, kBig), Duration("window", minutes(15), kMinuteMs, kHourMs),
            ResolvePercent()}),
      Spec(kPendingProposalsHigh, kWarning, minutes(5),
           {Number("threshold", 50, 0, kBig), ResolvePercent()}),
      Spec(kGrpcErrorRateHigh, kWarning, minutes(5),
           {Number("threshold_percent", 5, 0, 100), Number("min_requests_per_second", 1, 0, kBig),
            ResolvePercent()}),
      Spec(kDiskUsageHigh, kWarning, minutes(5),
           {Number("threshold_percent", 80, 1, 100), ResolvePercent()}),
      Spec(kMemoryUsageHigh, kWarning, minutes(5),
           {Number("threshold_percent", 80, 1, 100), ResolvePercent()}),
      Spec(kCertificateExpiringSoon, kWarning, seconds(0),
           {Number("warning_days", 14, 0, 3650), Number("critical_days", 3, 0, 3650),
            ResolvePercent()}),
      Spec(kRevisionDivergence, kWarning, seconds(0),
           {Duration("growing_for", minutes(5), 0, kDayMs)}),
      Spec(kCollectorStale, kWarning, minutes(1), {}),
      Spec(kMonitorStorageFailing, kWarning, minutes(1), {}),
      Spec(kClusterIdentityConflict, kCritical, seconds(0), {}),
  };
  return set;
}

const RuleSpec* RuleSet::Find(std::string_view id) const {
  for (const auto& spec : rules_) {
    if (spec.id == id) {
      return &spec;
    }
  }
  return nullptr;
}

Status RuleSet::ApplyText(std::string_view text, std::string_view source,
                          std::string_view cluster) {
  return ApplyRulesText(text, source, cluster, rules_, nullptr);
}

Status RuleSet::ApplyFile(const std::string& path, std::string_view cluster) {
  Result<std::string> text = ReadRulesFile(path);
  ETCDMON_RETURN_IF_ERROR(text.status());
  return ApplyText(*text, path, cluster);
}

Result<std::vector<std::string>> ClustersOfRulesText(std::string_view text,
                                                     std::string_view source) {
  // Checked against the built-in defaults: no parameter's range depends on the thresholds.
  std::vector<RuleSpec> rules = RuleSet::Defaults({}).rules();
  std::vector<std::string> names;
  ETCDMON_RETURN_IF_ERROR(ApplyRulesText(text, source, {}, rules, &names));
  return names;
}

Result<std::vector<std::string>> ClustersOfRulesFile(const std::string& path) {
  Result<std::string> text = ReadRulesFile(path);
  ETCDMON_RETURN_IF_ERROR(text.status());
  return ClustersOfRulesText(*text, path);
}

}  // namespace etcdmon::alerter
