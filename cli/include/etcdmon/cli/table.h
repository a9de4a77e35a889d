#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace etcdmon::cli {

/// Renders rows as an ASCII table in etcdctl's `-w table` look: a ruled header in upper case,
/// centred, and right-aligned cells. Rows shorter than the header are padded with empty cells.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

/// Bytes in SI units as etcdctl prints them: "0 B", "20 kB", "1.5 MB", "8.6 GB".
std::string HumanBytes(uint64_t bytes);

/// A member or cluster id the way etcd prints it: lower-case hex without leading zeros.
std::string HexId(uint64_t id);

}  // namespace etcdmon::cli
