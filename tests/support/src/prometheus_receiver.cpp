#include "etcdmon/testing/prometheus_receiver.h"

#include <signal.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::testing {

PrometheusReceiver::PrometheusReceiver(std::string dir) : dir_(std::move(dir)) {
  Result<std::vector<uint16_t>> ports = PickFreeLoopbackPorts(1);
  if (ports.ok()) {
    base_url_ = "http://127.0.0.1:" + std::to_string((*ports)[0]);
  }
  std::ofstream(dir_ + "/prometheus.yml") << "global:\n  scrape_interval: 1m\n";
}

PrometheusReceiver::~PrometheusReceiver() { Stop(); }

Status PrometheusReceiver::Start() {
  if (base_url_.empty()) {
    return Status::Unavailable("no free loopback port for Prometheus");
  }
  const std::string log = dir_ + "/prometheus-" + std::to_string(++starts_) + ".log";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                               "--storage.tsdb.path=" + dir_ + "/tsdb",
                               "--web.listen-address=" + base_url_.substr(7),
                               "--web.enable-remote-write-receiver", "--log.level=warn"},
      log);
  if (!process_->ok()) {
    return process_->status();
  }
  if (!WaitFor([&] { return Http("GET", base_url_ + "/-/ready").status == 200; },
               std::chrono::seconds(60))) {
    return Status::Unavailable("Prometheus did not get ready:\n" + TailOfFile(log, 20));
  }
  return Status::Ok();
}

void PrometheusReceiver::Stop() {
  if (process_ != nullptr && process_->ok()) {
    (void)process_->Stop(SIGTERM, std::chrono::seconds(10));
  }
  process_.reset();
}

std::string PrometheusReceiver::QueryOne(const std::string& promql, const std::string& time,
                                         nlohmann::json* labels) const {
  std::string encoded;
  for (char c : promql) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
    encoded += std::isalnum(static_cast<unsigned char>(c)) ? std::string(1, c) : hex;
  }
  const nlohmann::json answer = Http("GET", base_url_ + "/api/v1/query?query=" + encoded +
                                                (time.empty() ? "" : "&time=" + time))
                                    .Json();
  if (!answer.is_object() || answer.value("status", "") != "success") return "";
  const nlohmann::json& result = answer["data"]["result"];
  if (!result.is_array() || result.size() != 1) return "";
  if (labels != nullptr) *labels = result[0]["metric"];
  return result[0]["value"][1].get<std::string>();
}

}  // namespace etcdmon::testing
