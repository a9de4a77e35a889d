#include "etcdmon/http/fetcher.h"

#include <httplib.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <new>
#include <utility>

#include "etcdmon/runtime/signals.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Connections kept open per fetcher: one per server (scheme, host, port) it talks to. A
// fetcher normally talks to one or two servers; beyond this the least recently used goes.
constexpr std::size_t kMaxOpenConnections = 4;

// The URL for messages, with any user:password@ replaced, since messages reach logs.
std::string RedactUrl(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return url;
  }
  const std::size_t authority = scheme_end + 3;
  const std::size_t authority_end = url.find_first_of("/?#", authority);
  const std::size_t at =
      url.rfind('@', authority_end == std::string::npos ? url.size() : authority_end);
  if (at == std::string::npos || at < authority) {
    return url;
  }
  return url.substr(0, authority) + "***@" + url.substr(at + 1);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX-decoding of a URL's user name or password.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
        HexDigit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// What a URL says about where to send a request.
struct Target {
  bool tls = false;
  std::string host;  // IPv6 without brackets
  int port = 0;
  std::string path;  // path and query, as given; "/" when empty
  std::string user;  // from user:password@, for basic auth; empty when absent
  std::string password;
};

// Splits an http(s) URL. Errors are InvalidArgument with `what` (method and redacted URL).
Status ParseTarget(const std::string& url, const std::string& what, Target& out) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return Status::InvalidArgument(what + ": not an http:// or https:// URL");
  }
  std::string scheme = url.substr(0, scheme_end);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument(what + ": unsupported scheme \"" + scheme +
                                   "\" (use http or https)");
  }
  out.tls = scheme == "https";
  const std::size_t authority_begin = scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string::npos) {
    authority_end = url.size();
  }
  std::string_view authority(url.data() + authority_begin, authority_end - authority_begin);
  out.user.clear();
  out.password.clear();
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    out.user = PercentDecode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      out.password = PercentDecode(userinfo.substr(colon + 1));
    }
    authority.remove_prefix(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(what + ": malformed URL (unterminated IPv6 address)");
    }
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Status::InvalidArgument(what + ": malformed URL (text after the IPv6 address)");
      }
      port_text = rest.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) {
    return Status::InvalidArgument(what + ": malformed URL (no host)");
  }
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) {
        return Status::InvalidArgument(what + ": malformed URL (bad port)");
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
      return Status::InvalidArgument(what + ": malformed URL (bad port)");
    }
    out.port = port;
  }
  std::size_t path_end = url.find('#', authority_end);
  if (path_end == std::string::npos) {
    path_end = url.size();
  }
  out.path.assign(url, authority_end, path_end - authority_end);
  if (out.path.empty() || out.path.front() != '/') {
    out.path.insert(0, "/");
  }
  return Status::Ok();
}

// True when the file can be opened for reading.
bool Readable(const std::string& path) {
  std::ifstream in(path);
  return in.good();
}

const char* FirstEnv(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') {
      return value;
    }
  }
  return "";
}

// True when `host` matches one entry of a NO_PROXY list.
bool NoProxyMatches(std::string_view list, std::string_view host) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view entry = strings::TrimAsciiWhitespace(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry == "*") {
      return true;
    }
    if (!entry.empty() && entry.front() == '.') {
      entry.remove_prefix(1);
      if (host.size() > entry.size() && host.substr(host.size() - entry.size()) == entry &&
          host[host.size() - entry.size() - 1] == '.') {
        return true;
      }
      continue;
    }
    if (entry.empty()) {
      continue;
    }
    if (host == entry ||
        (host.size() > entry.size() && host.substr(host.size() - entry.size()) == entry &&
         host[host.size() - entry.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

// Headers that would split the request (CR, LF) or a name holding ':' are InvalidArgument,
// naming the header only: its value may be a token.
Status CheckHeaders(const HttpHeaders& headers, const std::string& prefix) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Status::InvalidArgument(prefix + "invalid header " +
                                     (name.find_first_of("\r\n") == std::string::npos
                                          ? "\"" + name + "\""
                                          : std::string("name")));
    }
  }
  return Status::Ok();
}

}  // namespace

ProxySettings ProxySettings::FromEnvironment() {
  ProxySettings p;
  const std::string all = FirstEnv({"ALL_PROXY", "all_proxy"});
  p.http_proxy = FirstEnv({"http_proxy"});
  if (p.http_proxy.empty()) {
    p.http_proxy = all;
  }
  p.https_proxy = FirstEnv({"HTTPS_PROXY", "https_proxy"});
  if (p.https_proxy.empty()) {
    p.https_proxy = all;
  }
  p.no_proxy = FirstEnv({"NO_PROXY", "no_proxy"});
  return p;
}

const std::string& ProxySettings::For(std::string_view host, bool tls) const {
  static const std::string kNone;
  const std::string& proxy = tls ? https_proxy : http_proxy;
  // A proxy cannot reach this machine's loopback: those always go directly.
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  if (proxy.empty() || loopback || NoProxyMatches(no_proxy, host)) {
    return kNone;
  }
  return proxy;
}

struct HttpFetcher::Impl {
  // One kept-alive connection to one server.
  struct Connection {
    bool tls = false;
    std::string host;
    int port = 0;
    std::unique_ptr<httplib::ClientImpl> client;
    // The server has answered on this connection at least once: a later failure is a lost
    // connection, not a server that cannot be talked to.
    bool answered = false;
  };

  // The connection for `target`, opened (and configured) on first use; most recent first.
  Connection& ConnectionFor(const Target& target) {
    auto it = std::find_if(connections.begin(), connections.end(), [&](const Connection& c) {
      return c.tls == target.tls && c.port == target.port && c.host == target.host;
    });
    if (it != connections.end()) {
      std::rotate(connections.begin(), it, it + 1);
      return connections.front();
    }
    if (connections.size() >= kMaxOpenConnections) {
      connections.pop_back();
    }
    Connection c;
    c.tls = target.tls;
    c.host = target.host;
    c.port = target.port;
    if (target.tls) {
      auto ssl = std::make_unique<httplib::SSLClient>(target.host, target.port,
                                                      options.tls.cert_file, options.tls.key_file);
      if (!options.tls.ca_file.empty()) {
        ssl->set_ca_cert_path(options.tls.ca_file);
      }
      ssl->enable_server_certificate_verification(!options.tls.insecure_skip_verify);
      c.client = std::move(ssl);
    } else {
      c.client = std::make_unique<httplib::ClientImpl>(target.host, target.port);
    }
    if (const std::string& proxy = options.proxy.For(target.host, target.tls); !proxy.empty()) {
      // Checked when the fetcher was created.
      Target via;
      if (ParseTarget(proxy.find("://") == std::string::npos ? "http://" + proxy : proxy, "proxy",
                      via)
              .ok()) {
        c.client->set_proxy(via.host, via.port);
        if (!via.user.empty()) {
          c.client->set_proxy_basic_auth(via.user, via.password);
        }
      }
    }
    c.client->set_keep_alive(true);
    // A POST goes out as two writes (head, body); with Nagle's algorithm the body waits for the
    // server's delayed ACK, 40 ms per request.
    c.client->set_tcp_nodelay(true);
    c.client->set_follow_location(false);
    c.client->set_url_encode(false);  // the caller's URL is sent as it is
    // No Accept-Encoding: a compressed /metrics page costs the member CPU to save loopback bytes.
    c.client->set_decompress(false);
    connections.insert(connections.begin(), std::move(c));
    return connections.front();
  }

  // Sends `request` and fills `out`. The body goes into out.body, whose capacity is reused.
  Status Send(const char* method, const std::string& url, const CallOptions& call,
              HttpResponse& out) {
    connect_failed = false;
    out.status_code = 0;
    out.body.clear();
    out.content_type.clear();
    const std::string what = std::string(method) + " " + RedactUrl(url);
    ETCDMON_RETURN_IF_ERROR(ParseTarget(url, what, target));
    Connection& c = ConnectionFor(target);
    if (!c.client->is_valid()) {
      connections.erase(connections.begin());
      return Status::InvalidArgument(what + ": TLS: cannot load the client certificate " +
                                     options.tls.cert_file + " or key " + options.tls.key_file);
    }
    const std::chrono::milliseconds timeout =
        call.timeout.count() > 0 ? call.timeout : options.timeout;
    const auto connect = std::min(
        call.connect_timeout.count() > 0 ? call.connect_timeout : options.connect_timeout, timeout);
    c.client->set_connection_timeout(connect);
    c.client->set_read_timeout(timeout);
    c.client->set_write_timeout(timeout);
    if (!target.user.empty() || !target.password.empty()) {
      c.client->set_basic_auth(target.user, target.password);
    } else {
      c.client->set_basic_auth("", "");
    }

    request.method = method;
    request.path = target.path;
    request.headers.emplace("User-Agent", "etcd-monitor");
    const auto start = SteadyClock::now();
    const auto deadline = start + timeout;
    bool too_large = false;
    bool out_of_memory = false;
    bool timed_out = false;
    request.response_handler = [&](const httplib::Response& r) {
      out.status_code = r.status;
      // An announced length over the cap ends the transfer before any of it is read.
      const std::string length = r.get_header_value("Content-Length");
      if (!length.empty() &&
          (length.size() > 19 || length.find_first_not_of("0123456789") != std::string::npos ||
           std::stoull(length) > options.max_body_bytes)) {
        too_large = true;
        return false;
      }
      return true;
    };
    request.content_receiver = [&](const char* data, std::size_t n, uint64_t, uint64_t) {
      if (SteadyClock::now() > deadline) {
        timed_out = true;
        return false;
      }
      if (n > options.max_body_bytes - out.body.size()) {
        too_large = true;
        return false;
      }
      try {
        out.body.append(data, n);
      } catch (const std::bad_alloc&) {
        out_of_memory = true;
        return false;
      }
      return true;
    };
    // A reused response would keep the previous one's headers (its Content-Length).
    response.headers.clear();
    response.body.clear();
    response.status = -1;
    response.location.clear();
    httplib::Error error = httplib::Error::Success;
    // A cancellation shuts the socket down, which ends a wait for the server at once.
    uint64_t entered = 0;
    if (options.cancellation) {
      httplib::ClientImpl* client = c.client.get();
      entered = options.cancellation->Enter([client] { client->stop(); });
      if (entered == 0) {
        ClearRequest();
        return Status::Unavailable(what + ": cancelled");
      }
    }
    const bool sent = c.client->send(request, response, error);
    if (entered != 0) {
      options.cancellation->Leave(entered);
    }
    ClearRequest();
    const auto elapsed = SteadyClock::now() - start;
    if (too_large) {
      c.client->stop();  // the rest of the body is not wanted: the connection cannot be reused
      return Status::ResourceExhausted(what + ": response body is larger than the limit of " +
                                       std::to_string(options.max_body_bytes) + " bytes");
    }
    if (out_of_memory) {
      c.client->stop();
      return Status::ResourceExhausted(what + ": out of memory");
    }
    if (!sent || error != httplib::Error::Success) {
      if (entered != 0 && options.cancellation->cancelled()) {
        return Status::Unavailable(what + ": cancelled");
      }
      // A wait for the server that ended with the deadline is a timeout, whatever the library
      // calls it; the margin covers the poll granularity.
      if (error == httplib::Error::ConnectionTimeout) {
        connect_failed = true;
        return Status::Unavailable(what + ": cannot connect within " +
                                   std::to_string(connect.count()) + " ms");
      }
      if (timed_out || ((error == httplib::Error::Read || error == httplib::Error::Write) &&
                        elapsed + std::chrono::milliseconds(5) >= timeout)) {
        return Status::DeadlineExceeded(what + ": no complete response within " +
                                        std::to_string(timeout.count()) + " ms");
      }
      out_status_code = out.status_code;
      return ErrorStatus(error, c, what);
    }
    c.answered = true;
    out.status_code = response.status;
    out.content_type = response.get_header_value("Content-Type");
    return Status::Ok();
  }

  // The reused request is emptied for the next call.
  void ClearRequest() {
    request.headers.clear();
    request.body.clear();
    request.response_handler = nullptr;
    request.content_receiver = nullptr;
  }

  Status ErrorStatus(httplib::Error error, Connection& c, const std::string& what) {
    connect_failed = error == httplib::Error::Connection ||
                     error == httplib::Error::SSLServerVerification ||
                     error == httplib::Error::SSLConnection;
    if ((error == httplib::Error::Read || error == httplib::Error::Write) && !c.answered &&
        out_status_code == 0) {
      // Closed before any answer on a connection that never worked: with TLS 1.3 a server
      // that rejects (or misses) the client certificate says so only now; without TLS the
      // port may speak TLS.
      connect_failed = true;
      return Status::Unavailable(
          what + (c.tls ? ": TLS: the server closed the connection before answering (client "
                          "certificate missing or rejected?)"
                        : ": the server closed the connection before answering (a TLS port? "
                          "use https)"));
    }
    switch (error) {
      case httplib::Error::Connection:
        return Status::Unavailable(what +
                                   ": cannot connect: connection refused or no route to host");
      case httplib::Error::Read:
        return Status::Unavailable(what + ": connection closed without a complete response");
      case httplib::Error::Write:
        return Status::Unavailable(what + ": connection closed while sending the request");
      case httplib::Error::SSLServerVerification: {
        const long result = static_cast<httplib::SSLClient&>(*c.client).get_openssl_verify_result();
        const char* reason = result != X509_V_OK ? X509_verify_cert_error_string(result)
                                                 : "the host name does not match the certificate";
        return Status::Unavailable(what + ": TLS: certificate verification failed: " + reason);
      }
      case httplib::Error::SSLConnection:
        return Status::Unavailable(what +
                                   ": TLS handshake failed (wrong CA, rejected client "
                                   "certificate, or not a TLS server)");
      case httplib::Error::SSLLoadingCerts:
        return Status::InvalidArgument(
            what + ": TLS: cannot load the CA file " +
            (options.tls.ca_file.empty() ? std::string("(system)") : options.tls.ca_file));
      default:
        return Status::Unavailable(what + ": " + httplib::to_string(error));
    }
  }

  FetcherOptions options;  // set once in Create
  std::vector<Connection> connections;
  bool connect_failed = false;  // the last request failed before it had a connection
  long out_status_code = 0;     // of the failing request, for ErrorStatus
  // Reused across calls so that a steady series of requests allocates little.
  Target target;
  httplib::Request request;
  httplib::Response response;
};

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(FetcherOptions options) {
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return Status::InvalidArgument("HTTP timeouts must be positive");
  }
  struct File {
    const std::string& path;
    const char* what;
  };
  for (const File& f :
       {File{options.tls.ca_file, "CA file"}, File{options.tls.cert_file, "client certificate"},
        File{options.tls.key_file, "client key"}}) {
    if (!f.path.empty() && !Readable(f.path)) {
      return Status::InvalidArgument(std::string("cannot read the ") + f.what + " " + f.path);
    }
  }
  for (const std::string* proxy : {&options.proxy.http_proxy, &options.proxy.https_proxy}) {
    if (proxy->empty()) {
      continue;
    }
    Target via;
    const std::string url = proxy->find("://") == std::string::npos ? "http://" + *proxy : *proxy;
    if (Status s = ParseTarget(url, "proxy " + RedactUrl(url), via); !s.ok()) {
      return s;
    }
    if (via.tls) {
      return Status::InvalidArgument("proxy " + RedactUrl(url) +
                                     ": an https:// proxy is not supported (use http://)");
    }
  }
  if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
    return Status::InvalidArgument("a client certificate needs its key, and a key its certificate");
  }
  runtime::IgnoreSigpipeOnce();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->connections.reserve(kMaxOpenConnections);
  return std::unique_ptr<HttpFetcher>(new HttpFetcher(std::move(impl)));
}

HttpFetcher::HttpFetcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpFetcher::~HttpFetcher() = default;

Result<HttpResponse> HttpFetcher::Get(const std::string& url) {
  HttpResponse response;
  ETCDMON_RETURN_IF_ERROR(Get(url, response));
  return response;
}

Status HttpFetcher::Get(const std::string& url, HttpResponse& out) {
  return impl_->Send("GET", url, CallOptions{}, out);
}

bool HttpFetcher::last_failure_was_connect() const { return impl_->connect_failed; }

Result<HttpResponse> HttpFetcher::Post(const std::string& url, std::string_view body,
                                       const HttpHeaders& headers, const CallOptions& call) {
  HttpResponse out;
  ETCDMON_RETURN_IF_ERROR(Post(url, body, headers, out, call));
  return out;
}

Status HttpFetcher::Post(const std::string& url, std::string_view body, const HttpHeaders& headers,
                         HttpResponse& out, const CallOptions& call) {
  Impl& impl = *impl_;
  const std::string prefix = "POST " + RedactUrl(url) + ": ";
  if (body.size() > impl.options.max_request_body_bytes) {
    return Status::InvalidArgument(prefix + "request body of " + std::to_string(body.size()) +
                                   " bytes is larger than the limit of " +
                                   std::to_string(impl.options.max_request_body_bytes) + " bytes");
  }
  ETCDMON_RETURN_IF_ERROR(CheckHeaders(headers, prefix));
  for (const auto& [name, value] : headers) {
    impl.request.headers.emplace(name, value);
  }
  impl.request.body.assign(body.data(), body.size());
  return impl.Send("POST", url, call, out);
}

Result<HttpResponse> HttpFetcher::Delete(const std::string& url, const HttpHeaders& headers,
                                         const CallOptions& call) {
  Impl& impl = *impl_;
  ETCDMON_RETURN_IF_ERROR(CheckHeaders(headers, "DELETE " + RedactUrl(url) + ": "));
  for (const auto& [name, value] : headers) {
    impl.request.headers.emplace(name, value);
  }
  HttpResponse out;
  ETCDMON_RETURN_IF_ERROR(impl.Send("DELETE", url, call, out));
  return out;
}

}  // namespace etcdmon::http
