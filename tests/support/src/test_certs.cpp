#include "etcdmon/testing/test_certs.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "etcdmon/testing/process.h"

namespace etcdmon::testing {
namespace {

constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr std::chrono::milliseconds kOpensslTimeout{30000};

class CertMaker {
 public:
  explicit CertMaker(std::string dir) : dir_(std::move(dir)) {}

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  Status Run(std::vector<std::string> args) {
    args.insert(args.begin(), kOpenssl);
    auto out = RunCommand(args, Path("openssl.log"), kOpensslTimeout);
    return out.ok() ? Status::Ok() : out.status();
  }

  // A self-signed CA certificate and its key.
  Status MakeCa(const std::string& stem, const std::string& cn) {
    return Run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", Path(stem + "-key.pem"), "-out", Path(stem + ".pem"), "-days",
                "2", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  }

  // A leaf certificate signed by the CA "ca", with the given X.509 v3 extensions.
  Status MakeLeaf(const std::string& stem, const std::string& cn, const std::string& serial,
                  const std::string& extensions) {
    const std::string ext_file = Path(stem + ".ext");
    {
      std::ofstream ext(ext_file);
      ext << extensions;
      if (!ext) {
        return Status::Internal("cannot write " + ext_file);
      }
    }
    ETCDMON_RETURN_IF_ERROR(Run(
        {"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", Path(stem + "-key.pem"), "-out", Path(stem + ".csr"), "-subj", "/CN=" + cn}));
    return Run({"x509", "-req", "-in", Path(stem + ".csr"), "-CA", Path("ca.pem"), "-CAkey",
                Path("ca-key.pem"), "-set_serial", serial, "-days", "2", "-out",
                Path(stem + ".pem"), "-extfile", ext_file});
  }

 private:
  std::string dir_;
};

}  // namespace

Result<TestCertificates> GenerateTestCertificates(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Internal("cannot create " + dir + ": " + ec.message());
  }
  CertMaker maker(dir);
  ETCDMON_RETURN_IF_ERROR(maker.MakeCa("ca", "etcdmon test CA"));
  ETCDMON_RETURN_IF_ERROR(maker.MakeLeaf("server", "localhost", "2",
                                         "basicConstraints=CA:FALSE\n"
                                         "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                         "extendedKeyUsage=serverAuth,clientAuth\n"
                                         "subjectAltName=IP:127.0.0.1,DNS:localhost\n"));
  ETCDMON_RETURN_IF_ERROR(maker.MakeLeaf("client", "etcdmon-client", "3",
                                         "basicConstraints=CA:FALSE\n"
                                         "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                         "extendedKeyUsage=clientAuth\n"));
  ETCDMON_RETURN_IF_ERROR(maker.MakeCa("other-ca", "etcdmon unrelated test CA"));

  TestCertificates certs;
  certs.ca_cert = maker.Path("ca.pem");
  certs.ca_key = maker.Path("ca-key.pem");
  certs.server_cert = maker.Path("server.pem");
  certs.server_key = maker.Path("server-key.pem");
  certs.client_cert = maker.Path("client.pem");
  certs.client_key = maker.Path("client-key.pem");
  certs.other_ca_cert = maker.Path("other-ca.pem");
  return certs;
}

}  // namespace etcdmon::testing
