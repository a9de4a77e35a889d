// `ctl snapshot save`: the member's database streamed to a temporary file, its SHA-256 checked,
// then renamed into place.

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string_view>

#include "etcdmon/cli/ctl_maintenance.h"
#include "etcdmon/cli/table.h"
#include "etcdmon/config/flags.h"

namespace etcdmon::cli {
namespace {

// etcd (3.3 and later) ends the snapshot stream with the SHA-256 of the database before it.
constexpr size_t kChecksumSize = 32;
// The database is whole pages, so a stream with its checksum is 32 bytes past a multiple of
// 512; etcdctl's restore tells a checksummed file by the same rule.
constexpr uint64_t kPageAlignment = 512;

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

struct EvpContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The temporary file being written: every byte goes to disk, and every byte but the last 32 (held
// back in `tail_` until more arrive) into the digest. Owns the file until Commit(); the
// destructor removes it unless committed.
class SnapshotFile {
 public:
  explicit SnapshotFile(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  ~SnapshotFile() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    if (!temp_path_.empty() && !committed_) {
      ::unlink(temp_path_.c_str());
    }
  }
  SnapshotFile(const SnapshotFile&) = delete;
  SnapshotFile& operator=(const SnapshotFile&) = delete;

  // Creates `<path>.XXXXXX` (mode 0600) next to the destination, so the rename stays on one
  // file system.
  Status Open(const std::string& path) {
    std::string pattern = path + ".XXXXXX";
    fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd_ < 0) {
      return StatusFromErrno(errno, "cannot create a temporary file next to \"" + path + "\"");
    }
    temp_path_ = pattern;
    digest_.reset(EVP_MD_CTX_new());
    if (!digest_ || EVP_DigestInit_ex(digest_.get(), EVP_sha256(), nullptr) != 1) {
      return Status::Internal("cannot initialise SHA-256");
    }
    return Status::Ok();
  }

  Status Append(std::string_view chunk) {
    bytes_ += chunk.size();
    if (bytes_ > max_bytes_) {
      return Status::ResourceExhausted("snapshot exceeds " + std::to_string(max_bytes_) + " bytes");
    }
    ETCDMON_RETURN_IF_ERROR(WriteAll(chunk));
    const auto* data = reinterpret_cast<const unsigned char*>(chunk.data());
    if (chunk.size() >= kChecksumSize) {
      Digest(tail_.data(), tail_size_);
      Digest(data, chunk.size() - kChecksumSize);
      std::memcpy(tail_.data(), data + chunk.size() - kChecksumSize, kChecksumSize);
      tail_size_ = kChecksumSize;
      return Status::Ok();
    }
    const size_t combined = tail_size_ + chunk.size();
    const size_t spill = combined > kChecksumSize ? combined - kChecksumSize : 0;
    Digest(tail_.data(), spill);
    std::memmove(tail_.data(), tail_.data() + spill, tail_size_ - spill);
    std::memcpy(tail_.data() + tail_size_ - spill, data, chunk.size());
    tail_size_ = combined - spill;
    return Status::Ok();
  }

  // Checks the trailing checksum against the data; on success returns its hex form.
  Result<std::string> Verify() {
    if (bytes_ < kChecksumSize || bytes_ % kPageAlignment != kChecksumSize) {
      return Status::FailedPrecondition(
          "snapshot of " + std::to_string(bytes_) +
          " bytes carries no SHA-256 trailer (is the member older than etcd 3.3?)");
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> computed{};
    unsigned int computed_size = 0;
    if (EVP_DigestFinal_ex(digest_.get(), computed.data(), &computed_size) != 1 ||
        computed_size != kChecksumSize) {
      return Status::Internal("cannot finish SHA-256");
    }
    if (std::memcmp(computed.data(), tail_.data(), kChecksumSize) != 0) {
      return Status::Internal("snapshot checksum mismatch: the member sent sha256 " +
                              Hex(tail_.data(), kChecksumSize) + ", the data hashes to " +
                              Hex(computed.data(), kChecksumSize));
    }
    return Hex(computed.data(), kChecksumSize);
  }

  // fsync, rename over `path`, fsync the directory: afterwards the file survives a crash.
  Status Commit(const std::string& path) {
    if (::fsync(fd_) != 0) {
      return StatusFromErrno(errno, "fsync \"" + temp_path_ + "\"");
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      return StatusFromErrno(errno, "close \"" + temp_path_ + "\"");
    }
    if (::rename(temp_path_.c_str(), path.c_str()) != 0) {
      return StatusFromErrno(errno, "rename to \"" + path + "\"");
    }
    committed_ = true;
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return Status::Ok();
  }

  uint64_t bytes() const { return bytes_; }

 private:
  void Digest(const unsigned char* data, size_t size) {
    if (size > 0) {
      EVP_DigestUpdate(digest_.get(), data, size);
    }
  }

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return StatusFromErrno(errno, "write \"" + temp_path_ + "\"");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  const uint64_t max_bytes_;
  int fd_ = -1;
  std::string temp_path_;  // empty until Open() succeeded
  bool committed_ = false;
  std::unique_ptr<EVP_MD_CTX, EvpContextDeleter> digest_;
  std::array<unsigned char, kChecksumSize> tail_{};  // the newest bytes, not yet digested
  size_t tail_size_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

Result<SnapshotSaved> SaveSnapshot(etcd::EtcdClient& client, const std::string& endpoint,
                                   const SnapshotOptions& options) {
  if (options.path.empty()) {
    return Status::InvalidArgument("snapshot save: no file given");
  }
  SnapshotFile file(options.max_bytes);
  ETCDMON_RETURN_IF_ERROR(file.Open(options.path));
  // etcd 3.4 sends no header with the stream, so the revision is the member's as the transfer
  // starts; a quiet member's snapshot holds exactly that revision.
  Result<etcd::EndpointStatus> before = client.GetStatus(endpoint);
  if (!before.ok()) {
    return before.status();
  }
  Result<etcd::SnapshotResult> streamed = client.Snapshot(
      endpoint, [&file](std::string_view chunk) { return file.Append(chunk); }, options.timeout);
  if (!streamed.ok()) {
    return streamed.status();
  }
  Result<std::string> checksum = file.Verify();
  if (!checksum.ok()) {
    return checksum.status().WithContext("endpoint " + endpoint);
  }
  ETCDMON_RETURN_IF_ERROR(file.Commit(options.path));
  SnapshotSaved saved;
  saved.endpoint = endpoint;
  saved.path = options.path;
  saved.size_bytes = file.bytes();
  saved.revision = streamed->header.revision > 0 ? streamed->header.revision : before->revision;
  saved.sha256_hex = std::move(checksum).value();
  return saved;
}

int RunSnapshotSave(etcd::EtcdClient& client, const SnapshotOptions& options, OutputFormat format,
                    std::ostream& out, std::ostream& err) {
  const std::vector<std::string> endpoints = client.Endpoints();
  if (endpoints.size() != 1) {
    err << "error: snapshot save needs exactly one endpoint (got " << endpoints.size()
        << "): a snapshot is one member's copy\n";
    return config::kExitUsage;
  }
  Result<SnapshotSaved> saved = SaveSnapshot(client, endpoints.front(), options);
  if (!saved.ok()) {
    err << "error: snapshot save: " << saved.status().message() << "\n";
    return kExitFailed;
  }
  if (format == OutputFormat::kJson) {
    nlohmann::json j = {{"endpoint", saved->endpoint},
                        {"path", saved->path},
                        {"size_bytes", saved->size_bytes},
                        {"revision", saved->revision},
                        {"sha256", saved->sha256_hex}};
    out << j.dump(2) << "\n";
  } else {
    out << "Snapshot saved at " << saved->path << ": " << HumanBytes(saved->size_bytes) << " ("
        << saved->size_bytes << " bytes), revision " << saved->revision << ", sha256 "
        << saved->sha256_hex << " verified\n";
  }
  return kExitOk;
}

}  // namespace etcdmon::cli
