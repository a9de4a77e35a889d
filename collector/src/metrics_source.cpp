#include "etcdmon/collector/metrics_source.h"

#include <utility>

namespace etcdmon::collector {
namespace {

class HttpMetricsSource final : public MetricsSource {
 public:
  explicit HttpMetricsSource(std::unique_ptr<http::HttpFetcher> fetcher)
      : fetcher_(std::move(fetcher)) {}

  Result<int> Fetch(const std::string& url, std::string& body) override {
    // The fetcher writes into the caller's buffer, so that its capacity is what gets reused.
    response_.body.swap(body);
    const Status status = fetcher_->Get(url, response_);
    response_.body.swap(body);
    if (!status.ok()) {
      return status;
    }
    return static_cast<int>(response_.status_code);
  }

 private:
  std::unique_ptr<http::HttpFetcher> fetcher_;
  http::HttpResponse response_;  // reused; its body is swapped with the caller's
};

}  // namespace

Result<std::unique_ptr<MetricsSource>> NewHttpMetricsSource(http::FetcherOptions options) {
  Result<std::unique_ptr<http::HttpFetcher>> fetcher =
      http::HttpFetcher::Create(std::move(options));
  if (!fetcher.ok()) {
    return fetcher.status();
  }
  return std::unique_ptr<MetricsSource>(new HttpMetricsSource(std::move(fetcher).value()));
}

}  // namespace etcdmon::collector
