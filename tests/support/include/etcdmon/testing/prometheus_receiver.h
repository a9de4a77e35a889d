#pragma once

// A real Prometheus receiving remote_write, for tests: Debian's /usr/bin/prometheus with
// --web.enable-remote-write-receiver and no scrape job (every series in it came through
// remote_write), on a free loopback port, its data in a directory of the test's. Stop() and
// Start() again keep the port and the data: a receiver's outage and return.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

class ChildProcess;

class PrometheusReceiver {
 public:
  /// `dir` holds the config, the TSDB and one log per start; it must outlive the receiver.
  explicit PrometheusReceiver(std::string dir);
  ~PrometheusReceiver();  // Stop()
  PrometheusReceiver(const PrometheusReceiver&) = delete;
  PrometheusReceiver& operator=(const PrometheusReceiver&) = delete;

  /// Starts it and waits (60 s at most) until /-/ready answers 200; the error has its log's tail.
  Status Start();
  /// SIGTERM and reap (SIGKILL after 10 s). Idempotent.
  void Stop();

  /// "http://127.0.0.1:PORT".
  const std::string& base_url() const { return base_url_; }
  /// Where to remote-write: base_url() + "/api/v1/write".
  std::string WriteUrl() const { return base_url_ + "/api/v1/write"; }

  /// The value of the instant query `promql` (at `time`, Unix seconds, when not empty) when it
  /// has exactly one result, its labels in `*labels` when asked; "" else.
  std::string QueryOne(const std::string& promql, const std::string& time = "",
                       nlohmann::json* labels = nullptr) const;

 private:
  std::string dir_;
  std::string base_url_;
  int starts_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace etcdmon::testing
