#pragma once

// Prometheus remote_write 1.0: series encoded as a snappy-compressed protobuf WriteRequest and
// POSTed to a receiver (Prometheus with --web.enable-remote-write-receiver, Thanos Receive,
// Mimir, Cortex, VictoriaMetrics). The encoder is pure; the client sends one request at a time
// and says whether a failed one is worth sending again.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::http {
class HttpFetcher;
}

namespace etcdmon::remote_write {

/// Label name/value pairs, in any order.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  int64_t timestamp_ms = 0;  // Unix milliseconds
  double value = 0;
};

/// One series: the metric name, its labels (without __name__) and its samples in time order.
struct Series {
  std::string name;
  Labels labels;
  std::vector<Sample> samples;
};

/// Builds the compressed body of one remote_write request. Each series gets `external_labels`
/// for the names it does not carry itself (as Prometheus' external labels: the series' own
/// value wins); its labels are sent sorted by name, __name__ among them.
/// InvalidArgument, naming the series: a metric or label name that is not
/// [a-zA-Z_][a-zA-Z0-9_]* (metric names may also hold ':'), a label name given twice, an empty
/// label value (receivers drop such labels, so the series would not be the one meant), a series
/// without samples or with samples out of time order.
Result<std::string> EncodeWriteRequest(const std::vector<Series>& series,
                                       const Labels& external_labels);

/// The reverse, for tests and tools: the series of a compressed WriteRequest, labels as sent
/// (__name__ included). InvalidArgument when the body is not snappy or not a WriteRequest.
Result<std::vector<Series>> DecodeWriteRequest(std::string_view compressed);

struct ClientOptions {
  std::string url;           // e.g. http://prometheus:9090/api/v1/write
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when not empty; never logged
  config::TlsConfig tls;     // for https:// URLs; the server's certificate is verified by default
  std::chrono::milliseconds timeout{10000};
  std::size_t max_request_bytes = 8u << 20;
};

/// What became of one request.
enum class SendOutcome {
  kAccepted,   // 2xx: the receiver has the samples
  kRetryable,  // no connection, a timeout, 5xx or 429: send the same request again later
  kRejected,   // any other status (400: out of order, bad labels...): sending it again fails too
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kRetryable;
  long http_status = 0;  // 0: no response
  std::string detail;    // the error or the start of the receiver's answer; never the token
};

/// Sends remote_write requests to one receiver over a kept-alive connection. Not thread-safe.
class Client final {
 public:
  /// InvalidArgument: a URL that is not http:// or https://.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// POSTs one body from EncodeWriteRequest() with the protocol's headers.
  SendResult Send(std::string_view compressed);

 private:
  Client(ClientOptions options, std::unique_ptr<http::HttpFetcher> fetcher);
  ClientOptions options_;
  std::unique_ptr<http::HttpFetcher> fetcher_;
};

}  // namespace etcdmon::remote_write
