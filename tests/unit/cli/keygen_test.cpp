#include "etcdmon/cli/keygen.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <sstream>

#include "etcdmon/cli/grpc_tls_keygen.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/collector_keys.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::cli {
namespace {

using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// keygen writes a matching key pair with mode 0600, prints only the public key, and keeps an
// existing pair unless --force.
TEST(KeygenTest, WritesPairAndKeepsExisting) {
  TempDir dir;
  const std::string keys = dir.File("keys");
  std::ostringstream out, err;
  ASSERT_EQ(RunKeygen(keys, false, "", out, err), 0) << err.str();
  Result<transport::CurveKeyPair> pair = transport::LoadCurveKeyPair(keys);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(ModeOf(keys + "/curve.key"), 0600u);
  EXPECT_EQ(ModeOf(keys + "/curve.pub"), 0600u);
  EXPECT_NE(out.str().find(pair->public_key), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find(pair->secret_key), std::string::npos);

  std::ostringstream out2, err2;
  EXPECT_EQ(RunKeygen(keys, false, "", out2, err2), 1);
  EXPECT_NE(err2.str().find("--force"), std::string::npos) << err2.str();
  EXPECT_EQ(transport::LoadCurveKeyPair(keys)->secret_key, pair->secret_key);

  std::ostringstream out3, err3;
  ASSERT_EQ(RunKeygen(keys, true, "", out3, err3), 0) << err3.str();
  EXPECT_NE(transport::LoadCurveKeyPair(keys)->secret_key, pair->secret_key);
}

// keygen --collector ID writes the collector's pair and ends with the aggregator's allow-list
// line `ID PUBLICKEY`, which parses as an allow-list entry for exactly that key and id; an id
// the aggregator could never accept is a usage error and writes nothing.
TEST(KeygenTest, CollectorPairPrintsTheAllowListLine) {
  TempDir dir;
  const std::string keys = dir.File("etcd-1");
  std::ostringstream out, err;
  ASSERT_EQ(RunKeygen(keys, false, "etcd-1", out, err), 0) << err.str();
  Result<transport::CurveKeyPair> pair = transport::LoadCurveKeyPair(keys);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  std::string text = out.str();
  ASSERT_FALSE(text.empty());
  text.pop_back();  // the final newline
  const std::string last_line = text.substr(text.rfind('\n') + 1);
  EXPECT_EQ(last_line, "etcd-1 " + pair->public_key);
  EXPECT_EQ(out.str().find(pair->secret_key), std::string::npos);
  Result<transport::CollectorKeys> list = transport::CollectorKeys::Parse(last_line, "stdout");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->Allows(pair->public_key, "etcd-1"));
  EXPECT_EQ(list->id_count(), 1u);

  std::ostringstream out2, err2;
  EXPECT_EQ(RunKeygen(dir.File("bad"), false, "etcd 1", out2, err2), 2);
  EXPECT_NE(err2.str().find("--collector"), std::string::npos) << err2.str();
  struct stat st {};
  EXPECT_NE(stat(dir.File("bad").c_str(), &st), 0);  // nothing written
}

// keygen --https-tls writes the TLS proxy's material under its own names (the gRPC names stay
// unused): the key 0600, a certificate for the hosts that verifies against the CA written beside
// it, and nothing replaced without --force.
TEST(KeygenTest, HttpsTlsWritesTheProxysCertificateUnderItsOwnNames) {
  TempDir dir;
  const std::string keys = dir.File("https");
  std::ostringstream out, err;
  ASSERT_EQ(RunTlsKeygen(keys, {"tls-proxy", "127.0.0.1"}, 30, false, kHttpsTlsNames, out, err), 0)
      << err.str();
  EXPECT_EQ(ModeOf(keys + "/https-server-key.pem"), 0600u);
  EXPECT_EQ(ModeOf(keys + "/https-server.pem"), 0644u);
  EXPECT_EQ(ModeOf(keys + "/https-ca.pem"), 0644u);
  struct stat st {};
  EXPECT_NE(stat((keys + "/" + kGrpcCaFile).c_str(), &st), 0);
  auto load = [](const std::string& path) {
    std::unique_ptr<FILE, decltype(&fclose)> file(fopen(path.c_str(), "r"), fclose);
    return std::unique_ptr<X509, decltype(&X509_free)>(
        file ? PEM_read_X509(file.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  };
  auto ca = load(keys + "/https-ca.pem");
  auto server = load(keys + "/https-server.pem");
  ASSERT_TRUE(ca && server);
  EXPECT_EQ(X509_verify(server.get(), X509_get0_pubkey(ca.get())), 1) << "signed by the CA";
  EXPECT_EQ(X509_check_host(server.get(), "tls-proxy", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(server.get(), "elsewhere", 0, 0, nullptr), 1) << "its hosts only";
  EXPECT_NE(out.str().find("https-ca.pem"), std::string::npos) << out.str();

  std::ostringstream out2, err2;
  EXPECT_EQ(RunTlsKeygen(keys, {"tls-proxy"}, 30, false, kHttpsTlsNames, out2, err2), 1);
  EXPECT_NE(err2.str().find("--force"), std::string::npos) << err2.str();
  std::ostringstream out3, err3;
  EXPECT_EQ(RunTlsKeygen(dir.File("bad"), {"a b"}, 30, false, kHttpsTlsNames, out3, err3), 2);
  EXPECT_NE(err3.str().find("--https-tls"), std::string::npos) << err3.str();
}

}  // namespace
}  // namespace etcdmon::cli
