#include "http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/net.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "etcdmon/runtime/signals.h"
#include "http_errors.h"
#include "request_guard.h"

namespace etcdmon::gateway::detail {
namespace {

using namespace Pistache;

// A response header with a name chosen at run time (Pistache 0.0.5 writes only typed headers,
// never raw ones, into a response).
class TextHeader final : public Http::Header::Header {
 public:
  TextHeader(const char* name, std::string value) : name_(name), value_(std::move(value)) {}
  const char* name() const override { return name_; }
  void write(std::ostream& stream) const override { stream << value_; }
  uint64_t hash() const override { return std::hash<std::string_view>()(name_); }

 private:
  const char* name_;  // static storage
  std::string value_;
};

// The web console's policy: everything from the gateway's own origin only, no inline script or
// style (the page's script and style are files of their own), no plugins, never framed.
constexpr const char* kHtmlContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

bool IsAddressText(std::string_view text) {
  if (text.empty() || text.size() > 64) {
    return false;
  }
  for (char c : text) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == '.' || c == ':';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// The address the POST rate limit counts a request against: the peer, or, when the peer is a
// trusted proxy, the last address of X-Forwarded-For (the one that proxy appended: earlier ones
// come from the client and prove nothing). Anything but an IP literal there leaves the proxy.
std::string ClientAddress(const Http::Request& request, const std::vector<std::string>& proxies) {
  std::string peer = request.address().host();
  if (std::find(proxies.begin(), proxies.end(), peer) == proxies.end()) {
    return peer;
  }
  const std::optional<Http::Header::Raw> forwarded = request.headers().tryGetRaw("X-Forwarded-For");
  if (!forwarded) {
    return peer;
  }
  const std::string value = forwarded->value();
  const size_t comma = value.rfind(',');
  std::string_view last(value);
  if (comma != std::string::npos) {
    last.remove_prefix(comma + 1);
  }
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) {
    last.remove_prefix(1);
  }
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) {
    last.remove_suffix(1);
  }
  return IsAddressText(last) ? std::string(last) : peer;
}

// The JSON error document of a refused request as a whole HTTP response that closes the
// connection (what follows a refused request cannot be framed).
std::string RefusalResponse(const Refusal& refusal) {
  const std::string body = ProtocolError(refusal.http_status, refusal.message).body;
  return "HTTP/1.1 " + std::to_string(refusal.http_status) + " " +
         Http::codeString(static_cast<Http::Code>(refusal.http_status)) +
         "\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Bytes still read (and dropped) from a refused connection, so that the client reads the answer
// before the close (closing with unread input resets the connection, which can discard the
// answer at the client); past this the connection is cut.
constexpr uint64_t kMaxDrainBytes = 16 * 1024 * 1024;

// What a connection keeps beside Pistache's parser.
struct ConnectionGuard {
  explicit ConnectionGuard(RequestLimits limits) : guard(limits) {}
  RequestGuard guard;
  uint64_t drained = 0;
};

// One handler per Pistache worker (HTTP_PROTOTYPE clones it); all share the Api.
//
// onInput replaces Pistache's own (which it cannot call: it is private): every received chunk
// first goes through a RequestGuard, which refuses oversized and malformed requests from their
// headers, then into Pistache's parser as before.
class Handler final : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  Handler(Api* api, std::vector<std::string> trusted_proxies, RequestLimits limits,
          std::shared_ptr<spdlog::logger> logger)
      : api_(api),
        trusted_proxies_(std::move(trusted_proxies)),
        limits_(limits),
        logger_(std::move(logger)) {}

  void onInput(const char* buffer, size_t length, const std::shared_ptr<Tcp::Peer>& peer) override {
    ConnectionGuard& connection = GuardOf(peer);
    if (connection.guard.refused()) {
      connection.drained += length;
      if (connection.drained > kMaxDrainBytes) {
        ::shutdown(peer->fd(), SHUT_RDWR);
      }
      return;
    }
    if (std::optional<Refusal> refusal = connection.guard.Feed(std::string_view(buffer, length))) {
      Refuse(peer, *refusal);
      return;
    }
    Parse(buffer, length, peer);
  }

  void onRequest(const Http::Request& request, Http::ResponseWriter response) override {
    ApiResponse answer;
    // Exceptions stop here: a request never takes the server down.
    try {
      std::string authorization;
      if (auto header = request.headers().tryGet<Http::Header::Authorization>()) {
        authorization = header->value();
      }
      std::string query = request.query().as_str();
      if (!query.empty() && query.front() == '?') {
        query.erase(0, 1);
      }
      ApiRequest in;
      in.method = Http::methodString(request.method());
      in.path = request.resource();
      in.query = query;
      in.authorization = authorization;
      in.body = request.body();
      const std::string client = ClientAddress(request, trusted_proxies_);
      in.client = client;
      answer = api_->Handle(in);
    } catch (const std::exception& e) {
      logger_->error("request_failed path=\"{}\" error=\"{}\"", request.resource(), e.what());
      HttpError error = ToHttp(Status::Internal("the request failed inside the gateway"));
      answer = ApiResponse();
      answer.status = error.http_status;
      answer.body = std::move(error.body);
    }
    if (!answer.allow.empty()) {
      response.headers().add(std::make_shared<TextHeader>("Allow", answer.allow));
    }
    if (!answer.location.empty()) {
      response.headers().add(std::make_shared<TextHeader>("Location", answer.location));
    }
    if (!answer.cache_control.empty()) {
      response.headers().add(
          std::make_shared<TextHeader>("Cache-Control", std::string(answer.cache_control)));
    }
    if (answer.authenticate) {
      response.headers().add(std::make_shared<TextHeader>("WWW-Authenticate", "Bearer"));
    }
    if (answer.retry_after_seconds > 0) {
      response.headers().add(
          std::make_shared<TextHeader>("Retry-After", std::to_string(answer.retry_after_seconds)));
    }
    // No answer is ever sniffed into another type (a JSON error echoing input is never HTML).
    response.headers().add(std::make_shared<TextHeader>("X-Content-Type-Options", "nosniff"));
    if (answer.content_type.rfind("text/html", 0) == 0) {
      response.headers().add(
          std::make_shared<TextHeader>("Content-Security-Policy", kHtmlContentSecurityPolicy));
      response.headers().add(std::make_shared<TextHeader>("X-Frame-Options", "DENY"));
      response.headers().add(std::make_shared<TextHeader>("Referrer-Policy", "no-referrer"));
    }
    response.send(static_cast<Http::Code>(answer.status), answer.Body(),
                  MediaTypeOf(answer.content_type));
  }

 private:
  static const Http::Mime::MediaType& MediaTypeOf(std::string_view content_type) {
    static const Http::Mime::MediaType kJson =
        Http::Mime::MediaType::fromString("application/json");
    static const Http::Mime::MediaType kText =
        Http::Mime::MediaType::fromString("text/plain; version=0.0.4; charset=utf-8");
    static const Http::Mime::MediaType kHtml =
        Http::Mime::MediaType::fromString("text/html; charset=utf-8");
    static const Http::Mime::MediaType kCss =
        Http::Mime::MediaType::fromString("text/css; charset=utf-8");
    static const Http::Mime::MediaType kJavaScript =
        Http::Mime::MediaType::fromString("text/javascript; charset=utf-8");
    if (content_type.rfind("text/plain", 0) == 0) {
      return kText;
    }
    if (content_type.rfind("text/html", 0) == 0) {
      return kHtml;
    }
    if (content_type.rfind("text/css", 0) == 0) {
      return kCss;
    }
    if (content_type.rfind("text/javascript", 0) == 0) {
      return kJavaScript;
    }
    return kJson;
  }

  ConnectionGuard& GuardOf(const std::shared_ptr<Tcp::Peer>& peer) {
    static constexpr const char* kKey = "etcdmon.guard";
    std::shared_ptr<void> data = peer->tryGetData(kKey);
    if (data == nullptr) {
      data = std::make_shared<ConnectionGuard>(limits_);
      peer->putData(kKey, data);
    }
    return *std::static_pointer_cast<ConnectionGuard>(data);
  }

  // Answers `refusal`, then half-closes: the client reads the answer and the end of the stream;
  // what it still sends is drained (onInput) until it closes.
  void Refuse(const std::shared_ptr<Tcp::Peer>& peer, const Refusal& refusal) {
    // Debug, not info: hostile clients choose how many of these there are.
    logger_->debug("request_refused peer={} status={} reason=\"{}\"", peer->address().host(),
                   refusal.http_status, refusal.message);
    GuardOf(peer).guard.RefuseRest();
    const std::string answer = RefusalResponse(refusal);
    std::weak_ptr<Tcp::Peer> weak = peer;
    peer->send(RawBuffer(answer, answer.size()))
        .then(
            [weak](ssize_t) {
              if (std::shared_ptr<Tcp::Peer> alive = weak.lock()) {
                ::shutdown(alive->fd(), SHUT_WR);
              }
            },
            [weak](std::exception_ptr) {
              if (std::shared_ptr<Tcp::Peer> alive = weak.lock()) {
                ::shutdown(alive->fd(), SHUT_RDWR);
              }
            });
  }

  // Pistache's own request parsing and dispatch (Http::Handler::onInput, 0.0.5), except that a
  // parse failure is refused like the guard's refusals: a 400 with a message of ours, never the
  // parser's exception text, and the connection closed.
  void Parse(const char* buffer, size_t length, const std::shared_ptr<Tcp::Peer>& peer) {
    std::shared_ptr<Http::RequestParser> parser = getParser(peer);
    Http::Request& request = parser->request;
    try {
      if (!parser->feed(buffer, length)) {
        parser->reset();
        Refuse(peer, Refusal{413, "the request is larger than the limit of " +
                                      std::to_string(getMaxRequestSize()) + " bytes"});
        return;
      }
      if (parser->parse() != Http::Private::State::Done) {
        return;
      }
      Http::ResponseWriter response(request.version(), transport(), this, peer);
      request.copyAddress(peer->address());
      if (auto connection = request.headers().tryGet<Http::Header::Connection>()) {
        response.headers().add<Http::Header::Connection>(connection->control());
      } else {
        response.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
      }
      peer->setIdle(false);
      onRequest(request, std::move(response));
      parser->reset();
    } catch (const std::exception& e) {
      parser->reset();
      logger_->debug("request_unparsable peer={} error=\"{}\"", peer->address().host(), e.what());
      Refuse(peer, Refusal{400, "the request is not valid HTTP/1.1"});
    }
  }

  Api* api_;
  std::vector<std::string> trusted_proxies_;
  RequestLimits limits_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(const GatewayConfig& c, Api& a, std::shared_ptr<spdlog::logger> l)
      : config(c), api(a), logger(std::move(l)) {}
  const GatewayConfig& config;
  Api& api;
  std::shared_ptr<spdlog::logger> logger;
  std::unique_ptr<Http::Endpoint> endpoint;  // set by Start()
  std::mutex mu;                             // serializes Start/Stop
  bool serving = false;
};

HttpServer::HttpServer(const GatewayConfig& config, Api& api,
                       std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<Impl>(config, api, std::move(logger))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->serving) {
    return Status::FailedPrecondition("the HTTP server is already serving");
  }
  runtime::IgnoreSigpipeOnce();
  const GatewayConfig& c = impl_->config;
  const std::string where = c.host + ":" + std::to_string(c.port);
  RequestLimits limits;
  limits.max_body_bytes = c.max_body_bytes;
  try {
    auto endpoint = std::make_unique<Http::Endpoint>(Address(c.host, Port(c.port)));
    auto options = Http::Endpoint::options()
                       .threads(c.threads)
                       .threadsName("gateway-http")
                       .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay)
                       .maxRequestSize(c.max_request_bytes)
                       .headerTimeout(std::chrono::seconds(10))
                       .bodyTimeout(std::chrono::seconds(30))
                       .keepaliveTimeout(std::chrono::seconds(120));
    endpoint->init(options);
    if (!c.tls_cert_file.empty()) {
      endpoint->useSSL(c.tls_cert_file, c.tls_key_file);
    }
    endpoint->setHandler(
        Http::make_handler<Handler>(&impl_->api, c.trusted_proxies, limits, impl_->logger));
    endpoint->serveThreaded();
    impl_->endpoint = std::move(endpoint);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve HTTP on " + where + ": " + e.what());
  }
  impl_->serving = true;
  return Status::Ok();
}

void HttpServer::Stop() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->serving) {
    return;
  }
  try {
    impl_->endpoint->shutdown();
  } catch (const std::exception& e) {
    impl_->logger->warn("http_shutdown_failed error=\"{}\"", e.what());
  }
  impl_->endpoint.reset();
  impl_->serving = false;
}

uint16_t HttpServer::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->endpoint == nullptr) {
    return 0;
  }
  return static_cast<uint16_t>(impl_->endpoint->getPort());
}

}  // namespace etcdmon::gateway::detail
