#include "etcdmon/cli/keygen.h"

#include <ostream>

#include "etcdmon/cli/ctl.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::cli {

int RunKeygen(const std::string& dir, bool overwrite, std::ostream& out, std::ostream& err) {
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
  return kExitOk;
}

}  // namespace etcdmon::cli
