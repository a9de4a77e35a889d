#pragma once

// Parser for the Prometheus text exposition format, version 0.0.4: what etcd serves on
// /metrics. One pass over the input, no regular expressions, no allocation per character.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/histogram/quantile.h"
#include "etcdmon/status/status.h"

namespace etcdmon::promtext {

namespace detail {
class LineParser;
}  // namespace detail

enum class MetricType { kUntyped, kCounter, kGauge, kHistogram, kSummary };

/// "untyped", "counter", "gauge", "histogram", "summary": the spelling of a TYPE line.
std::string_view MetricTypeName(MetricType type);

/// One label pair, unescaped. The views point into the ParseResult that produced them.
struct Label {
  std::string_view name;
  std::string_view value;
};

/// The labels of one sample, in input order: a read-only view into its ParseResult.
class LabelSet {
 public:
  const Label* begin() const { return data_; }
  const Label* end() const { return data_ + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Label& operator[](std::size_t i) const { return data_[i]; }

  /// The value of the label called `name`, or nullopt when the sample has no such label.
  std::optional<std::string_view> Find(std::string_view name) const;

 private:
  friend class detail::LineParser;
  friend class ParseResult;

  const Label* data_ = nullptr;  // set once the whole input is parsed
  std::size_t offset_ = 0;       // index of the first label in ParseResult's label storage
  std::size_t size_ = 0;
};

/// One sample line.
struct Sample {
  std::string_view name;  // the full series name, with any _bucket/_sum/_count suffix
  LabelSet labels;
  double value = 0;                          // may be NaN or +/-Inf
  std::optional<std::int64_t> timestamp_ms;  // milliseconds since the Unix epoch, when given
};

/// All samples of one metric. For histograms and summaries this includes the
/// `<name>_bucket`, `<name>_sum` and `<name>_count` series.
struct MetricFamily {
  std::string_view name;
  MetricType type = MetricType::kUntyped;  // kUntyped when no TYPE line preceded the samples
  std::string_view help;                   // unescaped; empty when there was no HELP line
  std::vector<Sample> samples;             // in input order
};

/// A line that could not be parsed. It contributes nothing to the families.
struct LineError {
  std::size_t line = 0;  // 1-based
  std::string reason;

  friend bool operator==(const LineError& a, const LineError& b) {
    return a.line == b.line && a.reason == b.reason;
  }
};

/// Bounds that keep a hostile or broken page from costing unbounded memory or time.
struct ParseOptions {
  /// Input beyond this many bytes is not looked at (see Parse()).
  std::size_t max_input_bytes = 16u << 20;
  /// A longer line (excluding its line end) is rejected as a line error.
  std::size_t max_line_bytes = 64u << 10;
  /// A sample with more labels is rejected as a line error.
  std::size_t max_labels_per_sample = 128;
  /// Line errors beyond this many are counted in dropped_errors() but not kept.
  std::size_t max_errors = 1000;
};

/// The outcome of Parse(): metric families in order of first appearance, and line errors.
/// Reusing one object across parses of similar pages keeps its storage, so they allocate
/// little or nothing.
/// Every string_view and LabelSet inside points into storage owned by this object: it stays
/// valid while the object lives and until the next Parse() into it or Clear(). Move-only,
/// because copying would leave those views pointing into the source.
/// Not safe for concurrent use while being parsed into; concurrent reads are fine.
class ParseResult {
 public:
  ParseResult() = default;
  ParseResult(ParseResult&&) = default;
  ParseResult& operator=(ParseResult&&) = default;
  ParseResult(const ParseResult&) = delete;
  ParseResult& operator=(const ParseResult&) = delete;

  const std::vector<MetricFamily>& families() const { return families_; }
  const std::vector<LineError>& errors() const { return errors_; }
  /// Line errors beyond ParseOptions::max_errors.
  std::size_t dropped_errors() const { return dropped_errors_; }
  /// How many input bytes were parsed (less than the input when it was over the bound).
  std::size_t bytes_parsed() const { return bytes_parsed_; }

  /// The family called exactly `name` (not a _bucket/_sum/_count series name), or null.
  const MetricFamily* FindFamily(std::string_view name) const;

  /// Empties the result, keeping its storage for the next parse.
  void Clear();

 private:
  friend class detail::LineParser;

  std::vector<MetricFamily> families_;
  std::vector<LineError> errors_;
  std::size_t dropped_errors_ = 0;
  std::size_t bytes_parsed_ = 0;

  // Unescaped names, label pairs and help texts. Sized to the input before a parse, which
  // bounds what the parse can write (unescaping never grows text), so it never reallocates
  // while views into it are being handed out.
  std::unique_ptr<char[]> text_;
  std::size_t text_capacity_ = 0;
  std::vector<Label> labels_;  // the labels of all samples, each sample's contiguous
  // Open-addressing hash table from family name to index into families_: 0 is an empty slot,
  // otherwise index + 1. Its size is zero or a power of two.
  std::vector<std::size_t> family_slots_;
  // Per family: whether a TYPE / HELP line was seen (parallel to families_).
  std::vector<std::uint8_t> family_flags_;
  // Sample vectors of cleared families, kept for their capacity.
  std::vector<std::vector<Sample>> spare_samples_;
};

/// Parses `text` into `out`, which is cleared first (its storage is reused).
/// Malformed lines are recorded in out.errors() with their line number and reason, and
/// parsing continues with the next line; such lines never fail the call.
/// Returns ResourceExhausted when `text` is longer than options.max_input_bytes: then only
/// the complete lines within the first max_input_bytes are parsed, and `out` holds them.
/// Otherwise returns OK.
Status Parse(std::string_view text, ParseResult& out, const ParseOptions& options = {});

/// One labelled series of a histogram family, as buckets plus sum and count.
/// Owns its strings: stays valid after the ParseResult it came from is reused.
struct HistogramSeries {
  /// All labels of the series except `le`, sorted by name.
  std::vector<std::pair<std::string, std::string>> labels;
  /// Sorted by ascending upper bound; the last bucket is +Inf.
  std::vector<histogram::Bucket> buckets;
  double sum = std::numeric_limits<double>::quiet_NaN();    // NaN when there was no _sum
  double count = std::numeric_limits<double>::quiet_NaN();  // NaN when there was no _count
};

/// Groups the samples of a histogram family by label set (ignoring `le`), in order of first
/// appearance. Returns InvalidArgument when the family is not a histogram, or when a series
/// has no +Inf bucket or two buckets with the same `le`.
Result<std::vector<HistogramSeries>> HistogramView(const MetricFamily& family);

}  // namespace etcdmon::promtext
