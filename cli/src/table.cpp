#include "etcdmon/cli/table.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace etcdmon::cli {
namespace {

std::string Rule(const std::vector<size_t>& widths) {
  std::string out = "+";
  for (size_t w : widths) {
    out.append(w + 2, '-');
    out += '+';
  }
  out += '\n';
  return out;
}

std::string Centered(const std::string& text, size_t width) {
  size_t pad = width - text.size();
  size_t left = pad / 2;
  return std::string(left, ' ') + text + std::string(pad - left, ' ');
}

std::string RightAligned(const std::string& text, size_t width) {
  return std::string(width - text.size(), ' ') + text;
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> upper = header;
  for (auto& h : upper) {
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  }
  std::vector<size_t> widths(upper.size());
  for (size_t i = 0; i < upper.size(); ++i) {
    widths[i] = upper[i].size();
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }

  std::string out = Rule(widths);
  out += '|';
  for (size_t i = 0; i < upper.size(); ++i) {
    out += ' ' + Centered(upper[i], widths[i]) + " |";
  }
  out += '\n';
  out += Rule(widths);
  for (const auto& row : rows) {
    out += '|';
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : std::string();
      out += ' ' + RightAligned(cell, widths[i]) + " |";
    }
    out += '\n';
  }
  out += Rule(widths);
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 10) {
    return std::to_string(bytes) + " B";
  }
  // Same rounding as etcdctl (go-humanize): one decimal below 10 units, none above.
  size_t unit = 0;
  double scale = 1;
  while (unit < 6 && static_cast<double>(bytes) >= scale * 1000) {
    scale *= 1000;
    ++unit;
  }
  double value = static_cast<double>(bytes) / scale;
  double rounded = std::floor(value * 10 + 0.5) / 10;
  char buf[32];
  if (rounded < 10) {
    std::snprintf(buf, sizeof(buf), "%.1f %s", rounded, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f %s", rounded, kUnits[unit]);
  }
  return buf;
}

std::string HexId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace etcdmon::cli
