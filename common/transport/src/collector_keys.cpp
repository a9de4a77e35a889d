#include "etcdmon/transport/collector_keys.h"

#include <algorithm>
#include <unordered_map>

#include "etcdmon/files/private_files.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::transport {
namespace {

// An allow-list names every collector of a region: a few thousand lines at most.
constexpr std::size_t kMaxFileBytes = 4u << 20;
// Collector ids the batch validation accepts are at most this long (BatchLimits default).
constexpr std::size_t kMaxIdBytes = 128;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits `line` into whitespace-separated words.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) {
      ++i;
    }
    if (i > start) {
      words.push_back(line.substr(start, i - start));
    }
  }
  return words;
}

}  // namespace

bool CollectorKeys::Knows(std::string_view public_key) const {
  return ids_by_key_.find(std::string(public_key)) != ids_by_key_.end();
}

bool CollectorKeys::Allows(std::string_view public_key, std::string_view collector_id) const {
  auto it = ids_by_key_.find(std::string(public_key));
  if (it == ids_by_key_.end()) {
    return false;
  }
  return std::find(it->second.begin(), it->second.end(), collector_id) != it->second.end();
}

Result<CollectorKeys> CollectorKeys::Parse(std::string_view text, const std::string& path) {
  CollectorKeys keys;
  std::unordered_map<std::string, std::string> key_of_id;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    // '#' is in the Z85 alphabet, so a comment is a word that starts with '#' where no key
    // can be: the first word (ids never hold '#'), or any word after the two fields.
    std::vector<std::string_view> words = Words(line);
    if (words.size() > 2 && words[2].front() == '#') {
      words.resize(2);
    }
    if (words.empty() || words[0].front() == '#') {
      continue;
    }
    const std::string where = path + ":" + std::to_string(line_number) + ": ";
    if (words.size() != 2) {
      return Status::InvalidArgument(where + "want `collector-id public-key`, found " +
                                     std::to_string(words.size()) + " fields");
    }
    const std::string id(words[0]);
    const std::string key(words[1]);
    if (id.size() > kMaxIdBytes) {
      return Status::InvalidArgument(where + "collector id longer than " +
                                     std::to_string(kMaxIdBytes) + " bytes");
    }
    if (!IsValidCurveKey(key)) {
      return Status::InvalidArgument(where + "public key is not 40 Z85 characters (curve.pub)");
    }
    auto [known, inserted] = key_of_id.emplace(id, key);
    if (!inserted) {
      if (known->second == key) {
        continue;  // the same line twice
      }
      return Status::InvalidArgument(where + "collector id " + id +
                                     " is listed with two different keys");
    }
    keys.ids_by_key_[key].push_back(id);
    ++keys.id_count_;
  }
  return keys;
}

Result<CollectorKeys> CollectorKeys::Load(const std::string& path) {
  Result<std::string> content = files::ReadSmallFile(path, kMaxFileBytes);
  if (!content.ok()) {
    return content.status().WithContext("collector keys file");
  }
  return Parse(*content, path);
}

}  // namespace etcdmon::transport
