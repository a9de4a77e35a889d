#pragma once

// The aggregator's allow-list of collector CURVE keys: which public key may send as which
// collector ids.
//
// File format (`--collector-keys FILE`): one entry per line, `collector-id public-key`, separated
// by spaces or tabs; a word starting with `#` in place of the id, or after the key, starts a
// comment (to the end of the line; `#` is a Z85 character, so a key may hold it); blank lines
// are ignored. The
// public key is the collector's curve.pub (40 Z85 characters). A key may be listed with several
// ids (one collector process sampling under several ids, or a key shared on purpose); an id may
// appear under one key only, so that exactly one key can speak for it.
//
// Values; safe for concurrent reads.

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::transport {

/// A parsed allow-list.
class CollectorKeys final {
 public:
  /// Whether `public_key` (Z85) is listed at all.
  bool Knows(std::string_view public_key) const;
  /// Whether `public_key` (Z85) is listed with `collector_id`.
  bool Allows(std::string_view public_key, std::string_view collector_id) const;

  std::size_t key_count() const { return ids_by_key_.size(); }
  std::size_t id_count() const { return id_count_; }

  /// Parses the text of an allow-list file. `path` only names the file in errors.
  /// @return InvalidArgument "<path>:<line>: <what is wrong>" for the first bad line.
  static Result<CollectorKeys> Parse(std::string_view text, const std::string& path);
  /// Reads and parses `path`. NotFound / PermissionDenied / InvalidArgument, naming the path.
  static Result<CollectorKeys> Load(const std::string& path);

 private:
  std::unordered_map<std::string, std::vector<std::string>> ids_by_key_;
  std::size_t id_count_ = 0;
};

}  // namespace etcdmon::transport
