#include "etcdmon/http/fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <new>
#include <utility>

namespace etcdmon::http {
namespace {

// curl_global_init is not thread-safe and must run once per process, before any handle.
CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

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

bool IsTlsError(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00  // 7.77.0
    case CURLE_SSL_CLIENTCERT:
#endif
      return true;
    default:
      return false;
  }
}

}  // namespace

struct HttpFetcher::Impl {
  ~Impl() {
    if (curl != nullptr) {
      curl_easy_cleanup(curl);
    }
  }

  // libcurl write callback: appends to `body` up to the limit; returning less than it was
  // given makes libcurl abort the transfer with CURLE_WRITE_ERROR.
  static std::size_t Write(char* data, std::size_t size, std::size_t count, void* user) {
    auto* impl = static_cast<Impl*>(user);
    const std::size_t n = size * count;  // size is always 1
    if (n > impl->options.max_body_bytes - impl->body->size()) {
      impl->body_too_large = true;
      return 0;
    }
    try {
      impl->body->append(data, n);
    } catch (const std::bad_alloc&) {
      impl->out_of_memory = true;  // no exception may cross libcurl's C frames
      return 0;
    }
    return n;
  }

  Status Setup() {
    const long verify = options.tls.insecure_skip_verify ? 0L : 1L;
    struct {
      CURLcode code;
      const char* what;
    } const results[] = {
      {curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL"},
      {curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error), "ERRORBUFFER"},
      {curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Impl::Write), "WRITEFUNCTION"},
      {curl_easy_setopt(curl, CURLOPT_WRITEDATA, this), "WRITEDATA"},
      {curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count())),
       "TIMEOUT_MS"},
      {curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                        static_cast<long>(options.connect_timeout.count())),
       "CONNECTTIMEOUT_MS"},
      // Rejects a declared Content-Length over the limit before any body is read; bodies
      // of unknown length are cut off by Write().
      {curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                        static_cast<curl_off_t>(std::min<std::uint64_t>(
                            options.max_body_bytes, std::numeric_limits<curl_off_t>::max()))),
       "MAXFILESIZE_LARGE"},
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
      {curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"), "PROTOCOLS_STR"},
#else
      {curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS), "PROTOCOLS"},
#endif
      {curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L), "FOLLOWLOCATION"},
      {curl_easy_setopt(curl, CURLOPT_USERAGENT, "etcd-monitor"), "USERAGENT"},
      {curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, verify), "SSL_VERIFYPEER"},
      {curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, verify != 0 ? 2L : 0L), "SSL_VERIFYHOST"},
    };
    for (const auto& r : results) {
      if (r.code != CURLE_OK) {
        return Status::Internal(std::string("cannot set CURLOPT_") + r.what + ": " +
                                curl_easy_strerror(r.code));
      }
    }
    const struct {
      CURLoption option;
      const std::string& path;
      const char* what;
    } files[] = {
        {CURLOPT_CAINFO, options.tls.ca_file, "CA file"},
        {CURLOPT_SSLCERT, options.tls.cert_file, "client certificate"},
        {CURLOPT_SSLKEY, options.tls.key_file, "client key"},
    };
    for (const auto& f : files) {
      if (f.path.empty()) {
        continue;
      }
      const CURLcode code = curl_easy_setopt(curl, f.option, f.path.c_str());
      if (code != CURLE_OK) {
        return Status::InvalidArgument(std::string("cannot use ") + f.what + " " + f.path + ": " +
                                       curl_easy_strerror(code));
      }
    }
    return Status::Ok();
  }

  Status ErrorStatus(CURLcode code, const char* method, const std::string& url) const {
    const std::string reason = error[0] != '\0' ? error : curl_easy_strerror(code);
    const std::string prefix = std::string(method) + " " + RedactUrl(url) + ": ";
    if (body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
      return Status::ResourceExhausted(prefix + "response body is larger than the limit of " +
                                       std::to_string(options.max_body_bytes) + " bytes");
    }
    if (out_of_memory || code == CURLE_OUT_OF_MEMORY) {
      return Status::ResourceExhausted(prefix + "out of memory");
    }
    if (IsTlsError(code)) {
      return Status::Unavailable(prefix + "TLS: " + reason);
    }
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return Status::DeadlineExceeded(prefix + reason);
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return Status::InvalidArgument(prefix + reason);
      default:
        // Refused or reset connections, unknown hosts, empty replies: the server is not
        // there, or not answering, right now.
        return Status::Unavailable(prefix + reason);
    }
  }

  // Prepares the per-transfer state for a response into `out`.
  void BeginTransfer(HttpResponse& out) {
    out.status_code = 0;
    out.body.clear();
    out.content_type.clear();
    error[0] = '\0';
    body = &out.body;
    body_too_large = false;
    out_of_memory = false;
  }

  // Performs the transfer set up by the caller and fills `out` from its result.
  Status Perform(CURLcode setup, const char* method, const std::string& url, HttpResponse& out) {
    CURLcode code = setup;
    if (code == CURLE_OK) {
      code = curl_easy_perform(curl);
    }
    body = nullptr;
    if (code != CURLE_OK) {
      return ErrorStatus(code, method, url);
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    out.status_code = status;
    const char* content_type = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
        content_type != nullptr) {
      out.content_type = content_type;
    }
    return Status::Ok();
  }

  FetcherOptions options;  // set once in Create
  CURL* curl = nullptr;    // owned; keeps the connection cache between calls
  char error[CURL_ERROR_SIZE] = {};
  // Per-transfer state of the write callback.
  std::string* body = nullptr;
  bool body_too_large = false;
  bool out_of_memory = false;
};

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(FetcherOptions options) {
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return Status::InvalidArgument("HTTP timeouts must be positive");
  }
  const CURLcode init = GlobalInit();
  if (init != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(init));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->curl = curl_easy_init();
  if (impl->curl == nullptr) {
    return Status::Internal("curl_easy_init failed");
  }
  ETCDMON_RETURN_IF_ERROR(impl->Setup());
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
  Impl& impl = *impl_;
  impl.BeginTransfer(out);
  CURLcode code = curl_easy_setopt(impl.curl, CURLOPT_URL, url.c_str());
  if (code == CURLE_OK) {
    code = curl_easy_setopt(impl.curl, CURLOPT_HTTPGET, 1L);
  }
  return impl.Perform(code, "GET", url, out);
}

Result<HttpResponse> HttpFetcher::Post(const std::string& url, std::string_view body,
                                       const HttpHeaders& headers) {
  Impl& impl = *impl_;
  const std::string prefix = "POST " + RedactUrl(url) + ": ";
  if (body.size() > impl.options.max_request_body_bytes) {
    return Status::InvalidArgument(prefix + "request body of " + std::to_string(body.size()) +
                                   " bytes is larger than the limit of " +
                                   std::to_string(impl.options.max_request_body_bytes) +
                                   " bytes");
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> list(nullptr,
                                                                   &curl_slist_free_all);
  // Without this, libcurl may wait for a "100 Continue" before sending the body.
  std::string line = "Expect:";
  for (std::size_t i = 0; i <= headers.size(); ++i) {
    if (i > 0) {
      const auto& [name, value] = headers[i - 1];
      if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        // The value may be a token: name the header only.
        return Status::InvalidArgument(prefix + "invalid header " +
                                       (name.find_first_of("\r\n") == std::string::npos
                                            ? "\"" + name + "\""
                                            : std::string("name")));
      }
      // "Name;" is libcurl's spelling of a header with an empty value.
      line = value.empty() ? name + ";" : name + ": " + value;
    }
    curl_slist* appended = curl_slist_append(list.get(), line.c_str());
    if (appended == nullptr) {
      return Status::ResourceExhausted(prefix + "out of memory");
    }
    list.release();
    list.reset(appended);
  }

  HttpResponse out;
  impl.BeginTransfer(out);
  CURLcode code = curl_easy_setopt(impl.curl, CURLOPT_URL, url.c_str());
  if (code == CURLE_OK) {
    code = curl_easy_setopt(impl.curl, CURLOPT_POST, 1L);
  }
  if (code == CURLE_OK) {
    code = curl_easy_setopt(impl.curl, CURLOPT_POSTFIELDSIZE_LARGE,
                            static_cast<curl_off_t>(body.size()));
  }
  if (code == CURLE_OK) {
    code = curl_easy_setopt(impl.curl, CURLOPT_POSTFIELDS, body.data());
  }
  if (code == CURLE_OK) {
    code = curl_easy_setopt(impl.curl, CURLOPT_HTTPHEADER, list.get());
  }
  Status status = impl.Perform(code, "POST", url, out);
  // The header list and the body are freed on return: the handle must not keep them.
  curl_easy_setopt(impl.curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(impl.curl, CURLOPT_POSTFIELDS, nullptr);
  ETCDMON_RETURN_IF_ERROR(status);
  return out;
}

}  // namespace etcdmon::http
