#include "etcdmon/remote_write/remote_write.h"

#include <snappy.h>

#include <algorithm>
#include <utility>

#include "etcdmon/http/fetcher.h"
#include "prometheus/remote_write.pb.h"

namespace etcdmon::remote_write {
namespace {

namespace wire = etcdmonitor::remote_write;

constexpr std::string_view kNameLabel = "__name__";
// The receiver's answer kept in a SendResult's detail.
constexpr std::size_t kMaxDetailBytes = 256;

bool IsLabelName(std::string_view name, bool allow_colon) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

Status EncodeSeries(const Series& series, const Labels& external_labels, wire::TimeSeries& out) {
  const std::string where = "series " + series.name + ": ";
  if (!IsLabelName(series.name, /*allow_colon=*/true)) {
    return Status::InvalidArgument("series \"" + series.name + "\": not a metric name");
  }
  Labels labels = series.labels;
  labels.emplace_back(std::string(kNameLabel), series.name);
  std::sort(labels.begin(), labels.end());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& [name, value] = labels[i];
    if (!IsLabelName(name, /*allow_colon=*/false)) {
      return Status::InvalidArgument(where + "\"" + name + "\" is not a label name");
    }
    if (i > 0 && labels[i - 1].first == name) {
      return Status::InvalidArgument(where + "label " + name + " is given twice");
    }
    if (value.empty()) {
      return Status::InvalidArgument(where + "label " + name + " has an empty value");
    }
  }
  // External labels fill in the names the series lacks; then one sort for the wire.
  const std::size_t own = labels.size();
  for (const auto& external : external_labels) {
    const auto same =
        std::lower_bound(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(own),
                         external, [](const auto& a, const auto& b) { return a.first < b.first; });
    if (same == labels.begin() + static_cast<std::ptrdiff_t>(own) ||
        same->first != external.first) {
      labels.push_back(external);
    }
  }
  std::sort(labels.begin(), labels.end());
  for (const auto& [name, value] : labels) {
    wire::Label* label = out.add_labels();
    label->set_name(name);
    label->set_value(value);
  }
  if (series.samples.empty()) {
    return Status::InvalidArgument(where + "no samples");
  }
  out.mutable_samples()->Reserve(static_cast<int>(series.samples.size()));
  int64_t previous = series.samples.front().timestamp_ms;
  for (const Sample& sample : series.samples) {
    if (sample.timestamp_ms < previous) {
      return Status::InvalidArgument(where + "samples are not in time order");
    }
    previous = sample.timestamp_ms;
    wire::Sample* s = out.add_samples();
    s->set_timestamp(sample.timestamp_ms);
    s->set_value(sample.value);
  }
  return Status::Ok();
}

Status CheckExternalLabels(const Labels& external_labels) {
  for (std::size_t i = 0; i < external_labels.size(); ++i) {
    const auto& [name, value] = external_labels[i];
    if (!IsLabelName(name, /*allow_colon=*/false) || name == kNameLabel) {
      return Status::InvalidArgument("external label \"" + name + "\" is not a label name");
    }
    if (value.empty()) {
      return Status::InvalidArgument("external label " + name + " has an empty value");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (external_labels[j].first == name) {
        return Status::InvalidArgument("external label " + name + " is given twice");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> EncodeWriteRequest(const std::vector<Series>& series,
                                       const Labels& external_labels) {
  if (Status checked = CheckExternalLabels(external_labels); !checked.ok()) {
    return checked;
  }
  wire::WriteRequest request;
  request.mutable_timeseries()->Reserve(static_cast<int>(series.size()));
  for (const Series& s : series) {
    if (Status encoded = EncodeSeries(s, external_labels, *request.add_timeseries());
        !encoded.ok()) {
      return encoded;
    }
  }
  std::string serialized;
  if (!request.SerializeToString(&serialized)) {
    return Status::Internal("the WriteRequest could not be serialized");
  }
  std::string compressed;
  snappy::Compress(serialized.data(), serialized.size(), &compressed);
  return compressed;
}

Result<std::vector<Series>> DecodeWriteRequest(std::string_view compressed) {
  std::string serialized;
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &serialized)) {
    return Status::InvalidArgument("the body is not snappy-compressed (block format)");
  }
  wire::WriteRequest request;
  if (!request.ParseFromString(serialized)) {
    return Status::InvalidArgument("the body is not a WriteRequest");
  }
  std::vector<Series> out;
  out.reserve(static_cast<std::size_t>(request.timeseries_size()));
  for (const wire::TimeSeries& ts : request.timeseries()) {
    Series& series = out.emplace_back();
    for (const wire::Label& label : ts.labels()) {
      if (label.name() == kNameLabel) {
        series.name = label.value();
      }
      series.labels.emplace_back(label.name(), label.value());
    }
    for (const wire::Sample& sample : ts.samples()) {
      series.samples.push_back(Sample{sample.timestamp(), sample.value()});
    }
  }
  return out;
}

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("the remote_write URL must start with http:// or https://");
  }
  // Credentials in the URL would be written wherever the URL is (errors, logs): refused, and
  // the message does not repeat them.
  const size_t authority = options.url.find("//") + 2;
  const size_t authority_end = options.url.find_first_of("/?#", authority);
  if (options.url.substr(authority, authority_end - authority).find('@') != std::string::npos) {
    return Status::InvalidArgument(
        "the remote_write URL must not carry credentials (user:password@); give a bearer token "
        "in a file instead (--remote-write-token-file)");
  }
  http::FetcherOptions fetcher_options;
  fetcher_options.tls = options.tls;
  fetcher_options.timeout = options.timeout;
  fetcher_options.max_request_body_bytes = options.max_request_bytes;
  fetcher_options.max_body_bytes = 64 * 1024;  // receivers answer with a line of text at most
  fetcher_options.proxy = http::ProxySettings::FromEnvironment();
  Result<std::unique_ptr<http::HttpFetcher>> fetcher =
      http::HttpFetcher::Create(std::move(fetcher_options));
  if (!fetcher.ok()) {
    return fetcher.status();
  }
  return std::unique_ptr<Client>(new Client(std::move(options), std::move(fetcher).value()));
}

Client::Client(ClientOptions options, std::unique_ptr<http::HttpFetcher> fetcher)
    : options_(std::move(options)), fetcher_(std::move(fetcher)) {}

Client::~Client() = default;

SendResult Client::Send(std::string_view compressed) {
  http::HttpHeaders headers = {
      {"Content-Type", "application/x-protobuf"},
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"},
      {"User-Agent", "etcd-monitor"},
  };
  if (!options_.bearer_token.empty()) {
    headers.emplace_back("Authorization", "Bearer " + options_.bearer_token);
  }
  SendResult result;
  Result<http::HttpResponse> response = fetcher_->Post(options_.url, compressed, headers);
  if (!response.ok()) {
    // No answer: the receiver is down, slow or unreachable. A body over the limit is refused
    // before sending and would be refused again.
    result.outcome = response.status().code() == StatusCode::kInvalidArgument
                         ? SendOutcome::kRejected
                         : SendOutcome::kRetryable;
    result.detail = response.status().message();
    return result;
  }
  result.http_status = response->status_code;
  result.detail = response->body.substr(0, kMaxDetailBytes);
  if (result.http_status >= 200 && result.http_status < 300) {
    result.outcome = SendOutcome::kAccepted;
  } else if (result.http_status >= 500 || result.http_status == 429) {
    result.outcome = SendOutcome::kRetryable;
  } else {
    result.outcome = SendOutcome::kRejected;
  }
  return result;
}

}  // namespace etcdmon::remote_write
