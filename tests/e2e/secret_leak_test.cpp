// No secret leaks out of the running product. The whole native stack (deploy/local/stack.sh)
// starts with a known, unique secret in every secret input, each given through a file: etcd's
// root password (auth on), the webhook URL's token, its bearer token and HMAC key, the Slack URL's
// token, the SMTP password and the PagerDuty routing key; and the secrets the stack makes itself
// (API, benchmark and gRPC tokens, CURVE secret keys) are read from its files. The stack then
// works: samples flow, a benchmark runs, an alert fires through the webhook, Slack, PagerDuty and
// SMTP receivers (which see their secrets, proving the secrets were in use), a silence is
// created. Then every log file, /metrics, every GET endpoint of the REST API, both SQLite files
// (raw bytes, with their -wal and -shm, while running and after) and the command line
// (/proc/PID/cmdline) of every process of the stack are searched for each secret: no hit. On the
// way, the modes of what the product created are checked (directories 0700, databases, sequence
// and key files 0600).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/local_stack.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/smtp_sink.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/testing/test_certs.h"

namespace etcdmon::deploy {
namespace {

using etcdmon::testing::CannedResponse;
using etcdmon::testing::Http;
using etcdmon::testing::HttpResult;
using etcdmon::testing::HttpServer;
using etcdmon::testing::ReadWholeFile;
using etcdmon::testing::SmtpSink;
using etcdmon::testing::SmtpSinkOptions;
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kSourceDir = ETCDMON_SOURCE_DIR;
const std::string kBuildDir = ETCDMON_BUILD_DIR;

// A secret no file of the product could hold by chance.
std::string UniqueSecret(const std::string& what) {
  static std::random_device device;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret = "leak" + what;
  for (int i = 0; i < 24; ++i) {
    secret += kHex[device() % 16];
  }
  return secret;
}

// Writes `content` to a new file readable by this user only (as an operator should).
std::string WritePrivateFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content << "\n";
  EXPECT_EQ(chmod(path.c_str(), 0600), 0) << path;
  return path;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class SecretLeakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = testing::GenerateTestCertificates(dir_.File("certs"));
    ASSERT_TRUE(certs.ok()) << certs.status().ToString();

    secrets_ = {{"etcd password", UniqueSecret("etcdpw")},
                {"webhook token", UniqueSecret("webhook")},
                {"webhook bearer token", UniqueSecret("bearer")},
                {"webhook HMAC secret", UniqueSecret("hmac")},
                {"Slack URL token", UniqueSecret("slack")},
                {"SMTP password", UniqueSecret("smtppw")},
                {"PagerDuty routing key", UniqueSecret("pdkey")}};

    // The receivers: a webhook whose URL path holds a token (with a bearer token and an HMAC
    // key too), a Slack webhook (its URL holds a token), PagerDuty's events endpoint, and a mail
    // server that offers STARTTLS and wants AUTH.
    CannedResponse accepted;
    accepted.status = 202;
    accepted.content_type = "application/json";
    accepted.body = "{}";
    webhook_path_ = "/hook/" + secrets_["webhook token"];
    receivers_.Set(webhook_path_, accepted);
    receivers_.Set("/v2/enqueue", accepted);
    slack_path_ = "/services/" + secrets_["Slack URL token"];
    receivers_.Set(slack_path_, accepted);
    ASSERT_TRUE(receivers_.Start().ok());
    SmtpSinkOptions smtp_options;
    smtp_options.username = "alerts";
    smtp_options.password = secrets_["SMTP password"];
    smtp_options.tls_cert_file = certs->server_cert;
    smtp_options.tls_key_file = certs->server_key;
    smtp_ = std::make_unique<SmtpSink>(smtp_options);
    ASSERT_TRUE(smtp_->Start().ok());

    const std::string secrets_dir = dir_.File("secrets");
    std::filesystem::create_directories(secrets_dir);
    const std::string rules = dir_.File("rules.yaml");
    // A stopped member alerts at once (the default waits a minute), to every channel.
    std::ofstream(rules) << "rules:\n  MemberUnavailable: {for: 0s}\n";
    const std::string alerter_args =
        "--rules-file=" + rules + " --webhook-url-file=" +
        WritePrivateFile(secrets_dir + "/webhook-url", receivers_.Url(webhook_path_)) +
        " --webhook-token-file=" +
        WritePrivateFile(secrets_dir + "/webhook-token", secrets_["webhook bearer token"]) +
        " --webhook-hmac-secret-file=" +
        WritePrivateFile(secrets_dir + "/webhook-hmac", secrets_["webhook HMAC secret"]) +
        " --slack-webhook-url-file=" +
        WritePrivateFile(secrets_dir + "/slack-url", receivers_.Url(slack_path_)) +
        " --pagerduty-routing-key-file=" +
        WritePrivateFile(secrets_dir + "/pagerduty-key", secrets_["PagerDuty routing key"]) +
        " --pagerduty-url=" + receivers_.Url("/v2/enqueue") + " --smtp-url=" + smtp_->Url() +
        " --smtp-from=etcd-monitor@example.com --smtp-to=oncall@example.com --smtp-user=alerts" +
        " --smtp-password-file=" +
        WritePrivateFile(secrets_dir + "/smtp-password", secrets_["SMTP password"]) +
        " --smtp-ca-file=" + certs->ca_cert;
    const std::string etcd_password =
        WritePrivateFile(secrets_dir + "/etcd-password", secrets_["etcd password"]);
    testing::LocalStackOptions options;
    options.source_dir = kSourceDir;
    options.build_dir = kBuildDir;
    options.work_dir = dir_.path();
    options.start_timeout = 180s;
    options.extra_env = {"METRICS_INTERVAL=1s",
                         "HEALTH_CHECK_INTERVAL=2s",
                         "SCRAPE_INTERVAL=1s",
                         "START_TIMEOUT=90",
                         "ETCD_ROOT_PASSWORD_FILE=" + etcd_password,
                         "ALERTER_ARGS=" + alerter_args};
    Result<testing::LocalStack> started = testing::LocalStack::Start(options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    stack_ = std::make_unique<testing::LocalStack>(std::move(started).value());
    stack_dir_ = stack_->dir();
    api_ = stack_->ApiUrl();
    etcd_ = "http://127.0.0.1:" + std::to_string(stack_->ports().etcd_client[0]);
    // The stack's own secrets, known once read: the tokens it made (API token, and any other
    // token file in keys/) and every CURVE secret key (the aggregator's, each collector's).
    for (const auto& entry : std::filesystem::recursive_directory_iterator(stack_dir_)) {
      const std::string name = entry.path().filename().string();
      const std::string relative = entry.path().string().substr(stack_dir_.size() + 1);
      if (entry.is_regular_file() && relative.find("keys/") != std::string::npos &&
          (name.find("token") != std::string::npos || name == "curve.key")) {
        std::string secret = ReadWholeFile(entry.path().string());
        while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
          secret.pop_back();
        }
        ASSERT_GE(secret.size(), 16u) << relative;
        secrets_[relative] = secret;
        if (name.find("benchmark") != std::string::npos) {
          secrets_["benchmark token"] = secret;
        }
      }
    }
    ASSERT_TRUE(secrets_.count("keys/api-token")) << "stack.sh made no API token";
    ASSERT_TRUE(secrets_.count("keys/curve.key")) << "stack.sh made no aggregator key";
  }

  void TearDown() override {
    stack_.reset();  // stops whatever still runs
    receivers_.Stop();
    if (smtp_) {
      smtp_->Stop();
    }
  }

  // Adds one EXPECT failure per secret found in `text`, naming where.
  void ExpectNoSecretIn(const std::string& where, const std::string& text) {
    ++places_searched_;
    for (const auto& [name, secret] : secrets_) {
      EXPECT_EQ(text.find(secret), std::string::npos) << "the " << name << " is in " << where;
    }
  }

  TempDir dir_;
  HttpServer receivers_;
  std::unique_ptr<SmtpSink> smtp_;
  std::string webhook_path_;
  std::string slack_path_;
  std::map<std::string, std::string> secrets_;  // what → the secret
  std::unique_ptr<testing::LocalStack> stack_;
  std::string stack_dir_;
  std::string api_;
  std::string etcd_;  // the first member's client URL
  int places_searched_ = 0;
};

TEST_F(SecretLeakTest, NoSecretInLogsMetricsApiDatabasesOrCommandLines) {
  const std::string bearer = "Bearer " + secrets_["keys/api-token"];

  // etcd's auth is on: a request without a login is refused, so the collectors' samples (the
  // stack started only once all three members were fresh) and the benchmark below logged in.
  const HttpResult anonymous = Http("POST", etcd_ + "/v3/kv/range", R"({"key": "Zm9v"})");
  EXPECT_NE(anonymous.body.find("user name is empty"), std::string::npos)
      << anonymous.status << " " << anonymous.body;

  // Work: a benchmark over REST (etcd writes with the root login), a member stopped so that an
  // alert fires to every channel, then a silence.
  const HttpResult benchmark =
      Http("POST", api_ + "/api/v1/performance/benchmark", R"({"type": "write", "ops": 200})",
           "Bearer " + secrets_["benchmark token"]);
  ASSERT_EQ(benchmark.status, 202) << benchmark.body;
  const std::string benchmark_id = benchmark.Json().value("id", "");
  json run;
  ASSERT_TRUE(WaitFor(
      [&] {
        run = Http("GET", api_ + "/api/v1/performance/benchmark/" + benchmark_id).Json();
        return run.is_object() && run.value("state", "") != "running";
      },
      120s))
      << run.dump();
  EXPECT_EQ(run.value("state", ""), "done") << run.dump();

  auto stopped = stack_->Run({"stop", "etcd3"}, dir_.File("stop-etcd3.log"));
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  auto webhook_called = [&] {
    for (const auto& r : receivers_.requests()) {
      if (r.path == webhook_path_ &&
          r.Header("Authorization") == "Bearer " + secrets_["webhook bearer token"] &&
          !r.Header("X-Etcd-Monitor-Signature").empty()) {
        return true;
      }
    }
    return false;
  };
  auto slack_called = [&] {
    for (const auto& r : receivers_.requests()) {
      if (r.path == slack_path_) {
        return true;
      }
    }
    return false;
  };
  auto pagerduty_called = [&] {
    for (const auto& r : receivers_.requests()) {
      if (r.path == "/v2/enqueue" &&
          r.body.find(secrets_["PagerDuty routing key"]) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(
      WaitFor([&] { return webhook_called() && slack_called() && pagerduty_called(); }, 90s))
      << "the alert did not reach the webhook (with its tokens), Slack and PagerDuty (with its "
         "key); "
         "alerter log:\n"
      << testing::TailOfFile(stack_dir_ + "/logs/alerter.log", 30);
  ASSERT_TRUE(smtp_->WaitForMessages(1, 90s)) << "no alert mail";
  EXPECT_TRUE(smtp_->messages()[0].tls);
  EXPECT_EQ(smtp_->messages()[0].auth_user, "alerts");

  const HttpResult silence = Http("POST", api_ + "/api/v1/alerts/silences",
                                  R"({"duration": "10m", "comment": "leak test"})", bearer);
  EXPECT_EQ(silence.status, 201) << silence.body;

  // REST: every GET endpoint, without and with the token.
  std::vector<std::string> paths = {"/",
                                    "/health",
                                    "/metrics",
                                    "/api/v1/cluster/status",
                                    "/api/v1/cluster/members",
                                    "/api/v1/cluster/members/etcd1",
                                    "/api/v1/cluster/leader",
                                    "/api/v1/metrics/current",
                                    "/api/v1/metrics/history",
                                    "/api/v1/metrics/history?metric=db_size_bytes",
                                    "/api/v1/metrics/latency",
                                    "/api/v1/alerts",
                                    "/api/v1/alerts/history",
                                    "/api/v1/alerts/silences",
                                    "/api/v1/performance/benchmark/" + benchmark_id};
  for (const std::string& path : paths) {
    for (const std::string& authorization :
         {std::string(), bearer, "Bearer " + secrets_["benchmark token"]}) {
      const HttpResult reply = Http("GET", api_ + path, "", authorization);
      EXPECT_NE(reply.status, 0) << path;
      ExpectNoSecretIn("GET " + path + (authorization.empty() ? "" : " (with the token)"),
                       reply.headers + reply.body);
    }
  }

  // The command lines of the stack's processes, while they run.
  int processes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(stack_dir_ + "/pids")) {
    const std::string pid = ReadWholeFile(entry.path().string());
    const std::string cmdline =
        ReadWholeFile("/proc/" + pid.substr(0, pid.find('\n')) + "/cmdline");
    if (!cmdline.empty()) {
      ++processes;
      ExpectNoSecretIn("the command line of " + entry.path().stem().string(), cmdline);
    }
  }
  EXPECT_GE(processes, 8) << "aggregator, 2 collectors, alerter, gateway, etcd1-2, prometheus";

  // Files the product wrote: private, and without secrets. Stop first, so that the logs are
  // complete and the databases' -wal files are as the processes left them.
  EXPECT_EQ(ModeOf(stack_dir_ + "/aggregator"), 0700u);
  EXPECT_EQ(ModeOf(stack_dir_ + "/alerter"), 0700u);
  EXPECT_EQ(ModeOf(stack_dir_ + "/keys/curve.key"), 0600u);
  EXPECT_EQ(ModeOf(stack_dir_ + "/collector-etcd1/collector.seq"), 0600u);
  std::vector<std::string> databases;
  for (const std::string& db :
       {stack_dir_ + "/aggregator/history.db", stack_dir_ + "/alerter/alerts.db"}) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (std::filesystem::exists(db + suffix)) {
        EXPECT_EQ(ModeOf(db + suffix), 0600u) << db + suffix;
        databases.push_back(db + suffix);
      }
    }
  }
  const std::vector<std::string> wal_copies = [&] {
    // Copies of the databases while the processes hold them open: the -wal is deleted at a
    // clean close, and what matters is what was on disk while they ran.
    std::vector<std::string> copies;
    for (const std::string& file : databases) {
      copies.push_back(ReadWholeFile(file));
    }
    return copies;
  }();
  const Status stopped_all = stack_->Stop();
  ASSERT_TRUE(stopped_all.ok()) << stopped_all.ToString();
  ASSERT_EQ(databases.size(), wal_copies.size());
  for (size_t i = 0; i < databases.size(); ++i) {
    ExpectNoSecretIn(databases[i] + " (while running)", wal_copies[i]);
  }
  for (const std::string& db :
       {stack_dir_ + "/aggregator/history.db", stack_dir_ + "/alerter/alerts.db"}) {
    ASSERT_TRUE(std::filesystem::exists(db)) << db;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (std::filesystem::exists(db + suffix)) {
        ExpectNoSecretIn(db + suffix, ReadWholeFile(db + suffix));
      }
    }
  }
  int logs = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(stack_dir_)) {
    if (entry.is_regular_file() && entry.path().extension() == ".log") {
      ++logs;
      ExpectNoSecretIn(entry.path().string(), ReadWholeFile(entry.path().string()));
    }
  }
  EXPECT_GE(logs, 9) << "every process' log";
  EXPECT_NE(ReadWholeFile(stack_dir_ + "/logs/alerter.log").find("notification_delivered"),
            std::string::npos)
      << "the logs searched are those of a stack that delivered notifications";
  EXPECT_GT(places_searched_, 40);
}

}  // namespace
}  // namespace etcdmon::deploy
