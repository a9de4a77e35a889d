#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "etcdmon/promtext/parser.h"
#include "number.h"

namespace etcdmon::promtext {
namespace {

// `name{a="x",b="y"}` for error messages.
std::string SeriesName(std::string_view name,
                       const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string out(name);
  out += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += labels[i].first;
    out += "=\"";
    out += labels[i].second;
    out += '"';
  }
  out += '}';
  return out;
}

// An unambiguous key for a label set: each string prefixed with its length, since label
// values may contain any byte.
void AppendKeyPart(std::string& key, std::string_view part) {
  const std::uint64_t size = part.size();
  key.append(reinterpret_cast<const char*>(&size), sizeof(size));
  key.append(part.data(), part.size());
}

}  // namespace

Result<std::vector<HistogramSeries>> HistogramView(const MetricFamily& family) {
  if (family.type != MetricType::kHistogram) {
    return Status::InvalidArgument("metric \"" + std::string(family.name) + "\" is " +
                                   std::string(MetricTypeName(family.type)) + ", not a histogram");
  }
  std::vector<HistogramSeries> series;
  std::unordered_map<std::string, std::size_t> index_by_key;
  std::vector<Label> key_labels;
  std::string key;
  std::string last_key;
  std::size_t last_index = 0;

  for (const Sample& sample : family.samples) {
    key_labels.clear();
    std::optional<std::string_view> le;
    for (const Label& label : sample.labels) {
      if (label.name == "le") {
        le = label.value;
      } else {
        key_labels.push_back(label);
      }
    }
    std::sort(key_labels.begin(), key_labels.end(),
              [](const Label& a, const Label& b) { return a.name < b.name; });
    key.clear();
    for (const Label& label : key_labels) {
      AppendKeyPart(key, label.name);
      AppendKeyPart(key, label.value);
    }

    // Samples of one series are usually adjacent, so try the previous series first.
    std::size_t index;
    if (!series.empty() && key == last_key) {
      index = last_index;
    } else {
      const auto [it, inserted] = index_by_key.emplace(key, series.size());
      index = it->second;
      if (inserted) {
        HistogramSeries& added = series.emplace_back();
        added.labels.reserve(key_labels.size());
        for (const Label& label : key_labels) {
          added.labels.emplace_back(std::string(label.name), std::string(label.value));
        }
      }
      last_key = key;
      last_index = index;
    }
    HistogramSeries& h = series[index];

    const std::string_view suffix =
        sample.name.substr(std::min(family.name.size(), sample.name.size()));
    if (suffix == "_bucket") {
      double upper_bound = 0;
      if (!le || detail::ParseFloat(*le, upper_bound) != detail::NumberError::kNone ||
          std::isnan(upper_bound)) {
        return Status::InvalidArgument("histogram series " + SeriesName(sample.name, h.labels) +
                                       " has a bucket without a numeric le label");
      }
      h.buckets.push_back(histogram::Bucket{upper_bound, sample.value});
    } else if (suffix == "_sum") {
      h.sum = sample.value;
    } else if (suffix == "_count") {
      h.count = sample.value;
    } else {
      return Status::InvalidArgument("sample \"" + std::string(sample.name) +
                                     "\" is not a series of histogram \"" +
                                     std::string(family.name) + "\"");
    }
  }

  for (HistogramSeries& h : series) {
    std::sort(h.buckets.begin(), h.buckets.end(),
              [](const histogram::Bucket& a, const histogram::Bucket& b) {
                return a.upper_bound < b.upper_bound;
              });
    const auto duplicate =
        std::adjacent_find(h.buckets.begin(), h.buckets.end(),
                           [](const histogram::Bucket& a, const histogram::Bucket& b) {
                             return a.upper_bound == b.upper_bound;
                           });
    if (duplicate != h.buckets.end()) {
      return Status::InvalidArgument(
          "histogram series " + SeriesName(family.name, h.labels) +
          " has two buckets with le=" + std::to_string(duplicate->upper_bound));
    }
    if (h.buckets.empty() || !std::isinf(h.buckets.back().upper_bound) ||
        h.buckets.back().upper_bound < 0) {
      return Status::InvalidArgument("histogram series " + SeriesName(family.name, h.labels) +
                                     " has no le=\"+Inf\" bucket");
    }
  }
  return series;
}

}  // namespace etcdmon::promtext
