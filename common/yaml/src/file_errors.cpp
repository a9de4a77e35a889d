#include "etcdmon/yaml/file_errors.h"

#include <algorithm>
#include <set>

#include "etcdmon/strings/strings.h"

namespace etcdmon::yaml {

void FileErrors::Add(const YAML::Node& at, std::string_view reason) {
  lines_.push_back(Line(at) + ": " + std::string(reason));
}

std::string FileErrors::Line(const YAML::Node& at) const {
  return source_ + ":" + std::to_string(std::max(at.Mark().line, 0) + 1);
}

Status FileErrors::ToStatus() const {
  return lines_.empty() ? Status::Ok() : Status::InvalidArgument(strings::Join(lines_, "\n"));
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text.substr(0, 256)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + (text.size() > 256 ? "...\"" : "\"");
}

std::vector<std::pair<YAML::Node, YAML::Node>> Entries(const YAML::Node& map, FileErrors& errors) {
  std::vector<std::pair<YAML::Node, YAML::Node>> entries;
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      errors.Add(it->first, "keys must be names");
      continue;
    }
    if (!seen.insert(it->first.Scalar()).second) {
      errors.Add(it->first, "duplicate key " + Quote(it->first.Scalar()));
      continue;
    }
    entries.emplace_back(it->first, it->second);
  }
  return entries;
}

}  // namespace etcdmon::yaml
