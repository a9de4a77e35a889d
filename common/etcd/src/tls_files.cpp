#include "tls_files.h"

#include <cstddef>

#include "etcdmon/files/private_files.h"

namespace etcdmon::etcd::detail {
namespace {

// Certificate chains and keys are a few KiB; a bound keeps a wrong path from filling memory.
constexpr std::size_t kMaxTlsFileBytes = 1u << 20;

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  Result<std::string> text = files::ReadSmallFile(path, kMaxTlsFileBytes);
  if (!text.ok()) {
    return Status::InvalidArgument("cannot read " + what + " \"" + path +
                                   "\": " + text.status().message());
  }
  if (text->empty()) {
    return Status::InvalidArgument(what + " \"" + path + "\" is empty");
  }
  return text;
}

}  // namespace

Result<TlsMaterial> ReadTlsMaterial(const config::TlsConfig& tls) {
  TlsMaterial m;
  if (!tls.ca_file.empty()) {
    auto ca = ReadFile(tls.ca_file, "CA file");
    if (!ca.ok()) {
      return ca.status();
    }
    m.ca = std::move(*ca);
  }
  if (!tls.cert_file.empty()) {
    auto cert = ReadFile(tls.cert_file, "client certificate file");
    if (!cert.ok()) {
      return cert.status();
    }
    m.cert = std::move(*cert);
  }
  if (!tls.key_file.empty()) {
    auto key = ReadFile(tls.key_file, "client key file");
    if (!key.ok()) {
      return key.status();
    }
    m.key = std::move(*key);
  }
  return m;
}

}  // namespace etcdmon::etcd::detail
