#include "etcdmon/transport/curve.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "etcdmon/files/private_files.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::transport {
namespace {

// ZeroMQ's Z85 alphabet (RFC 32).
constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

constexpr std::size_t kMaxKeyFileBytes = 4096;

std::string JoinPath(const std::string& dir, std::string_view file) {
  if (!dir.empty() && dir.back() == '/') {
    return dir + std::string(file);
  }
  return dir + "/" + std::string(file);
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

Result<CurveKeyPair> GenerateCurveKeyPair() {
  if (zmq_has("curve") == 0) {
    return Status::FailedPrecondition("libzmq was built without CURVE support");
  }
  char public_key[kCurveKeyLength + 1];
  char secret_key[kCurveKeyLength + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(errno));
  }
  return CurveKeyPair{std::string(public_key, kCurveKeyLength),
                      std::string(secret_key, kCurveKeyLength)};
}

bool IsValidCurveKey(std::string_view key) {
  if (key.size() != kCurveKeyLength) {
    return false;
  }
  for (char c : key) {
    if (kZ85Alphabet.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

Result<std::string> CurvePublicKeyFromSecret(std::string_view secret_key) {
  if (!IsValidCurveKey(secret_key)) {
    return Status::InvalidArgument("CURVE secret key is not 40 Z85 characters");
  }
  if (zmq_has("curve") == 0) {
    return Status::FailedPrecondition("libzmq was built without CURVE support");
  }
  const std::string secret(secret_key);
  char public_key[kCurveKeyLength + 1];
  if (zmq_curve_public(public_key, secret.c_str()) != 0) {
    return Status::InvalidArgument(std::string("CURVE secret key rejected: ") +
                                   zmq_strerror(errno));
  }
  return std::string(public_key, kCurveKeyLength);
}

Status WriteCurveKeyPair(const std::string& dir, const CurveKeyPair& pair, bool overwrite) {
  if (!IsValidCurveKey(pair.public_key) || !IsValidCurveKey(pair.secret_key)) {
    return Status::InvalidArgument("CURVE key pair is malformed (keys are 40 Z85 characters)");
  }
  Result<std::string> derived = CurvePublicKeyFromSecret(pair.secret_key);
  if (!derived.ok()) {
    return derived.status();
  }
  if (*derived != pair.public_key) {
    return Status::InvalidArgument("CURVE public key does not belong to the secret key");
  }
  ETCDMON_RETURN_IF_ERROR(files::MakePrivateDirectory(dir));
  const std::string secret_path = JoinPath(dir, kCurveSecretKeyFile);
  const std::string public_path = JoinPath(dir, kCurvePublicKeyFile);
  if (!overwrite) {
    for (const std::string& path : {secret_path, public_path}) {
      if (Exists(path)) {
        return Status::AlreadyExists(path + " already exists; not overwriting a key");
      }
    }
  }
  ETCDMON_RETURN_IF_ERROR(files::WriteFileAtomically(secret_path, pair.secret_key + "\n", 0600));
  return files::WriteFileAtomically(public_path, pair.public_key + "\n", 0600);
}

Result<std::string> LoadCurveKey(const std::string& path) {
  Result<std::string> content = files::ReadSmallFile(path, kMaxKeyFileBytes);
  if (!content.ok()) {
    return content.status().WithContext("CURVE key file");
  }
  const std::string_view key = strings::TrimAsciiWhitespace(*content);
  if (key.size() != kCurveKeyLength) {
    return Status::InvalidArgument("CURVE key file " + path + ": expected one key of " +
                                   std::to_string(kCurveKeyLength) + " Z85 characters, found " +
                                   std::to_string(key.size()) + " characters");
  }
  if (!IsValidCurveKey(key)) {
    return Status::InvalidArgument("CURVE key file " + path +
                                   ": key holds characters outside the Z85 alphabet");
  }
  return std::string(key);
}

Result<std::string> LoadCurveSecretKey(const std::string& path) {
  const files::SecretFileCheck check =
      files::CheckSecretFile(path, files::SecretFileKind::kPrivateKey);
  if (!check.status.ok()) {
    return check.status.WithContext("CURVE secret key file");
  }
  return LoadCurveKey(path);
}

Result<std::string> ResolveCurveKeyArgument(const std::string& key_or_file) {
  std::error_code error;
  if (std::filesystem::exists(key_or_file, error)) {
    return LoadCurveKey(key_or_file);
  }
  if (IsValidCurveKey(key_or_file)) {
    return key_or_file;
  }
  return Status::InvalidArgument("not a Z85 key of " + std::to_string(kCurveKeyLength) +
                                 " characters, and no file of that name exists");
}

Result<CurveKeyPair> LoadCurveKeyPair(const std::string& dir) {
  Result<std::string> secret = LoadCurveSecretKey(JoinPath(dir, kCurveSecretKeyFile));
  if (!secret.ok()) {
    return secret.status();
  }
  const std::string public_path = JoinPath(dir, kCurvePublicKeyFile);
  Result<std::string> public_key = LoadCurveKey(public_path);
  if (!public_key.ok()) {
    return public_key.status();
  }
  Result<std::string> derived = CurvePublicKeyFromSecret(*secret);
  if (!derived.ok()) {
    return derived.status();
  }
  if (*derived != *public_key) {
    return Status::InvalidArgument("CURVE key file " + public_path +
                                   " does not hold the public key of " +
                                   JoinPath(dir, kCurveSecretKeyFile));
  }
  return CurveKeyPair{std::move(*public_key), std::move(*secret)};
}

}  // namespace etcdmon::transport
