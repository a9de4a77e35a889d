#include "sequence_state.h"

#include <cctype>
#include <limits>
#include <string_view>

#include "etcdmon/files/private_files.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::transport::detail {
namespace {

constexpr std::size_t kMaxStateFileBytes = 4096;

}  // namespace

Result<uint64_t> ReadSequenceState(const std::string& path) {
  Result<std::string> content = files::ReadSmallFile(path, kMaxStateFileBytes);
  if (!content.ok()) {
    if (content.status().code() == StatusCode::kNotFound) {
      return uint64_t{0};
    }
    return content.status().WithContext("sequence state file");
  }
  const std::string_view text = strings::TrimAsciiWhitespace(*content);
  auto corrupt = [&](const std::string& why) {
    return Status::InvalidArgument("sequence state file " + path + " is corrupt (" + why +
                                   "); it must hold one positive decimal number. Restore it, or "
                                   "write a number above every sequence this collector has sent");
  };
  if (text.empty()) {
    return corrupt("empty");
  }
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return corrupt("unexpected character");
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return corrupt("number too large");
    }
    value = value * 10 + digit;
  }
  if (value == 0) {
    return corrupt("zero");
  }
  return value;
}

Status WriteSequenceState(const std::string& path, uint64_t next_unreserved) {
  return files::WriteFileAtomically(path, std::to_string(next_unreserved) + "\n", 0600)
      .WithContext("sequence state file");
}

}  // namespace etcdmon::transport::detail
