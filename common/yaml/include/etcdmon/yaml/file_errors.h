#pragma once

// Reading a YAML (or JSON) configuration file the way every file of the project is read: every
// problem of the file reported at once, one "source:line: reason" line each, and the keys of a
// mapping taken in file order with duplicates refused. Used by the alert rules file and the
// all-in-one's clusters file.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::yaml {

/// The problems found in one file.
class FileErrors {
 public:
  /// `source` names the file in every line (its path, or "--flag" for inline text).
  explicit FileErrors(std::string_view source) : source_(source) {}

  /// Adds "source:line: reason" for the node `at`.
  void Add(const YAML::Node& at, std::string_view reason);
  /// "source:line" of `at` (line 1 for a node without a position: the empty document).
  std::string Line(const YAML::Node& at) const;
  bool empty() const { return lines_.empty(); }
  /// OK, or InvalidArgument with every line, in the order found.
  Status ToStatus() const;

 private:
  std::string source_;
  std::vector<std::string> lines_;
};

/// `text` in double quotes for an error line: at most 256 bytes, '"' and '\' escaped, control
/// characters as '?', so a hostile file cannot forge lines of the report.
std::string Quote(std::string_view text);

/// The entries of a mapping in file order; a key that is not a scalar, or repeats one, is
/// reported and left out.
std::vector<std::pair<YAML::Node, YAML::Node>> Entries(const YAML::Node& map, FileErrors& errors);

}  // namespace etcdmon::yaml
