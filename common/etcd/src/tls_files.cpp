#include "tls_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace etcdmon::etcd::detail {
namespace {

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read " + what + " \"" + path +
                                   "\": " + std::strerror(errno));
  }
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) {
    return Status::InvalidArgument("cannot read " + what + " \"" + path + "\": read error");
  }
  std::string text = data.str();
  if (text.empty()) {
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
