#include "etcdmon/cli/grpc_tls_keygen.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <functional>
#include <memory>
#include <ostream>

#include "etcdmon/cli/ctl.h"
#include "etcdmon/files/private_files.h"

namespace etcdmon::cli {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// A DNS name or an IP address; nothing that could inject into the subjectAltName list.
bool IsValidHost(const std::string& host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == ':' || c == '*';
    if (!ok) {
      return false;
    }
  }
  return host.find(':') == std::string::npos || IsIpAddress(host);
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) {
    return Status::Internal("cannot make the certificate extension " +
                            std::string(OBJ_nid2sn(nid)));
  }
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  return added == 1 ? Status::Ok() : Status::Internal("cannot add a certificate extension");
}

// A certificate for `key` named `cn`, signed by `issuer_key` (and `issuer`, or itself).
Result<CertPtr> MakeCertificate(EVP_PKEY* key, const std::string& cn, X509* issuer,
                                EVP_PKEY* issuer_key, int days,
                                const std::vector<std::pair<int, std::string>>& extensions) {
  CertPtr cert(X509_new(), X509_free);
  unsigned char serial_bytes[16];
  if (!cert || RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return Status::Internal("cannot start a certificate");
  }
  serial_bytes[0] &= 0x7f;  // a positive serial number
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  const bool serial_set =
      serial != nullptr && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(serial);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!serial_set || X509_set_version(cert.get(), 2) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), int64_t{days} * 86400) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) !=
          1) {
    return Status::Internal("cannot fill in a certificate");
  }
  for (const auto& [nid, value] : extensions) {
    ETCDMON_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer != nullptr ? issuer : cert.get(), nid, value));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return Status::Internal("cannot sign a certificate");
  }
  return cert;
}

Result<std::string> ToPem(const std::function<int(BIO*)>& write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || write(bio.get()) != 1) {
    return Status::Internal("cannot encode PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

bool Exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

Status Generate(const std::string& dir, const std::vector<std::string>& hosts, int days,
                const TlsKeygenNames& names) {
  KeyPtr ca_key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  KeyPtr server_key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!ca_key || !server_key) {
    return Status::Internal("cannot generate EC P-256 keys");
  }
  Result<CertPtr> ca =
      MakeCertificate(ca_key.get(), names.ca_common_name, nullptr, ca_key.get(), days,
                      {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                       {NID_key_usage, "critical,keyCertSign,cRLSign"},
                       {NID_subject_key_identifier, "hash"}});
  if (!ca.ok()) {
    return ca.status();
  }
  std::string alt_names;
  for (const std::string& host : hosts) {
    alt_names +=
        (alt_names.empty() ? "" : ",") + std::string(IsIpAddress(host) ? "IP:" : "DNS:") + host;
  }
  Result<CertPtr> server =
      MakeCertificate(server_key.get(), hosts.front(), ca->get(), ca_key.get(), days,
                      {{NID_basic_constraints, "critical,CA:FALSE"},
                       {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                       {NID_ext_key_usage, "serverAuth"},
                       {NID_subject_key_identifier, "hash"},
                       {NID_authority_key_identifier, "keyid"},
                       {NID_subject_alt_name, alt_names}});
  if (!server.ok()) {
    return server.status();
  }
  Result<std::string> ca_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, ca->get()); });
  Result<std::string> server_pem =
      ToPem([&](BIO* b) { return PEM_write_bio_X509(b, server->get()); });
  Result<std::string> key_pem = ToPem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  for (const Result<std::string>* pem : {&ca_pem, &server_pem, &key_pem}) {
    if (!pem->ok()) {
      return pem->status();
    }
  }
  ETCDMON_RETURN_IF_ERROR(files::MakePrivateDirectory(dir));
  // The key first: certificates without their key are useless, the reverse a refusal to start.
  ETCDMON_RETURN_IF_ERROR(files::WriteFileAtomically(dir + "/" + names.key_file, *key_pem, 0600));
  ETCDMON_RETURN_IF_ERROR(
      files::WriteFileAtomically(dir + "/" + names.cert_file, *server_pem, 0644));
  return files::WriteFileAtomically(dir + "/" + names.ca_file, *ca_pem, 0644);
}

}  // namespace

int RunTlsKeygen(const std::string& dir, const std::vector<std::string>& hosts, int days,
                 bool overwrite, const TlsKeygenNames& names, std::ostream& out,
                 std::ostream& err) {
  if (hosts.empty()) {
    err << "error: keygen: " << names.flag << ": want at least one host name or address\n";
    return config::kExitUsage;
  }
  for (const std::string& host : hosts) {
    if (!IsValidHost(host)) {
      err << "error: keygen: " << names.flag << " \"" << host
          << "\": want a DNS name or an IP address\n";
      return config::kExitUsage;
    }
  }
  const std::string paths[] = {dir + "/" + names.ca_file, dir + "/" + names.cert_file,
                               dir + "/" + names.key_file};
  if (!overwrite) {
    for (const std::string& path : paths) {
      if (Exists(path)) {
        err << "error: keygen: " << path << " exists (pass --force to replace " << names.force_what
            << ")\n";
        return kExitFailed;
      }
    }
  }
  if (Status written = Generate(dir, hosts, days, names); !written.ok()) {
    err << "error: keygen: " << written.message() << "\n";
    return kExitFailed;
  }
  out << "wrote " << paths[0] << " (" << names.ca_use << "), " << paths[1] << " and " << paths[2]
      << " (" << names.server_use << ")\n";
  return kExitOk;
}

}  // namespace etcdmon::cli
