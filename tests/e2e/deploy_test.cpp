// The deployment stack: docker-compose-full.yml, Dockerfile, deploy/prometheus/ (config,
// alert rules and their promtool tests), the Grafana provisioning and dashboards/etcd-monitor.json.
// Docker does not run here, so the compose and Docker files are checked statically against the
// binaries (every flag, port, mount and runtime library), and the same stack runs natively
// through deploy/local/stack.sh on free loopback ports: Prometheus scrapes the gateway and the
// members, every dashboard query returns data, the alert rules evaluate, and a stopped member
// shows through Prometheus.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/local_stack.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::deploy {
namespace {

using etcdmon::testing::Http;
using etcdmon::testing::HttpResult;
using etcdmon::testing::ReadWholeFile;
using etcdmon::testing::RunCommand;
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kSourceDir = ETCDMON_SOURCE_DIR;
const std::string kBuildDir = ETCDMON_BUILD_DIR;
const std::string kPromtool = "/usr/bin/promtool";
const std::string kStackScript = kSourceDir + "/deploy/local/stack.sh";

// The binaries of the image, by name, as the compose file's entrypoints name them.
const std::map<std::string, std::string> kBinaries = {
    {"etcd-monitor", ETCDMON_BINARY},
    {"etcd-monitor-collector", ETCDMON_COLLECTOR_BINARY},
    {"etcd-monitor-aggregator", ETCDMON_AGGREGATOR_BINARY},
    {"etcd-monitor-alerter", ETCDMON_ALERTER_BINARY},
    {"etcd-monitor-gateway", ETCDMON_GATEWAY_BINARY},
};

// The quickstart's dashboard: row title → the panels it promises.
const std::vector<std::pair<std::string, std::vector<std::string>>> kDashboardRows = {
    {"Cluster Overview", {"Health status", "Leader status", "Member count"}},
    {"Performance",
     {"Read latency (P50, P95, P99)", "Write latency (P50, P95, P99)", "Request rate",
      "Throughput"}},
    {"Database", {"Database size", "Size in use", "Growth rate"}},
    {"Raft Consensus",
     {"Proposals committed", "Proposals applied", "Proposals pending", "Proposals failed"}},
    {"Disk Performance", {"WAL fsync duration", "Backend commit duration"}},
};

std::string RunOk(const std::vector<std::string>& argv, const std::string& log_file,
                  std::chrono::milliseconds timeout = 60s,
                  const std::vector<std::string>& env = {}) {
  std::remove(log_file.c_str());
  auto output = RunCommand(argv, log_file, timeout, env);
  EXPECT_TRUE(output.ok()) << output.status().ToString();
  return output.ok() ? *output : std::string();
}

std::string UrlEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// WaitFor at a pace fit for HTTP queries to Prometheus (WaitFor itself polls every 5 ms).
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        if (condition()) {
          return true;
        }
        std::this_thread::sleep_for(200ms);
        return false;
      },
      timeout);
}

// The time left until `deadline`, at least a moment (for one more check).
std::chrono::milliseconds Remaining(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

// A flag is accepted when the binary's --help lists it as a whole word.
bool HelpListsFlag(const std::string& help, const std::string& flag) {
  const std::regex listed("(^|[^a-z0-9-])" + flag + "($|[^a-z0-9-])");
  return std::regex_search(help, listed);
}

// "--name=value" and "--name" → "--name"; anything else → "".
std::string FlagName(const std::string& argument) {
  if (argument.rfind("--", 0) != 0) {
    return "";
  }
  return argument.substr(0, argument.find('='));
}

// The Grafana variables of the dashboard, replaced as Grafana would with "All" selected.
std::string ExpandDashboardVariables(std::string expr) {
  const std::pair<std::string, std::string> kVariables[] = {{"$__rate_interval", "1m"},
                                                            {"$cluster", ".+"}};
  for (const auto& [name, value] : kVariables) {
    for (size_t at = expr.find(name); at != std::string::npos; at = expr.find(name, at)) {
      expr.replace(at, name.size(), value);
      at += value.size();
    }
  }
  return expr;
}

// ---- docker-compose-full.yml ----

class ComposeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    compose_ = YAML::LoadFile(kSourceDir + "/docker-compose-full.yml");
    ASSERT_TRUE(compose_["services"].IsMap());
  }

  // A service's key, also when it comes from a `<<: *anchor` merge (yaml-cpp does not merge);
  // a null node when the service has no such key.
  YAML::Node Get(const std::string& service, const std::string& key) const {
    const YAML::Node node = compose_["services"][service];
    if (node[key]) {
      return node[key];
    }
    if (node["<<"] && node["<<"][key]) {
      return node["<<"][key];
    }
    return YAML::Node();
  }

  std::vector<std::string> Strings(const YAML::Node& list) const {
    std::vector<std::string> out;
    if (list && list.IsSequence()) {
      for (const auto& item : list) {
        out.push_back(item.as<std::string>());
      }
    }
    return out;
  }

  std::vector<std::string> ServiceNames() const {
    std::vector<std::string> names;
    for (const auto& entry : compose_["services"]) {
      names.push_back(entry.first.as<std::string>());
    }
    return names;
  }

  YAML::Node compose_;
};

TEST_F(ComposeFile, HasTheQuickstartServicesNamesNetworkAndPorts) {
  ASSERT_TRUE(compose_["networks"]["etcd-network"]) << "the quickstart's network";
  // Named explicitly, not through the project name: `docker network inspect
  // etcd-monitor_etcd-network` then works from any checkout directory, with Compose v1 and v2.
  EXPECT_EQ(compose_["networks"]["etcd-network"]["name"].as<std::string>(""),
            "etcd-monitor_etcd-network");

  // container name → the host port the quickstart opens (empty: none published).
  // etcd, Prometheus and Grafana on 127.0.0.1 only: reachable from this host, not the network.
  const std::map<std::string, std::string> kPublished = {
      {"etcd1", "127.0.0.1:2379:2379"},
      {"etcd2", "127.0.0.1:22379:2379"},
      {"etcd3", "127.0.0.1:32379:2379"},
      {"etcd-monitor", "127.0.0.1:8080:8080"},
      {"prometheus", "127.0.0.1:9090:9090"},
      {"grafana", "127.0.0.1:3000:3000"},
      // HTTPS for the gateway through nginx: the one port open beyond this host.
      {"etcd-monitor-tls-proxy", "8443:8443"}};
  std::set<std::string> seen;
  for (const std::string& service : ServiceNames()) {
    SCOPED_TRACE(service);
    // A list of names, or a map (tls-proxy's, with its fixed address).
    const YAML::Node networks_node = Get(service, "networks");
    const std::vector<std::string> networks = Strings(networks_node);
    EXPECT_TRUE(std::find(networks.begin(), networks.end(), "etcd-network") != networks.end() ||
                (networks_node.IsMap() && networks_node["etcd-network"]));
    const std::string container = Get(service, "container_name").as<std::string>("");
    auto expected = kPublished.find(container);
    if (expected != kPublished.end()) {
      seen.insert(container);
      EXPECT_EQ(Strings(Get(service, "ports")), std::vector<std::string>{expected->second});
    } else {
      EXPECT_TRUE(Get(service, "ports").IsNull()) << "only the quickstart's ports are published";
    }
    EXPECT_FALSE(Get(service, "restart").IsNull()) << "every service has a restart policy";
  }
  EXPECT_EQ(seen.size(), kPublished.size()) << "a quickstart container is missing";

  const YAML::Node grafana_env = Get("grafana", "environment");
  EXPECT_EQ(grafana_env["GF_SECURITY_ADMIN_USER"].as<std::string>(""), "admin");
  EXPECT_EQ(grafana_env["GF_SECURITY_ADMIN_PASSWORD"].as<std::string>(""), "admin");
}

// The quickstart's `docker-compose -f docker-compose-full.yml up -d` with Debian 12's own
// docker-compose (1.29, Compose v1): its `config` validates the file without a Docker daemon. v1
// rejects what only v2 knows (a top-level `name:`); the checks above keep to what both accept.
TEST_F(ComposeFile, ComposeV1AcceptsTheFile) {
  TempDir dir;
  Result<std::string> out =
      RunCommand({"/usr/bin/docker-compose", "-f", kSourceDir + "/docker-compose-full.yml",
                  "--project-directory", kSourceDir, "config", "-q"},
                 dir.File("compose-config.log"), 60s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  for (const auto& entry : compose_) {
    const std::string key = entry.first.as<std::string>();
    EXPECT_TRUE(key == "services" || key == "networks" || key == "volumes" ||
                key.rfind("x-", 0) == 0)
        << "top-level key \"" << key << "\" is not understood by both Compose v1 and v2";
  }
}

TEST_F(ComposeFile, EveryMonitorCommandUsesOnlyFlagsItsBinaryAccepts) {
  TempDir dir;
  std::map<std::string, std::string> help;
  for (const auto& [name, path] : kBinaries) {
    help[name] = RunOk({path, "--help"}, dir.File(name + ".help"));
  }
  help["etcd-monitor keygen"] =
      RunOk({kBinaries.at("etcd-monitor"), "keygen", "--help"}, dir.File("keygen.help"));
  help["etcd"] = RunOk({"/usr/bin/etcd", "--help"}, dir.File("etcd.help"));
  help["prometheus"] = RunOk({"/usr/bin/prometheus", "--help"}, dir.File("prometheus.help"));

  int checked_flags = 0;
  for (const std::string& service : ServiceNames()) {
    SCOPED_TRACE(service);
    std::vector<std::string> command = Strings(Get(service, "command"));
    const std::vector<std::string> entrypoint = Strings(Get(service, "entrypoint"));
    const std::string image = Get(service, "image").as<std::string>("");
    std::string binary;
    if (image.rfind("etcd-monitor:", 0) == 0) {
      binary = entrypoint.empty() ? "etcd-monitor" : entrypoint[0];
      if (binary == "sh") {
        // keygen: `sh -c "(test -s /keys/curve.pub || etcd-monitor keygen --out /keys) && ..."`
        ASSERT_EQ(entrypoint.size(), 3u);
        std::istringstream words(entrypoint[2]);
        command.clear();
        for (std::string word; words >> word;) {
          command.push_back(word);
        }
        binary = "etcd-monitor keygen";
      } else {
        command.insert(command.begin(), entrypoint.begin() + 1, entrypoint.end());
      }
    } else if (image.find("/etcd:") != std::string::npos) {
      binary = "etcd";
    } else if (image.find("prometheus:") != std::string::npos) {
      binary = "prometheus";
    } else {
      continue;  // Grafana: configured through its environment
    }
    ASSERT_TRUE(help.count(binary)) << "unknown binary " << binary;
    for (const std::string& argument : command) {
      const std::string flag = FlagName(argument);
      if (flag.empty()) {
        continue;
      }
      ++checked_flags;
      EXPECT_TRUE(HelpListsFlag(help[binary], flag)) << binary << " has no flag " << flag;
    }
  }
  EXPECT_GT(checked_flags, 50);
}

TEST_F(ComposeFile, CurveIsOnBetweenCollectorsAndAggregator) {
  auto has = [&](const std::string& service, const std::string& argument) {
    const std::vector<std::string> command = Strings(Get(service, "command"));
    return std::find(command.begin(), command.end(), argument) != command.end();
  };
  EXPECT_TRUE(has("aggregator", "--curve-secret-key-file=/keys/curve.key"));
  EXPECT_TRUE(has("alerter", "--curve-server-key-file=/keys/curve.pub"));
  EXPECT_TRUE(has("etcd-monitor", "--curve-server-key=/keys/curve.pub"));
  // One API token, written by keygen, for the gateway and the alerter (which trusts the
  // gateway's token for silences); the gateway reaches the members to run benchmarks.
  EXPECT_TRUE(has("alerter", "--api-token-file=/keys/api-token"));
  EXPECT_TRUE(has("etcd-monitor", "--api-token-file=/keys/api-token"));
  // Benchmarks have a token of their own, for the gateway only.
  EXPECT_TRUE(has("etcd-monitor", "--benchmark-token-file=/secrets/benchmark-token"));
  const std::vector<std::string> gateway_volumes = Strings(Get("etcd-monitor", "volumes"));
  EXPECT_NE(
      std::find(gateway_volumes.begin(), gateway_volumes.end(), "gateway-secrets:/secrets:ro"),
      gateway_volumes.end());
  for (const std::string& service : ServiceNames()) {
    if (service == "etcd-monitor" || service == "keygen") {
      continue;
    }
    for (const std::string& volume : Strings(Get(service, "volumes"))) {
      EXPECT_EQ(volume.rfind("gateway-secrets:", 0), std::string::npos)
          << service << " mounts the benchmark token";
    }
  }
  EXPECT_TRUE(
      has("etcd-monitor", "--endpoints=http://etcd1:2379,http://etcd2:2379,http://etcd3:2379"));
  const std::vector<std::string> keygen = Strings(Get("keygen", "entrypoint"));
  ASSERT_EQ(keygen.size(), 3u);
  EXPECT_NE(keygen[2].find("/shared/api-token"), std::string::npos) << keygen[2];
  EXPECT_NE(keygen[2].find("/gateway-secrets/benchmark-token"), std::string::npos) << keygen[2];
  int collectors = 0;
  for (const std::string& service : ServiceNames()) {
    const std::vector<std::string> entrypoint = Strings(Get(service, "entrypoint"));
    if (!entrypoint.empty() && entrypoint[0] == "etcd-monitor-collector") {
      ++collectors;
      EXPECT_TRUE(has(service, "--curve-server-key=/server-key/curve.pub")) << service;
      EXPECT_TRUE(has(service, "--curve-key-dir=/keys")) << service;
      EXPECT_EQ(Get(service, "depends_on")["keygen"]["condition"].as<std::string>(""),
                "service_completed_successfully")
          << service;
    }
  }
  EXPECT_EQ(collectors, 3) << "one collector per member";
}

// Per-collector keys (issue 15): each collector authenticates with a pair of its own, mounted
// in its container only; the aggregator's secret key is mounted in the aggregator only (and in
// the one-shot keygen that writes it); the aggregator's allow-list names each collector's key
// with that collector's id, built from what each collector's keygen wrote.
TEST_F(ComposeFile, EachCollectorHasItsOwnKeyAndTheAggregatorAnAllowList) {
  // volume name → the services that mount it.
  std::map<std::string, std::set<std::string>> mounted_by;
  for (const std::string& service : ServiceNames()) {
    for (const std::string& volume : Strings(Get(service, "volumes"))) {
      if (volume.rfind("./", 0) != 0) {
        mounted_by[volume.substr(0, volume.find(':'))].insert(service);
      }
    }
  }
  EXPECT_EQ(mounted_by["aggregator-keys"], (std::set<std::string>{"aggregator", "keygen"}))
      << "the aggregator's secret key is mounted elsewhere";
  const std::vector<std::string> aggregator = Strings(Get("aggregator", "command"));
  EXPECT_NE(
      std::find(aggregator.begin(), aggregator.end(), "--collector-keys=/keys/collector-keys"),
      aggregator.end())
      << "the aggregator does not use an allow-list";
  const std::vector<std::string> keygen = Strings(Get("keygen", "entrypoint"));
  ASSERT_EQ(keygen.size(), 3u);
  EXPECT_NE(keygen[2].find("> /keys/collector-keys"), std::string::npos) << keygen[2];
  for (const std::string member : {"etcd1", "etcd2", "etcd3"}) {
    SCOPED_TRACE(member);
    const std::string collector = "collector-" + member;
    const std::string own_keys = collector + "-keys";
    EXPECT_EQ(mounted_by[own_keys], (std::set<std::string>{collector, "keygen-" + member}))
        << "another container sees " << collector << "'s secret key";
    const std::vector<std::string> volumes = Strings(Get(collector, "volumes"));
    EXPECT_NE(std::find(volumes.begin(), volumes.end(), own_keys + ":/keys:ro"), volumes.end());
    EXPECT_NE(std::find(volumes.begin(), volumes.end(), "server-key:/server-key:ro"),
              volumes.end());
    for (const std::string& volume : volumes) {
      const std::string name = volume.substr(0, volume.find(':'));
      EXPECT_TRUE(name == own_keys || name == "server-key" ||
                  name.find("-data") != std::string::npos)
          << collector << " mounts " << volume;
    }
    const std::vector<std::string> own_keygen = Strings(Get("keygen-" + member, "entrypoint"));
    ASSERT_EQ(own_keygen.size(), 3u);
    EXPECT_NE(own_keygen[2].find("keygen --collector " + collector + " --out /keys"),
              std::string::npos)
        << own_keygen[2];
    EXPECT_NE(keygen[2].find("/allow-list/" + collector), std::string::npos) << keygen[2];
    EXPECT_EQ(Get("keygen", "depends_on")["keygen-" + member]["condition"].as<std::string>(""),
              "service_completed_successfully");
  }
  // The server's public key is all the others get.
  EXPECT_EQ(
      mounted_by["server-key"],
      (std::set<std::string>{"keygen", "collector-etcd1", "collector-etcd2", "collector-etcd3"}));
}

// The aggregator's and alerter's gRPC ports are reached across the compose network (issue 15):
// TLS with a certificate made by the keygen service, a token on every call, the server key in
// the two services only, the gateway with the CA certificate and the token.
TEST_F(ComposeFile, TheServicesGrpcPortsUseTlsAndATokenAcrossTheNetwork) {
  auto has = [&](const std::string& service, const std::string& argument) {
    const std::vector<std::string> command = Strings(Get(service, "command"));
    return std::find(command.begin(), command.end(), argument) != command.end();
  };
  for (const auto& [service, port] :
       std::map<std::string, std::string>{{"aggregator", "5557"}, {"alerter", "5558"}}) {
    SCOPED_TRACE(service);
    EXPECT_TRUE(has(service, "--grpc-listen=0.0.0.0:" + port));
    EXPECT_TRUE(has(service, "--grpc-tls-cert-file=/grpc-tls/grpc-server.pem"));
    EXPECT_TRUE(has(service, "--grpc-tls-key-file=/grpc-tls/grpc-server-key.pem"));
    EXPECT_TRUE(has(service, "--grpc-token-file=/grpc-tls/grpc-token"));
    const std::vector<std::string> volumes = Strings(Get(service, "volumes"));
    EXPECT_NE(std::find(volumes.begin(), volumes.end(), "grpc-tls:/grpc-tls:ro"), volumes.end());
  }
  EXPECT_TRUE(has("etcd-monitor", "--aggregator=aggregator:5557"));
  EXPECT_TRUE(has("etcd-monitor", "--alerter=alerter:5558"));
  EXPECT_TRUE(has("etcd-monitor", "--grpc-ca-file=/keys/grpc-ca.pem"));
  EXPECT_TRUE(has("etcd-monitor", "--grpc-token-file=/keys/grpc-token"));

  std::map<std::string, std::set<std::string>> mounted_by;
  for (const std::string& service : ServiceNames()) {
    for (const std::string& volume : Strings(Get(service, "volumes"))) {
      mounted_by[volume.substr(0, volume.find(':'))].insert(service);
    }
  }
  EXPECT_EQ(mounted_by["grpc-tls"], (std::set<std::string>{"keygen", "aggregator", "alerter"}))
      << "the gRPC server key is mounted elsewhere";
  const std::vector<std::string> keygen = Strings(Get("keygen", "entrypoint"));
  ASSERT_EQ(keygen.size(), 3u);
  // The certificate names the hosts the gateway dials; the CA and the token reach the gateway
  // through curve-keys (mounted at /shared in keygen, /keys in the gateway).
  EXPECT_NE(keygen[2].find("keygen --out /grpc-tls --grpc-tls aggregator,alerter"),
            std::string::npos)
      << keygen[2];
  EXPECT_NE(keygen[2].find("> /grpc-tls/grpc-token"), std::string::npos) << keygen[2];
  EXPECT_NE(keygen[2].find("cp /grpc-tls/grpc-ca.pem /grpc-tls/grpc-token /shared/"),
            std::string::npos)
      << keygen[2];
  EXPECT_EQ(keygen[2].find("grpc-server-key.pem /shared"), std::string::npos) << keygen[2];
}

TEST_F(ComposeFile, EveryMountedRepositoryPathExists) {
  int mounts = 0;
  for (const std::string& service : ServiceNames()) {
    for (const std::string& volume : Strings(Get(service, "volumes"))) {
      if (volume.rfind("./", 0) != 0) {
        continue;  // a named volume
      }
      ++mounts;
      const std::string source = volume.substr(0, volume.find(':'));
      EXPECT_TRUE(std::filesystem::exists(kSourceDir + "/" + source))
          << service << " mounts " << source << ", which the repository does not have";
    }
  }
  EXPECT_GE(mounts, 4);
  // Prometheus finds its rules beside its config, as rule_files is relative.
  const std::vector<std::string> volumes = Strings(Get("prometheus", "volumes"));
  for (const char* expected :
       {"./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
        "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro"}) {
    EXPECT_NE(std::find(volumes.begin(), volumes.end(), expected), volumes.end()) << expected;
  }
}

// Issue 15: the gateway's own HTTPS stalls on one idle connection, so the stack terminates TLS in
// nginx (tls-proxy) on 8443; the gateway's 8080 is for this host only, the proxy alone mounts
// its key, and the gateway trusts the proxy's fixed address for X-Forwarded-For.
TEST_F(ComposeFile, TlsProxyServesHttpsInFrontOfTheGatewayAndAloneMountsItsKey) {
  EXPECT_EQ(Get("tls-proxy", "image").as<std::string>(""), "nginx:1.22");
  EXPECT_EQ(Strings(Get("tls-proxy", "ports")), std::vector<std::string>{"8443:8443"});
  EXPECT_EQ(Strings(Get("etcd-monitor", "ports")), std::vector<std::string>{"127.0.0.1:8080:8080"});
  const std::vector<std::string> proxy_volumes = Strings(Get("tls-proxy", "volumes"));
  for (const char* expected : {"./deploy/tls-proxy/nginx.conf:/etc/nginx/tls-proxy/nginx.conf:ro",
                               "https-tls:/etc/nginx/tls:ro"}) {
    EXPECT_NE(std::find(proxy_volumes.begin(), proxy_volumes.end(), expected), proxy_volumes.end())
        << expected;
  }
  // Only keygen (which writes it) and the proxy mount the key's volume.
  for (const std::string& service : ServiceNames()) {
    if (service == "tls-proxy" || service == "keygen") {
      continue;
    }
    for (const std::string& volume : Strings(Get(service, "volumes"))) {
      EXPECT_EQ(volume.rfind("https-tls:", 0), std::string::npos)
          << service << " mounts the TLS proxy's key: " << volume;
    }
  }
  const std::vector<std::string> keygen = Strings(Get("keygen", "entrypoint"));
  ASSERT_EQ(keygen.size(), 3u);
  EXPECT_NE(keygen[2].find("etcd-monitor keygen --out /https-tls --https-tls tls-proxy,"),
            std::string::npos)
      << keygen[2];
  const std::vector<std::string> command = Strings(Get("tls-proxy", "command"));
  EXPECT_EQ(command, (std::vector<std::string>{"nginx", "-e", "stderr", "-c",
                                               "/etc/nginx/tls-proxy/nginx.conf"}));

  // The gateway trusts exactly the proxy's fixed address, which lies in the network's subnet.
  const std::string address =
      Get("tls-proxy", "networks")["etcd-network"]["ipv4_address"].as<std::string>("");
  ASSERT_FALSE(address.empty());
  const std::vector<std::string> gateway = Strings(Get("etcd-monitor", "command"));
  EXPECT_NE(std::find(gateway.begin(), gateway.end(), "--trusted-proxy=" + address), gateway.end());
  const std::string subnet =
      compose_["networks"]["etcd-network"]["ipam"]["config"][0]["subnet"].as<std::string>("");
  ASSERT_EQ(subnet.substr(subnet.find('/')), "/24") << subnet;
  EXPECT_EQ(address.rfind(subnet.substr(0, subnet.rfind('.') + 1), 0), 0u)
      << address << " " << subnet;

  // The config proxies the container port 8443 to the gateway's plain HTTP, TLS 1.2+ only, with
  // short client timeouts and the client's address in X-Forwarded-For.
  const std::string conf = ReadWholeFile(kSourceDir + "/deploy/tls-proxy/nginx.conf");
  for (const char* line :
       {"listen 8443 ssl;", "set $gateway http://etcd-monitor:8080;", "proxy_pass $gateway;",
        "ssl_protocols TLSv1.2 TLSv1.3;", "client_header_timeout 5s;",
        "proxy_set_header X-Forwarded-For $remote_addr;", "client_max_body_size 64k;",
        "ssl_certificate /etc/nginx/tls/https-server.pem;",
        "ssl_certificate_key /etc/nginx/tls/https-server-key.pem;", "daemon off;"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << line;
  }
}

// ---- Dockerfile ----

TEST(Dockerfile, BuildsTheFiveBinariesAndRunsTheAllInOne) {
  const std::string dockerfile = ReadWholeFile(kSourceDir + "/Dockerfile");
  ASSERT_FALSE(dockerfile.empty());
  for (const std::string& expected :
       {std::string("FROM debian:bookworm AS build"), std::string("ENTRYPOINT [\"etcd-monitor\"]"),
        std::string("EXPOSE 8080"), std::string("/health"), std::string("VOLUME"),
        std::string("USER etcdmon"), std::string("-DCMAKE_BUILD_TYPE=Release"),
        std::string("-DETCDMON_BUILD_TESTS=OFF")}) {
    EXPECT_NE(dockerfile.find(expected), std::string::npos) << expected;
  }
  for (const auto& entry : kBinaries) {
    EXPECT_TRUE(HelpListsFlag(dockerfile, entry.first)) << entry.first << " is not built";
    EXPECT_NE(dockerfile.find("/usr/local/bin/" + entry.first), std::string::npos)
        << entry.first << " is not installed";
  }
}

// Every shared library the binaries load comes from a package the runtime stage installs, or
// from one of their dependencies (as apt resolves them on this Debian).
TEST(Dockerfile, RuntimeStageInstallsEveryLibraryTheBinariesLoad) {
  const std::string dockerfile = ReadWholeFile(kSourceDir + "/Dockerfile");
  const size_t runtime_stage = dockerfile.find("FROM debian:bookworm-slim");
  ASSERT_NE(runtime_stage, std::string::npos);
  const size_t install = dockerfile.find("apt-get install", runtime_stage);
  ASSERT_NE(install, std::string::npos);
  const size_t end = dockerfile.find("&&", install);
  std::istringstream words(dockerfile.substr(install, end - install));
  std::vector<std::string> packages;
  for (std::string word; words >> word;) {
    if (word != "apt-get" && word != "install" && word != "\\" && word[0] != '-') {
      packages.push_back(word);
    }
  }
  ASSERT_GT(packages.size(), 10u);

  // apt resolves packages it has lists for; an image built with the lists removed has none.
  bool have_package_lists = false;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/var/lib/apt/lists", ignored)) {
    if (entry.path().filename().string().find("_Packages") != std::string::npos) {
      have_package_lists = true;
      break;
    }
  }
  if (!have_package_lists) {
    GTEST_SKIP() << "apt has no package lists here (apt-get update makes them)";
  }

  TempDir dir;
  std::vector<std::string> depends = {"/usr/bin/apt-cache", "depends",       "--recurse",
                                      "--no-recommends",    "--no-suggests", "--no-conflicts",
                                      "--no-breaks",        "--no-replaces", "--no-enhances"};
  depends.insert(depends.end(), packages.begin(), packages.end());
  std::set<std::string> available;
  std::istringstream closure(RunOk(depends, dir.File("depends.log")));
  for (std::string line; std::getline(closure, line);) {
    // Package names start lines; dependencies are indented; apt's notes are "W: ...".
    if (!line.empty() && line[0] != ' ' && line[0] != '<' && line.find(": ") == std::string::npos) {
      available.insert(line);
    }
  }
  for (const std::string& package : packages) {
    EXPECT_TRUE(available.count(package)) << "apt does not know " << package;
  }

  // Every library any binary loads, as ldd names it and as its real path (one of the two is
  // the path its package lists), then their owners in one dpkg query.
  std::map<std::string, std::vector<std::string>> loaded_by;  // library → binaries
  for (const auto& [name, path] : kBinaries) {
    std::istringstream ldd(RunOk({"/usr/bin/ldd", path}, dir.File(name + ".ldd")));
    for (std::string line; std::getline(ldd, line);) {
      const size_t arrow = line.find("=> ");
      if (arrow == std::string::npos) {
        continue;  // the vDSO and the loader
      }
      std::string library = line.substr(arrow + 3);
      library = library.substr(0, library.find(' '));
      ASSERT_NE(library, "not") << name << ": " << line;
      loaded_by[library].push_back(name);
    }
  }
  ASSERT_FALSE(loaded_by.empty());
  std::vector<std::string> query = {"/usr/bin/dpkg", "-S"};
  for (const auto& entry : loaded_by) {
    query.push_back(entry.first);
    query.push_back(std::filesystem::canonical(entry.first).string());
  }
  // dpkg exits 1 when a path is not listed (the other spelling is): read its output anyway.
  (void)RunCommand(query, dir.File("dpkg.log"), 60s);
  std::map<std::string, std::string> owner_of;  // path → package
  std::istringstream owners(ReadWholeFile(dir.File("dpkg.log")));
  for (std::string line; std::getline(owners, line);) {
    const size_t separator = line.find(": /");
    if (separator != std::string::npos && line.rfind("dpkg-query", 0) != 0) {
      const std::string package = line.substr(0, separator);
      owner_of[line.substr(separator + 2)] = package.substr(0, package.find(':'));
    }
  }
  for (const auto& [library, binaries] : loaded_by) {
    std::string owner = owner_of[library];
    if (owner.empty()) {
      owner = owner_of[std::filesystem::canonical(library).string()];
    }
    ASSERT_FALSE(owner.empty()) << binaries[0] << " loads " << library << ", which no package has";
    // A sanitized test build (scripts/test.sh --sanitize) loads the sanitizers' runtimes; the
    // image builds without sanitizers.
    if (owner.rfind("libasan", 0) == 0 || owner.rfind("libubsan", 0) == 0) {
      continue;
    }
    EXPECT_TRUE(available.count(owner)) << binaries[0] << " loads " << library << " from " << owner
                                        << ", which the runtime stage does not install";
  }
}

// ---- deploy/prometheus ----

TEST(PrometheusFiles, PromtoolAcceptsTheRulesTheirUnitTestsAndTheConfigs) {
  TempDir dir;
  const std::string rules = kSourceDir + "/deploy/prometheus/alerts.yml";
  RunOk({kPromtool, "check", "rules", rules}, dir.File("check-rules.log"));
  // Every alert fires after its `for` and stays quiet on healthy series (alerts_test.yml).
  RunOk({kPromtool, "test", "rules", kSourceDir + "/deploy/prometheus/alerts_test.yml"},
        dir.File("test-rules.log"));
  // The compose config (also checks that its rule file is found beside it)...
  RunOk({kPromtool, "check", "config", kSourceDir + "/deploy/prometheus/prometheus.yml"},
        dir.File("check-config.log"));
  // ...and the native stack's copy of it.
  RunOk({"/bin/bash", kStackScript, "config"}, dir.File("stack-config.log"), 30s,
        {"STACK_DIR=" + dir.path()});
  const std::string local_config = dir.File("prometheus/prometheus.yml");
  RunOk({kPromtool, "check", "config", local_config}, dir.File("check-local-config.log"));
  const std::string text = ReadWholeFile(local_config);
  EXPECT_NE(text.find("'127.0.0.1:8080'"), std::string::npos) << text;
  EXPECT_NE(text.find("'127.0.0.1:22379'"), std::string::npos) << text;
  EXPECT_EQ(text.find("'etcd1:"), std::string::npos) << text;
}

// ---- dashboards/ and the Grafana provisioning ----

TEST(GrafanaDashboard, HasTheQuickstartsFivePanelGroups) {
  const json dashboard =
      json::parse(ReadWholeFile(kSourceDir + "/dashboards/etcd-monitor.json"), nullptr, false);
  ASSERT_TRUE(dashboard.is_object()) << "dashboards/etcd-monitor.json is not JSON";
  // Grafana's top-level panel list: each row is followed by its panels.
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  for (const json& panel : dashboard.at("panels")) {
    const std::string title = panel.value("title", "");
    if (panel.value("type", "") == "row") {
      rows.push_back({title, {}});
      continue;
    }
    ASSERT_FALSE(rows.empty()) << title << " is above the first row";
    rows.back().second.push_back(title);
    EXPECT_EQ(panel.at("datasource").value("uid", ""), "prometheus") << title;
    ASSERT_FALSE(panel.value("targets", json::array()).empty()) << title;
    for (const json& target : panel.at("targets")) {
      EXPECT_FALSE(target.value("expr", "").empty()) << title;
    }
  }
  EXPECT_EQ(rows, kDashboardRows);

  const YAML::Node datasources =
      YAML::LoadFile(kSourceDir + "/deploy/grafana/provisioning/datasources/prometheus.yml");
  EXPECT_EQ(datasources["datasources"][0]["uid"].as<std::string>(""), "prometheus");
  EXPECT_EQ(datasources["datasources"][0]["url"].as<std::string>(""), "http://prometheus:9090");
  const YAML::Node providers =
      YAML::LoadFile(kSourceDir + "/deploy/grafana/provisioning/dashboards/etcd-monitor.yml");
  EXPECT_EQ(providers["providers"][0]["options"]["path"].as<std::string>(""),
            "/etc/grafana/dashboards");
}

// ---- the native stack (deploy/local/stack.sh) ----

class NativeStack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::LocalStackOptions options;
    options.source_dir = kSourceDir;
    options.build_dir = kBuildDir;
    options.work_dir = dir_->path();
    options.extra_env = {"METRICS_INTERVAL=1s", "HEALTH_CHECK_INTERVAL=2s", "SCRAPE_INTERVAL=1s",
                         "START_TIMEOUT=60"};
    Result<testing::LocalStack> started = testing::LocalStack::Start(options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    stack_ = new testing::LocalStack(std::move(started).value());
    stack_dir_ = stack_->dir();
    env_ = stack_->env();
    api_ = stack_->ApiUrl();
    prometheus_ = "http://127.0.0.1:" + std::to_string(stack_->ports().prometheus);
    tls_port_ = stack_->ports().tls;
    started_ = true;
  }

  static void TearDownTestSuite() {
    delete stack_;  // stops whatever still runs (the last test stops everything and checks it)
    stack_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!started_) {
      GTEST_SKIP() << "the stack did not start";
    }
  }

  // An instant query's result vector; a discarded JSON value on any error.
  static json Query(const std::string& promql) {
    const HttpResult reply = Http("GET", prometheus_ + "/api/v1/query?query=" + UrlEncode(promql));
    const json body = reply.Json();
    if (reply.status != 200 || !body.is_object() || body.value("status", "") != "success") {
      return json(json::value_t::discarded);
    }
    return body.at("data").at("result");
  }

  // The value of a query's only series, or "" when it does not have exactly one.
  static std::string SingleValue(const std::string& promql) {
    const json result = Query(promql);
    if (result.is_discarded() || result.size() != 1) {
      return "";
    }
    return result[0].at("value").at(1).get<std::string>();
  }

  static std::string Log(const std::string& name) {
    return testing::TailOfFile(stack_dir_ + "/logs/" + name + ".log", 20);
  }

  static TempDir* dir_;
  static testing::LocalStack* stack_;
  static std::string stack_dir_;
  static std::vector<std::string> env_;
  static std::string api_;
  static std::string prometheus_;
  static uint16_t tls_port_;
  static bool started_;
};

TempDir* NativeStack::dir_ = nullptr;
testing::LocalStack* NativeStack::stack_ = nullptr;
std::string NativeStack::stack_dir_;
std::vector<std::string> NativeStack::env_;
std::string NativeStack::api_;
std::string NativeStack::prometheus_;
uint16_t NativeStack::tls_port_ = 0;
bool NativeStack::started_ = false;

// GET /health over HTTPS through the stack's TLS proxy with curl, verified against `ca` (none:
// the system's CAs) and any extra curl arguments: the HTTP status ("000" when no answer, e.g.
// verification refused) and how long it took from start to exit.
struct HttpsAnswer {
  std::string status;
  std::chrono::milliseconds took{};
};
HttpsAnswer HttpsHealth(const std::string& log, uint16_t port, const std::string& ca,
                        const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-o", "/dev/null",
                                   "--max-time",    "3",   "-w", "HTTP=%{http_code}"};
  if (!ca.empty()) {
    argv.insert(argv.end(), {"--cacert", ca});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://127.0.0.1:" + std::to_string(port) + "/health");
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> out = RunCommand(argv, log, 10s);
  HttpsAnswer answer;
  answer.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  // On curl's failure the output is only in the log (the -w code is printed either way).
  const std::string text = out.ok() ? *out : ReadWholeFile(log);
  const size_t code = text.find("HTTP=");
  answer.status = code == std::string::npos ? "" : text.substr(code + 5, 3);
  return answer;
}

// A TCP connection to 127.0.0.1:port that says nothing; closed with the object.
class IdleConnection {
 public:
  explicit IdleConnection(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        fd_ >= 0 && connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~IdleConnection() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  IdleConnection(const IdleConnection&) = delete;
  IdleConnection& operator=(const IdleConnection&) = delete;
  bool connected() const { return connected_; }
  // Whether the peer closed the connection within `timeout` (recv returns 0 or an error).
  bool ClosedByPeerWithin(std::chrono::milliseconds timeout) const {
    pollfd entry{fd_, POLLIN, 0};
    if (poll(&entry, 1, static_cast<int>(timeout.count())) != 1) {
      return false;
    }
    char byte;
    return recv(fd_, &byte, 1, 0) <= 0;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The stack serves HTTPS through nginx (deploy/tls-proxy) with a certificate that verifies
// against the stack's own CA only, and refuses TLS below 1.2.
TEST_F(NativeStack, HttpsThroughTheTlsProxyVerifiesAgainstTheStacksCa) {
  const std::string ca = stack_dir_ + "/keys/https-ca.pem";
  const HttpsAnswer verified = HttpsHealth(dir_->File("https.log"), tls_port_, ca);
  EXPECT_EQ(verified.status, "200") << Log("tls-proxy");
  // Without the stack's CA the certificate is not trusted (curl refuses, no HTTP answer).
  EXPECT_EQ(HttpsHealth(dir_->File("https-no-ca.log"), tls_port_, "").status, "000");
  EXPECT_EQ(
      HttpsHealth(dir_->File("https-tls11.log"), tls_port_, ca, {"--tlsv1", "--tls-max", "1.1"})
          .status,
      "000");
  // The certificate's key is the owner's only; the status lists the proxy.
  struct stat st {};
  ASSERT_EQ(stat((stack_dir_ + "/keys/https-server-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string status =
      RunOk({"/bin/bash", kStackScript, "status"}, dir_->File("status-tls.log"), 30s, env_);
  EXPECT_NE(status.find("tls-proxy running"), std::string::npos) << status;
}

// Issue 15's bound: with 50 idle TCP connections open to the HTTPS port, /health over TLS still
// answers within 1 s (the gateway's own HTTPS does not answer at all with one). The proxy then
// drops a silent client after client_header_timeout (5 s).
TEST_F(NativeStack, FiftyIdleConnectionsToTheHttpsPortDoNotStallHealth) {
  const std::string ca = stack_dir_ + "/keys/https-ca.pem";
  ASSERT_EQ(HttpsHealth(dir_->File("https-before.log"), tls_port_, ca).status, "200");
  std::vector<std::unique_ptr<IdleConnection>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<IdleConnection>(tls_port_));
    ASSERT_TRUE(idle.back()->connected()) << "idle connection " << i;
  }
  const HttpsAnswer answer = HttpsHealth(dir_->File("https-idle.log"), tls_port_, ca);
  EXPECT_EQ(answer.status, "200") << Log("tls-proxy");
  EXPECT_LT(answer.took, 1s) << "took " << answer.took.count() << " ms";
  EXPECT_TRUE(idle.front()->ClosedByPeerWithin(10s)) << "a silent client is never dropped";
  idle.clear();
}

TEST_F(NativeStack, PrometheusScrapesTheGatewayAndEveryMember) {
  std::string last_targets;
  auto all_up = [&] {
    const HttpResult reply = Http("GET", prometheus_ + "/api/v1/targets");
    last_targets = reply.body;
    const json body = reply.Json();
    if (!body.is_object() || !body.contains("data")) {
      return false;
    }
    std::map<std::string, int> up_per_job;
    for (const json& target : body["data"]["activeTargets"]) {
      if (target.value("health", "") == "up") {
        ++up_per_job[target["labels"].value("job", "")];
      }
    }
    return up_per_job["etcd-monitor"] == 1 && up_per_job["etcd"] == 3;
  };
  ASSERT_TRUE(Eventually(all_up, 30s)) << "targets: " << last_targets;

  // The cluster's verdict, through Prometheus.
  EXPECT_TRUE(Eventually([] { return SingleValue("etcd_cluster_healthy") == "1"; }, 20s))
      << Query("etcd_cluster_healthy").dump() << "\ngateway: " << Log("gateway");
  EXPECT_EQ(SingleValue("etcd_cluster_has_leader"), "1");
  EXPECT_EQ(SingleValue("etcd_cluster_member_count"), "3");
  EXPECT_EQ(Query("up{job=\"etcd\"} == 1").size(), 3u);

  // The samples came over CURVE, as in the compose stack.
  for (const std::string name :
       {"aggregator", "collector-etcd1", "collector-etcd2", "collector-etcd3"}) {
    EXPECT_NE(ReadWholeFile(stack_dir_ + "/logs/" + name + ".log").find("curve=on"),
              std::string::npos)
        << name << ": " << Log(name);
  }
}

// Per-collector keys in the native stack: each collector runs with a pair of its own (not the
// aggregator's), the aggregator with an allow-list naming exactly those keys with their ids, and
// the samples still arrive: nothing is refused as unknown or foreign.
TEST_F(NativeStack, EachCollectorSendsWithItsOwnKeyOnTheAggregatorsAllowList) {
  const std::string aggregator_secret = ReadWholeFile(stack_dir_ + "/keys/curve.key");
  ASSERT_FALSE(aggregator_secret.empty());
  std::set<std::string> expected_lines;
  for (const std::string member : {"etcd1", "etcd2", "etcd3"}) {
    SCOPED_TRACE(member);
    const std::string dir = stack_dir_ + "/collector-" + member;
    const std::string own_public = ReadWholeFile(dir + "/keys/curve.pub");
    const std::string own_secret = ReadWholeFile(dir + "/keys/curve.key");
    ASSERT_FALSE(own_public.empty());
    ASSERT_FALSE(own_secret.empty());
    EXPECT_NE(own_secret, aggregator_secret);
    struct stat st {};
    ASSERT_EQ(stat((dir + "/keys/curve.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << "a collector's secret key is readable by others";
    const std::string key = own_public.substr(0, own_public.find('\n'));
    expected_lines.insert("collector-" + member + " " + key);
    // The collector logs which key it sends with.
    EXPECT_NE(
        ReadWholeFile(stack_dir_ + "/logs/collector-" + member + ".log").find("curve_key=" + key),
        std::string::npos)
        << Log("collector-" + member);
    // Nothing of the collector's holds the aggregator's secret key.
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file()) {
        EXPECT_EQ(ReadWholeFile(entry.path().string()).find(aggregator_secret.substr(0, 40)),
                  std::string::npos)
            << entry.path();
      }
    }
  }
  std::set<std::string> listed;
  std::istringstream list(ReadWholeFile(stack_dir_ + "/keys/collector-keys"));
  for (std::string line; std::getline(list, line);) {
    if (!line.empty()) {
      listed.insert(line);
    }
  }
  EXPECT_EQ(listed, expected_lines);
  const std::string aggregator_log = ReadWholeFile(stack_dir_ + "/logs/aggregator.log");
  EXPECT_NE(aggregator_log.find("collector_keys=" + stack_dir_ + "/keys/collector-keys"),
            std::string::npos)
      << Log("aggregator");
  EXPECT_EQ(aggregator_log.find("ingest_any_key_accepted"), std::string::npos);
  EXPECT_EQ(aggregator_log.find("ingest_unauthenticated"), std::string::npos);
  // Samples arrive, and the authenticated collectors are never refused.
  std::string page;
  EXPECT_TRUE(Eventually(
      [&] {
        page = Http("GET", api_ + "/metrics").body;
        return page.find("etcd_cluster_member_count{cluster=") != std::string::npos &&
               page.find("reason=\"unknown_key\"} 0") != std::string::npos;
      },
      30s))
      << page.substr(0, 2000);
  EXPECT_NE(page.find("reason=\"collector_not_allowed\"} 0"), std::string::npos);
  EXPECT_NE(page.find("etcd_cluster_member_count{cluster=\"default\"} 3"), std::string::npos)
      << page.substr(0, 2000);
}

TEST_F(NativeStack, EveryDashboardQueryReturnsData) {
  const json dashboard =
      json::parse(ReadWholeFile(kSourceDir + "/dashboards/etcd-monitor.json"), nullptr, false);
  ASSERT_TRUE(dashboard.is_object());
  int queries = 0;
  // Rates need two scrapes; on a healthy cluster every panel has data within seconds. One
  // deadline for all queries, so a stack without data fails in bounded time.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (const json& panel : dashboard.at("panels")) {
    for (const json& target : panel.value("targets", json::array())) {
      const std::string expr = ExpandDashboardVariables(target.value("expr", ""));
      ++queries;
      json result;
      const bool has_data = Eventually(
          [&] {
            result = Query(expr);
            return !result.is_discarded() && !result.empty();
          },
          Remaining(deadline));
      EXPECT_TRUE(has_data) << panel.value("title", "") << ": " << expr << " → "
                            << (result.is_discarded() ? "rejected" : "no data");
    }
  }
  EXPECT_GE(queries, 20);
}

TEST_F(NativeStack, EveryAlertRuleEvaluatesOnTheGatewaysMetrics) {
  const YAML::Node rules = YAML::LoadFile(kSourceDir + "/deploy/prometheus/alerts.yml");
  std::vector<std::string> expressions;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      expressions.push_back(rule["expr"].as<std::string>());
    }
  }
  ASSERT_GE(expressions.size(), 10u);

  // Prometheus accepts each expression, and every series it selects exists on a healthy
  // cluster (a rule on a metric the gateway does not serve would never fire).
  const std::regex selector(R"(([a-z_:][a-z0-9_:]*)\{job="etcd-monitor"[^}]*\})");
  int selectors = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (const std::string& expr : expressions) {
    EXPECT_FALSE(Query(expr).is_discarded()) << "Prometheus rejects: " << expr;
    for (std::sregex_iterator it(expr.begin(), expr.end(), selector), end; it != end; ++it) {
      ++selectors;
      const std::string series = it->str();
      EXPECT_TRUE(Eventually([&] { return !Query(series).empty(); }, Remaining(deadline)))
          << series << " has no data (used by: " << expr << ")";
    }
  }
  EXPECT_GE(selectors, static_cast<int>(expressions.size()));

  // Prometheus evaluated every rule without error, and nothing fires on a healthy cluster.
  json groups;
  auto all_evaluated = [&] {
    const json body = Http("GET", prometheus_ + "/api/v1/rules").Json();
    if (!body.is_object() || !body.contains("data")) {
      return false;
    }
    groups = body["data"]["groups"];
    size_t evaluated = 0;
    for (const json& group : groups) {
      for (const json& rule : group["rules"]) {
        if (rule.value("health", "") == "ok") {
          ++evaluated;
        }
      }
    }
    return evaluated == expressions.size();
  };
  ASSERT_TRUE(Eventually(all_evaluated, 20s)) << groups.dump(1);
  for (const json& group : groups) {
    for (const json& rule : group["rules"]) {
      EXPECT_NE(rule.value("state", ""), "firing") << rule.dump(1);
    }
  }
}

// The standalone gateway runs the quickstart's benchmark itself (it is given the members), with
// the benchmark token stack.sh writes (the API token is refused); the alerter shares the API
// token, so silences work through the gateway too.
TEST_F(NativeStack, TheGatewayRunsBenchmarksAndSilencesWithTheStacksToken) {
  const std::string token_file = stack_dir_ + "/keys/api-token";
  struct stat st {};
  ASSERT_EQ(stat(token_file.c_str(), &st), 0) << token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string token = ReadWholeFile(token_file);
  ASSERT_FALSE(token.empty());
  const std::string bearer = "Bearer " + token;
  const std::string benchmark_token_file = stack_dir_ + "/keys/benchmark-token";
  ASSERT_EQ(stat(benchmark_token_file.c_str(), &st), 0) << benchmark_token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string benchmark_token = ReadWholeFile(benchmark_token_file);
  ASSERT_FALSE(benchmark_token.empty());

  const std::string url = api_ + "/api/v1/performance/benchmark";
  const std::string body = R"({"type": "write", "ops": 10000})";
  EXPECT_EQ(Http("POST", url, body).status, 401);
  EXPECT_EQ(Http("POST", url, body, bearer).status, 403);
  const HttpResult started = Http("POST", url, body, "Bearer " + benchmark_token);
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string id = started.Json().value("id", "");
  json run;
  ASSERT_TRUE(WaitFor(
      [&] {
        run = Http("GET", url + "/" + id).Json();
        return run.is_object() && run.value("state", "") != "running";
      },
      240s))
      << run.dump();
  EXPECT_EQ(run.value("state", ""), "done") << run.dump();
  EXPECT_EQ(run["result"].value("ops", 0), 10000) << run.dump();
  EXPECT_TRUE(WaitFor([&] {
    return Http("GET", api_ + "/metrics").body.find("etcd_benchmark_ops_per_second{") !=
           std::string::npos;
  }));

  const HttpResult silence = Http("POST", api_ + "/api/v1/alerts/silences",
                                  R"({"duration": "10m", "comment": "deploy test"})", bearer);
  EXPECT_EQ(silence.status, 201) << silence.body;
}

// The stack's gRPC ports stay on 127.0.0.1 but want the token stack.sh writes (issue 15):
// another user of the host gets UNAUTHENTICATED from MonitorService and AlertService; the token
// file is the owner's only.
TEST_F(NativeStack, TheGrpcPortsWantTheStacksToken) {
  const std::string token_file = stack_dir_ + "/keys/grpc-token";
  struct stat st {};
  ASSERT_EQ(stat(token_file.c_str(), &st), 0) << token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string token = ReadWholeFile(token_file);
  ASSERT_FALSE(token.empty());
  auto port = [](const std::string& variable) {
    for (const std::string& entry : env_) {
      if (entry.rfind(variable + "=", 0) == 0) {
        return entry.substr(variable.size() + 1);
      }
    }
    return std::string();
  };
  auto call = [&](const std::string& address, bool with_token, bool monitor) {
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    if (with_token) {
      context.AddMetadata("authorization", "Bearer " + token);
    }
    etcdmonitor::v1::ServiceHealth health;
    if (monitor) {
      return etcdmonitor::v1::MonitorService::NewStub(channel)
          ->GetHealth(&context, etcdmonitor::v1::GetSnapshotRequest(), &health)
          .error_code();
    }
    return etcdmonitor::v1::AlertService::NewStub(channel)
        ->GetHealth(&context, etcdmonitor::v1::ListAlertsRequest(), &health)
        .error_code();
  };
  for (const auto& [variable, monitor] :
       std::map<std::string, bool>{{"AGGREGATOR_GRPC_PORT", true}, {"ALERTER_GRPC_PORT", false}}) {
    SCOPED_TRACE(variable);
    const std::string address = "127.0.0.1:" + port(variable);
    EXPECT_EQ(call(address, false, monitor), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(call(address, true, monitor), grpc::StatusCode::OK);
  }
}

TEST_F(NativeStack, AStoppedMemberShowsThroughPrometheusAndStopLeavesNothingBehind) {
  ASSERT_TRUE(
      Eventually([] { return SingleValue("etcd_member_up{member=\"etcd3\"}") == "1"; }, 20s));
  RunOk({"/bin/bash", kStackScript, "stop", "etcd3"}, dir_->File("stop-etcd3.log"), 60s, env_);

  // The collector of etcd3 reports it unreachable, the gateway serves that, Prometheus scrapes it;
  // Prometheus also sees the member's own /metrics go down, and the warning rule goes pending.
  EXPECT_TRUE(
      Eventually([] { return SingleValue("etcd_member_up{member=\"etcd3\"}") == "0"; }, 30s))
      << Query("etcd_member_up").dump() << "\ncollector: " << Log("collector-etcd3");
  EXPECT_TRUE(
      Eventually([] { return SingleValue("up{job=\"etcd\", member=\"etcd3\"}") == "0"; }, 30s));
  EXPECT_TRUE(Eventually(
      [] {
        const json alerts = Http("GET", prometheus_ + "/api/v1/alerts").Json();
        if (!alerts.is_object() || !alerts.contains("data")) {
          return false;
        }
        for (const json& alert : alerts["data"]["alerts"]) {
          if (alert["labels"].value("alertname", "") == "EtcdMemberUnavailable" &&
              alert["labels"].value("member", "") == "etcd3") {
            return true;
          }
        }
        return false;
      },
      30s))
      << "EtcdMemberUnavailable for etcd3 is not pending";
  // Two of three members keep a leader.
  EXPECT_TRUE(Eventually([] { return SingleValue("etcd_cluster_has_leader") == "1"; }, 30s));

  // `stop` ends every process the stack started.
  std::vector<std::pair<std::string, int>> pids;
  for (const auto& entry : std::filesystem::directory_iterator(stack_dir_ + "/pids")) {
    pids.push_back({entry.path().stem().string(), std::stoi(ReadWholeFile(entry.path()))});
  }
  EXPECT_EQ(pids.size(), 10u) << "every process but the stopped etcd3 has a pid file";
  RunOk({"/bin/bash", kStackScript, "stop"}, dir_->File("stop.log"), 60s, env_);
  for (const auto& [name, pid] : pids) {
    // Not our children: an exited one may linger as a zombie until init reaps it.
    const std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
    const size_t state = stat.rfind(')');
    EXPECT_TRUE(stat.empty() || (state != std::string::npos && stat[state + 2] == 'Z'))
        << name << " (pid " << pid << ") still runs";
  }
  const std::string status =
      RunOk({"/bin/bash", kStackScript, "status"}, dir_->File("status.log"), 30s, env_);
  EXPECT_EQ(status.find("running"), std::string::npos) << status;
}

}  // namespace
}  // namespace etcdmon::deploy
