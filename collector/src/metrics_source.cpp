#include "etcdmon/collector/metrics_source.h"

#include <mutex>
#include <utility>
#include <vector>

namespace etcdmon::collector {
namespace {

// One kept-alive connection and the response it reuses.
struct Connection {
  std::unique_ptr<http::HttpFetcher> fetcher;
  http::HttpResponse response;  // reused; its body is swapped with the caller's
};

class HttpMetricsSource final : public MetricsSource {
 public:
  HttpMetricsSource(http::FetcherOptions options, std::unique_ptr<http::HttpFetcher> first)
      : options_(std::move(options)) {
    idle_.push_back(std::make_unique<Connection>());
    idle_.back()->fetcher = std::move(first);
  }

  Result<int> Fetch(const std::string& url, std::string& body) override {
    Result<std::unique_ptr<Connection>> acquired = Acquire();
    if (!acquired.ok()) {
      return acquired.status();
    }
    Connection& c = **acquired;
    // The fetcher writes into the caller's buffer, so that its capacity is what gets reused.
    c.response.body.swap(body);
    const Status status = c.fetcher->Get(url, c.response);
    c.response.body.swap(body);
    const int code = static_cast<int>(c.response.status_code);
    Release(std::move(acquired).value());
    if (!status.ok()) {
      return status;
    }
    return code;
  }

 private:
  // An idle connection, or a new one when every connection is in use (a page the sampler gave
  // up on may still be loading while it asks for another).
  Result<std::unique_ptr<Connection>> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    Result<std::unique_ptr<http::HttpFetcher>> fetcher = http::HttpFetcher::Create(options_);
    if (!fetcher.ok()) {
      return fetcher.status();
    }
    auto c = std::make_unique<Connection>();
    c->fetcher = std::move(fetcher).value();
    return c;
  }

  void Release(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(c));
  }

  const http::FetcherOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<MetricsSource>> NewHttpMetricsSource(http::FetcherOptions options) {
  Result<std::unique_ptr<http::HttpFetcher>> fetcher = http::HttpFetcher::Create(options);
  if (!fetcher.ok()) {
    return fetcher.status();
  }
  return std::unique_ptr<MetricsSource>(
      new HttpMetricsSource(std::move(options), std::move(fetcher).value()));
}

}  // namespace etcdmon::collector
