#pragma once

// CURVE key pairs for the collector → aggregator link: generation, key files, loading.
//
// Key file format: one line holding the key as 40 Z85 characters (ZeroMQ's printable encoding
// of a 32-byte Curve25519 key), followed by a newline. Readers ignore leading and trailing
// whitespace. A key pair written to a directory is two files:
//   <dir>/curve.key  the secret key (never log it, never copy it off the host)
//   <dir>/curve.pub  the public key (give it to the peers: a collector needs the aggregator's)
// Both are created with mode 0600.
//
// Pure functions over files; safe for concurrent use (concurrent writers of the same directory
// race as any two file writers do).

#include <cstddef>
#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::transport {

/// Length of a Z85-encoded CURVE key.
inline constexpr std::size_t kCurveKeyLength = 40;
/// File names of a key pair inside its directory.
inline constexpr std::string_view kCurveSecretKeyFile = "curve.key";
inline constexpr std::string_view kCurvePublicKeyFile = "curve.pub";

/// A CURVE key pair, both halves Z85-encoded (kCurveKeyLength characters each).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

/// A fresh random key pair. FailedPrecondition when libzmq was built without CURVE support.
Result<CurveKeyPair> GenerateCurveKeyPair();

/// True when `key` is exactly kCurveKeyLength characters of the Z85 alphabet.
bool IsValidCurveKey(std::string_view key);

/// The public key that belongs to `secret_key`. InvalidArgument for a malformed key.
Result<std::string> CurvePublicKeyFromSecret(std::string_view secret_key);

/// Writes `pair` to `dir`/curve.key and `dir`/curve.pub with mode 0600, each through a temporary
/// file (O_EXCL|O_NOFOLLOW) that is fsynced and renamed into place, so a crash leaves either the
/// old file or the new. Creates `dir` (mode 0700, with its parents) when it is missing.
/// @return AlreadyExists when either file exists and `overwrite` is false (nothing is written);
///         InvalidArgument when a key of `pair` is malformed or the public key does not belong to
///         the secret key; Internal for a file system error (the message names the path).
Status WriteCurveKeyPair(const std::string& dir, const CurveKeyPair& pair, bool overwrite = false);

/// Reads one key from a key file (see the format above) and validates it.
/// @return NotFound when the file does not exist, PermissionDenied when it is unreadable,
///         InvalidArgument when its content is not one Z85 key; every message names the path.
Result<std::string> LoadCurveKey(const std::string& path);

/// LoadCurveKey() for a secret key: FailedPrecondition, before reading, when group or others
/// can read the file (files::CheckSecretFile).
Result<std::string> LoadCurveSecretKey(const std::string& path);

/// A key given on the command line as either the key itself or a key file: a path that names an
/// existing file is read as a key file (a path can be 40 characters of the Z85 alphabet too,
/// which includes '/' and '.'); otherwise the text must be a Z85 key.
/// @return the key; InvalidArgument (or the file's error) saying both readings failed.
Result<std::string> ResolveCurveKeyArgument(const std::string& key_or_file);

/// Reads `dir`/curve.key (LoadCurveSecretKey) and `dir`/curve.pub and checks that they belong
/// together.
Result<CurveKeyPair> LoadCurveKeyPair(const std::string& dir);

}  // namespace etcdmon::transport
