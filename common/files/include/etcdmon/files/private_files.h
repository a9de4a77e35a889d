#pragma once

// Files that hold secrets or monitoring data: who may read them, and how they are created.
//
// Every secret or key file the product reads goes through CheckSecretFile() before it is used:
// a token or password file that group or others can read is used with a warning, a private key
// (CURVE secret key, TLS private key) is refused. Everything the product writes is private to
// its user: data directories 0700, databases, sequence, key and token files 0600, and files are
// replaced through a temporary file created with O_EXCL|O_NOFOLLOW, so that a symlink planted
// at the temporary path is never followed.

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::files {

enum class SecretFileKind {
  kSecret,      // a token or password: group- or world-readable is warned about
  kPrivateKey,  // a CURVE secret key or TLS private key: group- or world-readable is refused
};

/// What CheckSecretFile() found.
struct SecretFileCheck {
  /// Not OK: do not use the file (it cannot be stat'ed, or it is a private key that group or
  /// others can read). The message names the path and the mode, never the content.
  Status status;
  /// Not empty: use the file, but show this one line to the operator (a secret that group or
  /// others can read; it names the path, the mode and the fix).
  std::string warning;
};

/// Checks the mode of `path` (following symlinks, as reading it does): group or other access
/// (any of 0077) is a warning for kSecret and a FailedPrecondition for kPrivateKey.
SecretFileCheck CheckSecretFile(const std::string& path, SecretFileKind kind);

/// Creates `path` and its missing parents with mode 0700. An existing directory owned by this
/// user is narrowed to 0700; one owned by someone else (a mounted volume) is left alone.
/// Errors name the path.
Status MakePrivateDirectory(const std::string& path);

/// Makes sure the file at `path` is private before a library opens it: creates it empty with
/// mode 0600 (O_EXCL|O_NOFOLLOW) when missing, else narrows it to 0600 (refusing a symlink).
/// SQLite gives its -wal and -shm files the mode of the database file; existing ones are
/// narrowed too by PrepareDatabaseFile().
Status PreparePrivateFile(const std::string& path);

/// PreparePrivateFile() for a SQLite database and its existing -wal, -shm and -journal files.
Status PrepareDatabaseFile(const std::string& path);

/// Creates a new file at exactly `path` for writing (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC) with
/// exactly `mode` (not filtered by the umask). Returns the descriptor, which the caller closes.
/// AlreadyExists when anything (a symlink included) is at `path`.
Result<int> CreateExclusiveFile(const std::string& path, mode_t mode);

/// Reads a whole small file (a key, token, state or allow-list file), refusing one larger than
/// `max_bytes` so that a wrong path cannot make a service read a disk image into memory.
/// NotFound, PermissionDenied or Internal naming the path; InvalidArgument when too large.
Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes);

/// Writes `content` to `path` with `mode`: a new temporary file next to it (random name,
/// CreateExclusiveFile) is written, fsynced and renamed over `path`, then the directory is
/// fsynced. The temporary file is removed on any error. Errors name the path and the step.
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode);

}  // namespace etcdmon::files
