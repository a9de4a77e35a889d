// The all-in-one's clusters: --cluster values (ParseClusterFlag, ParseEndpointList) and the
// clusters file (ParseClustersText, LoadClustersFile), with every rule they refuse.

#include "cluster_specs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "etcdmon/testing/scoped_env.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::cli {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kPassword[] = "s3cret-Pa55-4417";

class ClusterSpecsTest : public ::testing::Test {
 protected:
  ClusterSpecsTest() {
    // What the quickstart's flags would give: TLS and a user, a dial timeout, thresholds.
    defaults_.etcd.dial_timeout = 3s;
    defaults_.etcd.tls.ca_file = "/flags/ca.pem";
    defaults_.etcd.username = "flag-user";
    defaults_.etcd.password = config::Secret("flag-password");
    defaults_.thresholds.max_latency = 250ms;
    defaults_.thresholds.max_leader_changes = 7;
  }

  // Writes `content` to `name` in the test's directory (mode 0600) and returns its path.
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_.File(name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << content;
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return path;
  }

  Result<std::vector<ClusterSpec>> Parse(const std::string& yaml) {
    return ParseClustersText(yaml, "clusters.yaml", dir_.path(), defaults_);
  }

  testing::TempDir dir_;
  testing::ScopedEnv env_{"ETCDMON_TEST_CLUSTER_PASSWORD"};
  ClusterDefaults defaults_;
};

// The documented example: every key lands in its field, relative paths are resolved against the
// file's directory, and a cluster without tls/auth/thresholds inherits the flags'.
TEST_F(ClusterSpecsTest, LoadsTheDocumentedExample) {
  Write("conf/ca.pem", "ca");
  Write("conf/client.pem", "cert");
  Write("conf/client-key.pem", "key");
  Write("conf/secrets/etcd-pass", std::string(kPassword) + "\n");
  const std::string path = Write("conf/clusters.yaml", R"(
clusters:
  - name: prod
    endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]
    tls: {ca_file: ca.pem, cert_file: client.pem, key_file: ./client-key.pem,
          insecure_skip_tls: false}
    auth: {username: monitor, password_file: secrets/etcd-pass}
    thresholds: {max_latency_ms: 100, max_db_size_mb: 4096, min_available_nodes: 2,
                 max_leader_changes: 3}
  - name: staging
    endpoints:
      - 10.1.0.1:2379
)");
  Result<std::vector<ClusterSpec>> loaded = LoadClustersFile(path, defaults_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_THAT(*loaded, SizeIs(2));

  const ClusterSpec& prod = (*loaded)[0];
  EXPECT_EQ(prod.name, "prod");
  ASSERT_THAT(prod.etcd.endpoints, SizeIs(2));
  EXPECT_EQ(prod.etcd.endpoints[1].Url(""), "https://10.0.0.2:2379");
  const std::string conf = dir_.File("conf");
  EXPECT_EQ(prod.etcd.tls.ca_file, conf + "/ca.pem");
  EXPECT_EQ(prod.etcd.tls.cert_file, conf + "/client.pem");
  EXPECT_EQ(prod.etcd.tls.key_file, conf + "/client-key.pem");
  EXPECT_FALSE(prod.etcd.tls.insecure_skip_verify);
  EXPECT_EQ(prod.etcd.username, "monitor");
  EXPECT_EQ(prod.etcd.password.Reveal(), kPassword);
  EXPECT_EQ(prod.etcd.dial_timeout, 3s) << "timeouts always come from the flags";
  EXPECT_TRUE(prod.thresholds_given);
  EXPECT_EQ(prod.thresholds.max_latency, 100ms);
  EXPECT_EQ(prod.thresholds.max_db_size_bytes, 4096ULL * 1024 * 1024);
  EXPECT_EQ(prod.thresholds.min_available_nodes, 2u);
  EXPECT_EQ(prod.thresholds.max_leader_changes, 3u);
  EXPECT_EQ(prod.source, path + ":3");

  const ClusterSpec& staging = (*loaded)[1];
  EXPECT_EQ(staging.name, "staging");
  ASSERT_THAT(staging.etcd.endpoints, SizeIs(1));
  EXPECT_EQ(staging.etcd.endpoints[0].Authority(), "10.1.0.1:2379");
  EXPECT_EQ(staging.etcd.tls.ca_file, "/flags/ca.pem");
  EXPECT_EQ(staging.etcd.username, "flag-user");
  EXPECT_EQ(staging.etcd.password.Reveal(), "flag-password");
  EXPECT_FALSE(staging.thresholds_given);
  EXPECT_EQ(staging.thresholds.max_latency, 250ms);
  EXPECT_EQ(staging.thresholds.max_leader_changes, 7u);
}

// Given, tls and auth replace the flags' settings as a whole; thresholds replace key by key.
TEST_F(ClusterSpecsTest, TlsAndAuthReplaceTheFlagsThresholdsMerge) {
  env_.Set("ETCDMON_TEST_CLUSTER_PASSWORD", kPassword);
  Result<std::vector<ClusterSpec>> parsed = Parse(R"(
clusters:
  - name: a
    endpoints: [a:1]
    tls: {insecure_skip_tls: true}
    auth: {}
    thresholds: {max_latency_ms: 5}
  - name: b
    endpoints: [b:1]
    tls:
    auth: {username: reader, password_env: ETCDMON_TEST_CLUSTER_PASSWORD}
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_THAT(*parsed, SizeIs(2));
  const ClusterSpec& a = (*parsed)[0];
  EXPECT_EQ(a.etcd.tls.ca_file, "");
  EXPECT_TRUE(a.etcd.tls.insecure_skip_verify);
  EXPECT_EQ(a.etcd.username, "");
  EXPECT_TRUE(a.etcd.password.empty());
  EXPECT_EQ(a.thresholds.max_latency, 5ms);
  EXPECT_EQ(a.thresholds.max_leader_changes, 7u) << "not given: the flag's";
  const ClusterSpec& b = (*parsed)[1];
  EXPECT_FALSE(b.etcd.tls.Configured());
  EXPECT_EQ(b.etcd.username, "reader");
  EXPECT_EQ(b.etcd.password.Reveal(), kPassword);
}

struct ErrorCase {
  std::string yaml;
  std::string line;  // the one expected error line starts with this ("clusters.yaml:N: ...")
};

// Every rule of the file, one error line each, naming the file and line, never a password.
TEST_F(ClusterSpecsTest, EachProblemIsOneLineWithItsLineNumber) {
  const std::string ca = Write("ca.pem", "ca");
  const std::string cert = Write("cert.pem", "cert");
  const std::string key = Write("key.pem", "key");
  const std::string open_key = Write("open-key.pem", "key");
  std::filesystem::permissions(open_key, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  const std::string password = Write("pass", kPassword);
  const std::string empty_password = Write("empty-pass", "");
  std::string many_endpoints = "clusters:\n  - name: a\n    endpoints: [";
  for (int i = 0; i < 65; ++i) {
    many_endpoints += (i ? ", " : "") + std::string("h") + std::to_string(i) + ":2379";
  }
  many_endpoints += "]\n";
  std::string many_clusters = "clusters:\n";
  for (int i = 0; i < 101; ++i) {
    many_clusters += "  - {name: c" + std::to_string(i) + ", endpoints: [h:1]}\n";
  }
  const ErrorCase cases[] = {
      // The document.
      {"clusters: [\n", "clusters.yaml:2: "},
      {"clusters:\n  - name: a\n   endpoints: [a:1]\n", "clusters.yaml:3: "},
      {"- a\n", "clusters.yaml:1: want a mapping with \"clusters\""},
      {"", "clusters.yaml:1: want a mapping with \"clusters\""},
      {"cluster:\n  - {name: a, endpoints: [a:1]}\n",
       "clusters.yaml:1: unknown key \"cluster\" (known: clusters)"},
      {"{}\n", "clusters.yaml:1: \"clusters\" is missing"},
      {"clusters: []\n", "clusters.yaml:1: clusters: want a list of at least one cluster"},
      {"clusters: {a: 1}\n", "clusters.yaml:1: clusters: want a list of at least one cluster"},
      {many_clusters, "clusters.yaml:2: clusters: more than 100 clusters"},
      // A cluster.
      {"clusters:\n  - a\n", "clusters.yaml:2: clusters: each cluster is a mapping"},
      {"clusters:\n  - {name: a, endpoints: [a:1], port: 1}\n",
       "clusters.yaml:2: unknown key \"port\" (known: name, endpoints, tls, auth, thresholds)"},
      {"clusters:\n  - {name: a, name: b, endpoints: [a:1]}\n", "clusters.yaml:2: "},
      {"clusters:\n  - endpoints: [a:1]\n", "clusters.yaml:2: a cluster needs a name"},
      {"clusters:\n  - name: a\n", "clusters.yaml:2: cluster \"a\" needs endpoints"},
      {"clusters:\n  - {name: a b, endpoints: [a:1]}\n",
       "clusters.yaml:2: invalid cluster name \"a b\": use only letters"},
      {"clusters:\n  - {name: -a, endpoints: [a:1]}\n",
       "clusters.yaml:2: invalid cluster name \"-a\": it must start with a letter or a digit"},
      {"clusters:\n  - {name: " + std::string(64, 'n') + ", endpoints: [a:1]}\n",
       "clusters.yaml:2: invalid cluster name"},
      {"clusters:\n  - {name: [a], endpoints: [a:1]}\n",
       "clusters.yaml:2: name: want a cluster name"},
      {"clusters:\n  - {name: a, endpoints: [a:1]}\n  - {name: a, endpoints: [b:1]}\n",
       "clusters.yaml:3: duplicate cluster name \"a\" (first at clusters.yaml:2)"},
      // Endpoints.
      {"clusters:\n  - {name: a, endpoints: []}\n",
       "clusters.yaml:2: endpoints: want a list of at least one endpoint"},
      {"clusters:\n  - {name: a, endpoints: a:1}\n",
       "clusters.yaml:2: endpoints: want a list of at least one endpoint"},
      {"clusters:\n  - name: a\n    endpoints:\n      - a:1\n      - nohost\n",
       "clusters.yaml:5: endpoint \"nohost\": missing port"},
      {"clusters:\n  - {name: a, endpoints: [\"ftp://a:1\"]}\n",
       "clusters.yaml:2: endpoint \"ftp://a:1\": "},
      {"clusters:\n  - {name: a, endpoints: [a:1, a:1]}\n",
       "clusters.yaml:2: endpoint \"a:1\": listed twice"},
      {many_endpoints, "clusters.yaml:3: endpoints: more than 64 endpoints"},
      // TLS.
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {ca: x}}\n",
       "clusters.yaml:2: tls: unknown key \"ca\" (known: ca_file, cert_file, key_file, "
       "insecure_skip_tls)"},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: [x]}\n", "clusters.yaml:2: tls: want"},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {ca_file: missing.pem}}\n",
       "clusters.yaml:2: tls.ca_file \"" + dir_.File("missing.pem") + "\": no such file"},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {ca_file: " + dir_.path() + "}}\n",
       "clusters.yaml:2: tls.ca_file \"" + dir_.path() + "\": not a regular file"},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {cert_file: cert.pem}}\n",
       "clusters.yaml:2: tls.cert_file: a client certificate needs its key_file"},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {key_file: key.pem}}\n",
       "clusters.yaml:2: tls.key_file: a client key needs its cert_file"},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {cert_file: cert.pem, key_file: "
       "open-key.pem}}\n",
       "clusters.yaml:2: tls.key_file: "},
      {"clusters:\n  - {name: a, endpoints: [a:1], tls: {insecure_skip_tls: maybe}}\n",
       "clusters.yaml:2: tls.insecure_skip_tls: "},
      // Auth.
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: u}}\n",
       "clusters.yaml:2: auth: user \"u\" needs exactly one of password_file and password_env"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: u, password_file: pass, "
       "password_env: X}}\n",
       "clusters.yaml:2: auth: user \"u\" needs exactly one of password_file and password_env"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {password_file: pass}}\n",
       "clusters.yaml:2: auth: a password needs a username"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: \"u:pw\", password_file: "
       "pass}}\n",
       "clusters.yaml:2: auth.username: a name without ':'"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: u, password_file: pass, "
       "password: x}}\n",
       "clusters.yaml:2: auth: unknown key \"password\" (known: username, password_file, "
       "password_env)"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: u, password_file: nope}}\n",
       "clusters.yaml:2: auth.password_file \"" + dir_.File("nope") + "\": no such file"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: u, password_file: "
       "empty-pass}}\n",
       "clusters.yaml:2: auth.password_file \"" + empty_password + "\": file is empty"},
      {"clusters:\n  - {name: a, endpoints: [a:1], auth: {username: u, password_env: "
       "ETCDMON_TEST_CLUSTER_PASSWORD}}\n",
       "clusters.yaml:2: auth.password_env: environment variable "
       "\"ETCDMON_TEST_CLUSTER_PASSWORD\" is not set"},
      // Thresholds.
      {"clusters:\n  - {name: a, endpoints: [a:1], thresholds: {max_latency_ms: 0}}\n",
       "clusters.yaml:2: thresholds.max_latency_ms: 0 out of range 1..3600000"},
      {"clusters:\n  - {name: a, endpoints: [a:1], thresholds: {max_db_size_mb: 1048577}}\n",
       "clusters.yaml:2: thresholds.max_db_size_mb: 1048577 out of range 1..1048576"},
      {"clusters:\n  - {name: a, endpoints: [a:1], thresholds: {min_available_nodes: 2.5}}\n",
       "clusters.yaml:2: thresholds.min_available_nodes: want an integer in 1..1000"},
      {"clusters:\n  - {name: a, endpoints: [a:1], thresholds: {max_leader_changes: -1}}\n",
       "clusters.yaml:2: thresholds.max_leader_changes: -1 out of range 0..1000000"},
      {"clusters:\n  - {name: a, endpoints: [a:1], thresholds: {max_latency: 5}}\n",
       "clusters.yaml:2: thresholds: unknown key \"max_latency\""},
      {"clusters:\n  - {name: a, endpoints: [a:1], thresholds: 5}\n",
       "clusters.yaml:2: thresholds: want a mapping"},
  };
  for (const ErrorCase& c : cases) {
    Result<std::vector<ClusterSpec>> parsed = Parse(c.yaml);
    ASSERT_FALSE(parsed.ok()) << c.line;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.line;
    const std::string message = parsed.status().message();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    EXPECT_EQ(message.rfind(c.line, 0), 0u) << "want: " << c.line << "\n got: " << message;
    EXPECT_THAT(message, Not(HasSubstr(kPassword)));
  }
}

// Every problem of a file is reported at once, one line each.
TEST_F(ClusterSpecsTest, ReportsEveryProblemAtOnce) {
  Result<std::vector<ClusterSpec>> parsed = Parse(R"(clusters:
  - {name: a b, endpoints: [a:1]}
  - {name: c, endpoints: [nohost]}
  - {name: d, endpoints: [d:1], extra: 1}
)");
  ASSERT_FALSE(parsed.ok());
  const std::string message = parsed.status().message();
  EXPECT_THAT(message, HasSubstr("clusters.yaml:2: invalid cluster name"));
  EXPECT_THAT(message, HasSubstr("clusters.yaml:3: endpoint \"nohost\": missing port"));
  EXPECT_THAT(message, HasSubstr("clusters.yaml:4: unknown key \"extra\""));
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

// LoadClustersFile refuses what it cannot read, a directory and a file over the size bound,
// naming the path, before parsing anything.
TEST_F(ClusterSpecsTest, LoadRefusesMissingDirectoryAndLargeFiles) {
  const std::string missing = dir_.File("missing.yaml");
  Result<std::vector<ClusterSpec>> result = LoadClustersFile(missing, defaults_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().rfind(missing + ": ", 0), 0u) << result.status().message();

  result = LoadClustersFile(dir_.path(), defaults_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), dir_.path() + ": not a regular file");

  const std::string large =
      Write("large.yaml", "# " + std::string(kMaxClustersFileBytes, 'x') + "\n");
  result = LoadClustersFile(large, defaults_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            large + ": larger than " + std::to_string(kMaxClustersFileBytes) + " bytes");

  result = ParseClustersText(std::string(kMaxClustersFileBytes + 1, ' '), "text", "/", defaults_);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("larger than"));
}

// A --cluster value: NAME=ENDPOINT[,ENDPOINT...], with the flags' connection and thresholds.
TEST_F(ClusterSpecsTest, ClusterFlagValue) {
  Result<ClusterSpec> spec =
      ParseClusterFlag("prod=10.0.0.1:2379, https://10.0.0.2:2379", defaults_);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "prod");
  ASSERT_THAT(spec->etcd.endpoints, SizeIs(2));
  EXPECT_EQ(spec->etcd.endpoints[1].Url(""), "https://10.0.0.2:2379");
  EXPECT_EQ(spec->etcd.tls.ca_file, "/flags/ca.pem");
  EXPECT_EQ(spec->etcd.username, "flag-user");
  EXPECT_EQ(spec->thresholds.max_latency, 250ms);
  EXPECT_FALSE(spec->thresholds_given);
  EXPECT_EQ(spec->source, "--cluster \"prod=10.0.0.1:2379, https://10.0.0.2:2379\"");

  std::string many = "big=";
  for (int i = 0; i < 65; ++i) {
    many += (i ? "," : "") + std::string("h") + std::to_string(i) + ":1";
  }
  const std::pair<std::string, std::string> bad[] = {
      {"prod", "want NAME=ENDPOINT[,ENDPOINT...]"},
      {"=a:1", "want NAME=ENDPOINT[,ENDPOINT...]"},
      {"a b=a:1", "invalid cluster name \"a b\": use only letters"},
      {"prod=", "at least one endpoint is required"},
      {"prod=a:1,,b:1", "empty item in the list"},
      {"prod=a:1,", "empty item in the list"},
      {"prod=nohost", "endpoint \"nohost\": missing port"},
      {"prod=a:1,a:1", "endpoint \"a:1\": listed twice"},
      {many, "more than 64 endpoints"},
  };
  for (const auto& [value, reason] : bad) {
    Result<ClusterSpec> parsed = ParseClusterFlag(value, defaults_);
    ASSERT_FALSE(parsed.ok()) << value;
    EXPECT_EQ(parsed.status().message().rfind(reason, 0), 0u)
        << value << ": " << parsed.status().message();
  }
}

}  // namespace
}  // namespace etcdmon::cli
