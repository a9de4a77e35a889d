#pragma once

// Hand-written fakes of the collector's seams, for its unit tests. Answers are copied into the
// caller's reused storage, so steady use allocates nothing of the fakes' own.

#include <map>
#include <string>
#include <utility>

#include "etcdmon/collector/certificate_probe.h"
#include "etcdmon/collector/host_probe.h"
#include "etcdmon/collector/metrics_source.h"

namespace etcdmon::collector::testing {

/// Serves canned pages per URL; other URLs are Unavailable.
class FakeMetricsSource final : public MetricsSource {
 public:
  void Set(const std::string& url, Result<int> code, std::string body = "") {
    pages_.insert_or_assign(url, Page{std::move(code), std::move(body)});
  }

  Result<int> Fetch(const std::string& url, std::string& body) override {
    ++fetches_;
    auto it = pages_.find(url);
    if (it == pages_.end()) {
      body.clear();
      return Status::Unavailable("GET " + url + ": connection refused");
    }
    body.assign(it->second.body);
    return it->second.code;
  }

  int fetches() const { return fetches_; }

 private:
  struct Page {
    Result<int> code;
    std::string body;
  };
  std::map<std::string, Page> pages_;
  int fetches_ = 0;
};

class FakeHostProbe final : public HostProbe {
 public:
  Result<DiskUsage> disk = DiskUsage{1000, 400};
  Result<MemoryUsage> memory = MemoryUsage{8000, 6000};
  int disk_calls = 0;
  std::string last_disk_path;

  Result<DiskUsage> Disk(const std::string& path) override {
    ++disk_calls;
    last_disk_path = path;
    return disk;
  }
  Result<MemoryUsage> Memory() override { return memory; }
};

class FakeCertificateProbe final : public CertificateProbe {
 public:
  Result<ServedCertificate> answer = ServedCertificate{"CN=etcd0", 1800000000};
  int calls = 0;
  std::string last_host;
  uint16_t last_port = 0;

  Result<ServedCertificate> Read(const std::string& host, uint16_t port) override {
    ++calls;
    last_host = host;
    last_port = port;
    return answer;
  }
};

}  // namespace etcdmon::collector::testing
