#include "etcdmon/cli/keygen.h"

#include <ostream>

#include "etcdmon/cli/ctl.h"
#include "etcdmon/transport/batch_validation.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::cli {

namespace {

// What the aggregator accepts as a collector id (transport::BatchLimits): the allow-list line
// must name an id that can ever send.
bool IsValidCollectorId(const std::string& id) {
  if (id.empty() || id.size() > transport::BatchLimits().max_collector_id_bytes) {
    return false;
  }
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

int RunKeygen(const std::string& dir, bool overwrite, const std::string& collector_id,
              std::ostream& out, std::ostream& err) {
  if (!collector_id.empty() && !IsValidCollectorId(collector_id)) {
    err << "error: keygen: --collector \"" << collector_id
        << "\": want 1..128 characters of A-Z a-z 0-9 _ . : -\n";
    return config::kExitUsage;
  }
  Result<transport::CurveKeyPair> pair = transport::GenerateCurveKeyPair();
  if (!pair.ok()) {
    err << "error: keygen: " << pair.status().message() << "\n";
    return kExitFailed;
  }
  Status written = transport::WriteCurveKeyPair(dir, *pair, overwrite);
  if (!written.ok()) {
    err << "error: keygen: " << written.message();
    if (written.code() == StatusCode::kAlreadyExists) {
      err << " (pass --force to replace the key pair)";
    }
    err << "\n";
    return kExitFailed;
  }
  // The public key is meant to be shared; the secret key stays in its file.
  out << "wrote " << dir << "/" << transport::kCurveSecretKeyFile << " and " << dir << "/"
      << transport::kCurvePublicKeyFile << "\n"
      << "public key: " << pair->public_key << "\n";
  if (!collector_id.empty()) {
    out << "# the aggregator's --collector-keys line for this collector:\n"
        << collector_id << " " << pair->public_key << "\n";
  }
  return kExitOk;
}

}  // namespace etcdmon::cli
