#include "cluster_specs.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "etcdmon/config/cluster_name.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/files/private_files.h"
#include "etcdmon/strings/strings.h"
#include "etcdmon/yaml/file_errors.h"

namespace etcdmon::cli {
namespace {

using yaml::Entries;
using yaml::FileErrors;
using yaml::Quote;

void UnknownKey(const YAML::Node& key, std::string_view where, std::string_view known,
                FileErrors& errors) {
  errors.Add(key, std::string(where) + "unknown key " + Quote(key.Scalar()) +
                      " (known: " + std::string(known) + ")");
}

// A non-empty scalar string, else an error `<what>: want <want>`.
std::optional<std::string> String(const YAML::Node& node, std::string_view what, FileErrors& errors,
                                  std::string_view want = "a string") {
  if (!node.IsScalar() || node.Scalar().empty()) {
    errors.Add(node, std::string(what) + ": want " + std::string(want));
    return std::nullopt;
  }
  return node.Scalar();
}

// `path` made absolute against the clusters file's directory.
std::string Resolve(const std::string& path, const std::string& base_dir) {
  std::filesystem::path p(path);
  if (p.is_relative()) {
    p = std::filesystem::path(base_dir) / p;
  }
  return p.lexically_normal().string();
}

// OK when `path` is a regular file this process can read; else the reason.
Status CheckReadableFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return Status::InvalidArgument("no such file");
  }
  if (ec) {
    return Status::InvalidArgument("cannot read file: " + ec.message());
  }
  if (status.type() != std::filesystem::file_type::regular) {
    return Status::InvalidArgument("not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read file: " + std::string(std::strerror(errno)));
  }
  return Status::Ok();
}

// A file path value: resolved, and readable (a private key: by its owner only).
std::optional<std::string> FilePath(const YAML::Node& node, std::string_view what,
                                    const std::string& base_dir, FileErrors& errors,
                                    bool private_key = false) {
  std::optional<std::string> raw = String(node, what, errors, "a file path");
  if (!raw) {
    return std::nullopt;
  }
  const std::string path = Resolve(*raw, base_dir);
  if (Status readable = CheckReadableFile(path); !readable.ok()) {
    errors.Add(node, std::string(what) + " " + Quote(path) + ": " + readable.message());
    return std::nullopt;
  }
  if (private_key) {
    const files::SecretFileCheck check =
        files::CheckSecretFile(path, files::SecretFileKind::kPrivateKey);
    if (!check.status.ok()) {
      errors.Add(node, std::string(what) + ": " + check.status.message());
      return std::nullopt;
    }
  }
  return path;
}

void ParseTls(const YAML::Node& node, const std::string& base_dir, FileErrors& errors,
              config::TlsConfig& tls) {
  tls = config::TlsConfig{};  // given: replaces the flags' TLS as a whole
  if (node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    errors.Add(node, "tls: want a mapping of ca_file, cert_file, key_file, insecure_skip_tls");
    return;
  }
  // Optional rather than empty nodes: a default YAML::Node counts as defined.
  std::optional<YAML::Node> cert_node, key_node;
  for (const auto& [key, value] : Entries(node, errors)) {
    const std::string& k = key.Scalar();
    if (k == "ca_file") {
      tls.ca_file = FilePath(value, "tls.ca_file", base_dir, errors).value_or("");
    } else if (k == "cert_file") {
      cert_node.emplace(key);
      tls.cert_file = FilePath(value, "tls.cert_file", base_dir, errors).value_or("");
    } else if (k == "key_file") {
      key_node.emplace(key);
      tls.key_file =
          FilePath(value, "tls.key_file", base_dir, errors, /*private_key=*/true).value_or("");
    } else if (k == "insecure_skip_tls") {
      Result<bool> parsed = value.IsScalar()
                                ? config::ParseBool(value.Scalar())
                                : Result<bool>(Status::InvalidArgument("want true or false"));
      if (!parsed.ok()) {
        errors.Add(value, "tls.insecure_skip_tls: " + parsed.status().message());
      } else {
        tls.insecure_skip_verify = *parsed;
      }
    } else {
      UnknownKey(key, "tls: ", "ca_file, cert_file, key_file, insecure_skip_tls", errors);
    }
  }
  if (cert_node && !key_node) {
    errors.Add(*cert_node, "tls.cert_file: a client certificate needs its key_file");
  }
  if (key_node && !cert_node) {
    errors.Add(*key_node, "tls.key_file: a client key needs its cert_file");
  }
}

void ParseAuth(const YAML::Node& node, const std::string& base_dir, FileErrors& errors,
               config::EtcdConnectionConfig& etcd) {
  // Given: replaces the flags' user as a whole (`auth: {}` means no etcd auth).
  etcd.username.clear();
  etcd.password = config::Secret();
  if (node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    errors.Add(node, "auth: want a mapping of username and password_file or password_env");
    return;
  }
  std::optional<YAML::Node> username_node, file_node, env_node;
  for (const auto& [key, value] : Entries(node, errors)) {
    const std::string& k = key.Scalar();
    if (k == "username") {
      username_node.emplace(value);
    } else if (k == "password_file") {
      file_node.emplace(value);
    } else if (k == "password_env") {
      env_node.emplace(value);
    } else {
      UnknownKey(key, "auth: ", "username, password_file, password_env", errors);
    }
  }
  if (!username_node) {
    if (file_node || env_node) {
      errors.Add(node, "auth: a password needs a username");
    }
    return;
  }
  std::optional<std::string> username = String(*username_node, "auth.username", errors);
  if (!username) {
    return;
  }
  if (username->find(':') != std::string::npos) {
    // Passwords live in files or variables only, never in the clusters file.
    errors.Add(*username_node,
               "auth.username: a name without ':' (give the password with "
               "password_file or password_env)");
    return;
  }
  etcd.username = *username;
  if (file_node.has_value() == env_node.has_value()) {
    errors.Add(node, "auth: user " + Quote(*username) +
                         " needs exactly one of password_file and password_env");
    return;
  }
  if (file_node) {
    std::optional<std::string> path = FilePath(*file_node, "auth.password_file", base_dir, errors);
    if (!path) {
      return;
    }
    Result<std::string> password = config::ReadSecretFile(*path);
    if (!password.ok()) {
      errors.Add(*file_node,
                 "auth.password_file " + Quote(*path) + ": " + password.status().message());
      return;
    }
    etcd.password = config::Secret(*std::move(password));
    return;
  }
  std::optional<std::string> variable =
      String(*env_node, "auth.password_env", errors, "the name of an environment variable");
  if (!variable) {
    return;
  }
  const char* value = std::getenv(variable->c_str());
  if (value == nullptr || *value == '\0') {
    errors.Add(*env_node,
               "auth.password_env: environment variable " + Quote(*variable) + " is not set");
    return;
  }
  etcd.password = config::Secret(value);
}

// An integer threshold in [min, max], as its flag takes it.
void ParseThreshold(const YAML::Node& node, std::string_view name, int64_t min, int64_t max,
                    FileErrors& errors, int64_t& out) {
  const std::string what = "thresholds." + std::string(name);
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (text.empty() || ptr != text.data() + text.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    errors.Add(node, what + ": want an integer in " + range);
    return;
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    errors.Add(node, what + ": " + text + " out of range " + range);
    return;
  }
  out = value;
}

void ParseThresholds(const YAML::Node& node, FileErrors& errors, ClusterSpec& spec) {
  if (node.IsNull()) {
    return;
  }
  if (!node.IsMap()) {
    errors.Add(node,
               "thresholds: want a mapping of max_latency_ms, max_db_size_mb, "
               "min_available_nodes, max_leader_changes");
    return;
  }
  config::AlertThresholds& t = spec.thresholds;
  for (const auto& [key, value] : Entries(node, errors)) {
    const std::string& k = key.Scalar();
    int64_t parsed = -1;
    // The ranges of --max-latency-ms, --max-db-size-mb, --min-available-nodes and
    // --max-leader-changes (config::AlertThresholdFlags).
    if (k == "max_latency_ms") {
      ParseThreshold(value, k, 1, 3'600'000, errors, parsed);
      if (parsed >= 0) t.max_latency = std::chrono::milliseconds(parsed);
    } else if (k == "max_db_size_mb") {
      ParseThreshold(value, k, 1, 1024 * 1024, errors, parsed);
      if (parsed >= 0) t.max_db_size_bytes = static_cast<uint64_t>(parsed) * 1024 * 1024;
    } else if (k == "min_available_nodes") {
      ParseThreshold(value, k, 1, 1000, errors, parsed);
      if (parsed >= 0) t.min_available_nodes = static_cast<uint32_t>(parsed);
    } else if (k == "max_leader_changes") {
      ParseThreshold(value, k, 0, 1'000'000, errors, parsed);
      if (parsed >= 0) t.max_leader_changes = static_cast<uint32_t>(parsed);
    } else {
      UnknownKey(key, "thresholds: ",
                 "max_latency_ms, max_db_size_mb, min_available_nodes, max_leader_changes", errors);
      continue;
    }
    spec.thresholds_given = true;
  }
}

void ParseEndpoints(const YAML::Node& node, FileErrors& errors, ClusterSpec& spec) {
  if (!node.IsSequence() || node.size() == 0) {
    errors.Add(node, "endpoints: want a list of at least one endpoint");
    return;
  }
  if (node.size() > kMaxEndpointsPerCluster) {
    errors.Add(node,
               "endpoints: more than " + std::to_string(kMaxEndpointsPerCluster) + " endpoints");
    return;
  }
  std::set<std::string> seen;
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) {
      errors.Add(item, "endpoints: want host:port, http://host:port or https://host:port");
      continue;
    }
    Result<config::Endpoint> endpoint = config::ParseEndpointOfValue(item.Scalar());
    if (!endpoint.ok()) {
      errors.Add(item, "endpoint " + Quote(item.Scalar()) + ": " + endpoint.status().message());
    } else if (!seen.insert(endpoint->Url("")).second) {
      errors.Add(item, "endpoint " + Quote(item.Scalar()) + ": listed twice");
    } else {
      spec.etcd.endpoints.push_back(*std::move(endpoint));
    }
  }
}

std::optional<ClusterSpec> ParseCluster(const YAML::Node& node, const std::string& base_dir,
                                        const ClusterDefaults& defaults, FileErrors& errors) {
  if (!node.IsMap()) {
    errors.Add(node, "clusters: each cluster is a mapping with name and endpoints");
    return std::nullopt;
  }
  ClusterSpec spec;
  spec.etcd = defaults.etcd;
  spec.etcd.endpoints.clear();
  spec.thresholds = defaults.thresholds;
  spec.source = errors.Line(node);
  bool has_name = false;
  bool has_endpoints = false;
  for (const auto& [key, value] : Entries(node, errors)) {
    const std::string& k = key.Scalar();
    if (k == "name") {
      has_name = true;
      std::optional<std::string> name = String(value, "name", errors, "a cluster name");
      if (name) {
        if (Status valid = config::ValidateClusterName(*name); !valid.ok()) {
          errors.Add(value, valid.message());
        } else {
          spec.name = *name;
        }
      }
    } else if (k == "endpoints") {
      has_endpoints = true;
      ParseEndpoints(value, errors, spec);
    } else if (k == "tls") {
      ParseTls(value, base_dir, errors, spec.etcd.tls);
    } else if (k == "auth") {
      ParseAuth(value, base_dir, errors, spec.etcd);
    } else if (k == "thresholds") {
      ParseThresholds(value, errors, spec);
    } else {
      UnknownKey(key, "", "name, endpoints, tls, auth, thresholds", errors);
    }
  }
  if (!has_name) {
    errors.Add(node, "a cluster needs a name");
  }
  if (!has_endpoints) {
    errors.Add(node, "cluster " +
                         (spec.name.empty() ? std::string("without a name") : Quote(spec.name)) +
                         " needs endpoints");
  }
  if (spec.name.empty() || spec.etcd.endpoints.empty()) {
    return std::nullopt;
  }
  return spec;
}

}  // namespace

Result<std::vector<config::Endpoint>> ParseEndpointList(std::string_view list) {
  std::vector<config::Endpoint> endpoints;
  std::set<std::string> seen;
  std::string_view rest = list;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = strings::TrimAsciiWhitespace(rest.substr(0, comma));
    if (item.empty()) {
      return Status::InvalidArgument(list.find_first_not_of(" \t,") == std::string_view::npos
                                         ? "at least one endpoint is required"
                                         : "empty item in the list");
    }
    Result<config::Endpoint> endpoint = config::ParseEndpointOfValue(item);
    if (!endpoint.ok()) {
      return Status::InvalidArgument("endpoint " + Quote(item) + ": " +
                                     endpoint.status().message());
    }
    if (!seen.insert(endpoint->Url("")).second) {
      return Status::InvalidArgument("endpoint " + Quote(item) + ": listed twice");
    }
    endpoints.push_back(*std::move(endpoint));
    if (endpoints.size() > kMaxEndpointsPerCluster) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxEndpointsPerCluster) +
                                     " endpoints");
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  return endpoints;
}

Result<ClusterSpec> ParseClusterFlag(std::string_view value, const ClusterDefaults& defaults) {
  const auto eq = value.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument("want NAME=ENDPOINT[,ENDPOINT...]");
  }
  const std::string_view name = value.substr(0, eq);
  ETCDMON_RETURN_IF_ERROR(config::ValidateClusterName(name));
  Result<std::vector<config::Endpoint>> endpoints = ParseEndpointList(value.substr(eq + 1));
  ETCDMON_RETURN_IF_ERROR(endpoints.status());
  ClusterSpec spec;
  spec.name = std::string(name);
  spec.etcd = defaults.etcd;
  spec.etcd.endpoints = *std::move(endpoints);
  spec.thresholds = defaults.thresholds;
  spec.source = "--cluster " + Quote(value);
  return spec;
}

Result<std::vector<ClusterSpec>> ParseClustersText(std::string_view text, std::string_view source,
                                                   const std::string& base_dir,
                                                   const ClusterDefaults& defaults) {
  if (text.size() > kMaxClustersFileBytes) {
    return Status::InvalidArgument(std::string(source) + ": larger than " +
                                   std::to_string(kMaxClustersFileBytes) + " bytes");
  }
  FileErrors errors(source);
  std::vector<ClusterSpec> clusters;
  // yaml-cpp reports errors by exception; none leaves this function.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    std::optional<YAML::Node> list;  // a default YAML::Node would count as defined
    if (!root.IsMap()) {
      errors.Add(root, "want a mapping with \"clusters\", a list of clusters");
    } else {
      bool unknown = false;  // a misspelt "clusters" is reported once, as unknown
      for (const auto& [key, value] : Entries(root, errors)) {
        if (key.Scalar() == "clusters") {
          list.emplace(value);
        } else {
          unknown = true;
          UnknownKey(key, "", "clusters", errors);
        }
      }
      if (!list && !unknown) {
        errors.Add(root, "\"clusters\" is missing");
      }
    }
    if (list && (!list->IsSequence() || list->size() == 0)) {
      errors.Add(*list, "clusters: want a list of at least one cluster");
    } else if (list && list->size() > kMaxClusters) {
      errors.Add(*list, "clusters: more than " + std::to_string(kMaxClusters) + " clusters");
    } else if (list) {
      std::map<std::string, std::string> first_seen;  // name -> "source:line"
      for (const YAML::Node& item : *list) {
        std::optional<ClusterSpec> spec = ParseCluster(item, base_dir, defaults, errors);
        if (!spec) {
          continue;
        }
        const auto [it, inserted] = first_seen.emplace(spec->name, spec->source);
        if (!inserted) {
          errors.Add(item, "duplicate cluster name " + Quote(spec->name) + " (first at " +
                               it->second + ")");
          continue;
        }
        clusters.push_back(*std::move(spec));
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  ETCDMON_RETURN_IF_ERROR(errors.ToStatus());
  return clusters;
}

Result<std::vector<ClusterSpec>> LoadClustersFile(const std::string& path,
                                                  const ClusterDefaults& defaults) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Status::InvalidArgument(path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return Status::InvalidArgument(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxClustersFileBytes) {
    return Status::InvalidArgument(path + ": larger than " + std::to_string(kMaxClustersFileBytes) +
                                   " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(path + ": " + std::strerror(errno));
  }
  // At most one byte more than allowed: the file may have grown since stat().
  std::string text(kMaxClustersFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    return Status::InvalidArgument(path + ": read failed");
  }
  std::error_code ec;
  const std::string base_dir =
      std::filesystem::absolute(path, ec).parent_path().lexically_normal().string();
  return ParseClustersText(text, path, base_dir, defaults);
}

}  // namespace etcdmon::cli
