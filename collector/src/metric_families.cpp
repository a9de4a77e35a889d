#include "metric_families.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <system_error>

#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::collector::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using promtext::MetricFamily;
using promtext::MetricType;
using promtext::Sample;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per histogram series, while a family is being copied.
constexpr uint8_t kHasCount = 1;  // a _count sample was seen
constexpr uint8_t kUnsorted = 2;  // buckets arrived out of ascending order
constexpr uint8_t kInvalid = 4;   // a bucket or count could not be used
constexpr uint8_t kDrop = 8;      // to be removed after the family is done

// Describes at most a few problems per page in full; counts the rest.
class Problems {
 public:
  explicit Problems(std::string& out) : out_(out) {}
  ~Problems() {
    if (skipped_ > 0) {
      out_ += "; and " + std::to_string(skipped_) + " more";
    }
  }
  Problems(const Problems&) = delete;
  Problems& operator=(const Problems&) = delete;

  template <typename Describe>
  void Add(Describe&& describe) {
    if (described_ >= kMaxDescribed) {
      ++skipped_;
      return;
    }
    ++described_;
    if (!out_.empty()) {
      out_ += "; ";
    }
    describe(out_);
  }

 private:
  static constexpr int kMaxDescribed = 5;
  std::string& out_;
  int described_ = 0;
  int skipped_ = 0;
};

// `name{a="x",b="y"}`, for problem messages.
void AppendSeries(std::string& out, std::string_view name,
                  const google::protobuf::RepeatedPtrField<v1::Label>& labels) {
  out.append(name);
  out += '{';
  for (int i = 0; i < labels.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += labels[i].name();
    out += "=\"";
    out += labels[i].value();
    out += '"';
  }
  out += '}';
}

// Go float syntax, as the text format uses for `le`: a decimal number or [+-]Inf / NaN in any
// letter case. The parser has already rejected lines whose `le` is not a number.
bool ParseBound(std::string_view text, double& out) {
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  auto equals_ci = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x | 0x20) == (y | 0x20);
           });
  };
  if (equals_ci(text, "inf") || equals_ci(text, "infinity")) {
    out = negative ? -kInf : kInf;
    return true;
  }
  if (equals_ci(text, "nan")) {
    return false;  // a NaN bound orders nothing
  }
  if (text.empty() || text.front() == '+' || text.front() == '-') {
    return false;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return false;
  }
  out = negative ? -value : value;
  return true;
}

// Cumulative counts are non-negative integers, written as floats.
bool ToCount(double value, uint64_t& out) {
  if (!(value >= 0) || value >= 9.2e18) {  // also rejects NaN
    return false;
  }
  out = static_cast<uint64_t>(std::llround(value));
  return true;
}

void AssignLabels(const promtext::LabelSet& labels,
                  google::protobuf::RepeatedPtrField<v1::Label>& out, bool skip_le) {
  for (const promtext::Label& label : labels) {
    if (skip_le && label.name == "le") {
      continue;
    }
    v1::Label* copy = out.Add();
    copy->mutable_name()->assign(label.name.data(), label.name.size());
    copy->mutable_value()->assign(label.value.data(), label.value.size());
  }
}

// Whether `labels` without `le` equal the series' labels, in order. The exposition format
// writes the labels of one series the same way on every line.
bool SameSeries(const v1::HistogramMetric& series, const promtext::LabelSet& labels) {
  int i = 0;
  for (const promtext::Label& label : labels) {
    if (label.name == "le") {
      continue;
    }
    if (i >= series.labels_size()) {
      return false;
    }
    const v1::Label& have = series.labels(i);
    if (have.name() != label.name || have.value() != label.value) {
      return false;
    }
    ++i;
  }
  return i == series.labels_size();
}

void CopyScalars(const MetricFamily& family, const FamilySpec& spec, v1::MemberSample& out,
                 Problems& problems) {
  int copied = 0;
  for (const Sample& sample : family.samples) {
    if (spec.drop_zero && sample.value == 0) {
      continue;
    }
    if (copied == kMaxSeriesPerFamily) {
      problems.Add([&](std::string& s) {
        s += "family ";
        s += spec.name;
        s += " has more than " + std::to_string(kMaxSeriesPerFamily) +
             " series; the rest is left out";
      });
      return;
    }
    ++copied;
    v1::ScalarMetric* metric = out.add_scalars();
    metric->mutable_name()->assign(sample.name.data(), sample.name.size());
    AssignLabels(sample.labels, *metric->mutable_labels(), /*skip_le=*/false);
    metric->set_value(sample.value);
  }
}

// Sorts, checks and completes the series [first, end) of one family, then removes the ones to
// drop, keeping their storage for the next sample.
void FinishHistograms(const FamilySpec& spec, int first, v1::MemberSample& out,
                      std::vector<uint8_t>& flags, Problems& problems) {
  auto& all = *out.mutable_histograms();
  for (int i = first; i < all.size(); ++i) {
    v1::HistogramMetric& series = all[i];
    uint8_t& f = flags[static_cast<std::size_t>(i - first)];
    auto& buckets = *series.mutable_buckets();
    if ((f & kUnsorted) != 0) {
      std::sort(buckets.begin(), buckets.end(),
                [](const v1::HistogramMetric::Bucket& a, const v1::HistogramMetric::Bucket& b) {
                  return a.upper_bound() < b.upper_bound();
                });
    }
    const char* reason = nullptr;
    if ((f & kInvalid) != 0) {
      reason = "a bucket or count that is not a number";
    } else if (buckets.empty() || buckets[buckets.size() - 1].upper_bound() != kInf) {
      reason = "no le=\"+Inf\" bucket";
    } else {
      for (int b = 1; b < buckets.size(); ++b) {
        if (buckets[b].upper_bound() == buckets[b - 1].upper_bound()) {
          reason = "two buckets with the same le";
          break;
        }
      }
    }
    if (reason != nullptr) {
      f |= kDrop;
      problems.Add([&](std::string& s) {
        s += "histogram ";
        AppendSeries(s, series.name(), series.labels());
        s += " has ";
        s += reason;
        s += "; left out";
      });
      continue;
    }
    if ((f & kHasCount) == 0) {
      series.set_count(buckets[buckets.size() - 1].cumulative_count());
    }
    if (spec.drop_zero && series.count() == 0) {
      f |= kDrop;
    }
  }
  int kept = first;
  for (int i = first; i < all.size(); ++i) {
    if ((flags[static_cast<std::size_t>(i - first)] & kDrop) == 0) {
      if (kept != i) {
        all.SwapElements(kept, i);
      }
      ++kept;
    }
  }
  while (all.size() > kept) {
    all.RemoveLast();  // keeps the element allocated for reuse
  }
}

void CopyHistograms(const MetricFamily& family, const FamilySpec& spec, v1::MemberSample& out,
                    std::vector<uint8_t>& flags, Problems& problems) {
  const int first = out.histograms_size();
  flags.clear();
  int current = -1;
  bool too_many = false;
  for (const Sample& sample : family.samples) {
    const std::string_view suffix =
        sample.name.substr(std::min(family.name.size(), sample.name.size()));
    if (suffix != "_bucket" && suffix != "_sum" && suffix != "_count") {
      continue;  // the parser files only suffixed series under a histogram
    }
    // Samples of one series are adjacent on etcd's pages: try the current series first.
    if (current < 0 || !SameSeries(out.histograms(current), sample.labels)) {
      current = -1;
      for (int i = first; i < out.histograms_size(); ++i) {
        if (SameSeries(out.histograms(i), sample.labels)) {
          current = i;
          break;
        }
      }
      if (current < 0) {
        if (out.histograms_size() - first == kMaxSeriesPerFamily) {
          too_many = true;
          continue;
        }
        v1::HistogramMetric* series = out.add_histograms();
        series->mutable_name()->assign(family.name.data(), family.name.size());
        AssignLabels(sample.labels, *series->mutable_labels(), /*skip_le=*/true);
        series->set_sum(kNaN);  // stays NaN when the page has no _sum
        current = out.histograms_size() - 1;
        flags.push_back(0);
      }
    }
    v1::HistogramMetric& series = *out.mutable_histograms(current);
    uint8_t& f = flags[static_cast<std::size_t>(current - first)];
    if (suffix == "_bucket") {
      double bound = 0;
      uint64_t count = 0;
      const std::optional<std::string_view> le = sample.labels.Find("le");
      if (!le || !ParseBound(*le, bound) || !ToCount(sample.value, count)) {
        f |= kInvalid;
        continue;
      }
      const int n = series.buckets_size();
      if (n > 0 && bound <= series.buckets(n - 1).upper_bound()) {
        f |= kUnsorted;
      }
      v1::HistogramMetric::Bucket* bucket = series.add_buckets();
      bucket->set_upper_bound(bound);
      bucket->set_cumulative_count(count);
    } else if (suffix == "_sum") {
      series.set_sum(sample.value);
    } else {
      uint64_t count = 0;
      if (!ToCount(sample.value, count)) {
        f |= kInvalid;
        continue;
      }
      series.set_count(count);
      f |= kHasCount;
    }
  }
  if (too_many) {
    problems.Add([&](std::string& s) {
      s += "family ";
      s += spec.name;
      s +=
          " has more than " + std::to_string(kMaxSeriesPerFamily) + " series; the rest is left out";
    });
  }
  FinishHistograms(spec, first, out, flags, problems);
}

}  // namespace

const std::vector<FamilySpec>& ShippedFamilies() {
  static const std::vector<FamilySpec> kFamilies = {
      {"etcd_server_has_leader", false, false},
      {"etcd_server_is_leader", false, false},
      {"etcd_server_is_learner", false, false},
      {"etcd_server_leader_changes_seen_total", false, false},
      {"etcd_server_proposals_committed_total", false, false},
      {"etcd_server_proposals_applied_total", false, false},
      {"etcd_server_proposals_failed_total", false, false},
      {"etcd_server_proposals_pending", false, false},
      {"etcd_server_slow_apply_total", false, false},
      {"etcd_server_heartbeat_send_failures_total", false, false},
      {"etcd_server_quota_backend_bytes", false, false},
      {"etcd_mvcc_db_total_size_in_bytes", false, false},
      {"etcd_mvcc_db_total_size_in_use_in_bytes", false, false},
      {"etcd_debugging_mvcc_current_revision", false, false},
      {"etcd_network_peer_sent_failures_total", false, false},
      {"process_resident_memory_bytes", false, false},
      {"process_cpu_seconds_total", false, false},
      {"grpc_server_handled_total", false, true},
      {"etcd_disk_wal_fsync_duration_seconds", true, false},
      {"etcd_disk_backend_commit_duration_seconds", true, false},
      {"etcd_network_peer_round_trip_time_seconds", true, false},
      {"grpc_server_handling_seconds", true, true},
  };
  return kFamilies;
}

void ExtractFamilies(const promtext::ParseResult& page, v1::MemberSample& out,
                     std::vector<uint8_t>& scratch, int64_t& open_fds, std::string& problems) {
  Problems found(problems);
  for (const FamilySpec& spec : ShippedFamilies()) {
    const MetricFamily* family = page.FindFamily(spec.name);
    if (family == nullptr) {
      continue;  // absent stays absent
    }
    const bool type_ok = spec.histogram ? family->type == MetricType::kHistogram
                                        : family->type == MetricType::kCounter ||
                                              family->type == MetricType::kGauge ||
                                              family->type == MetricType::kUntyped;
    if (!type_ok) {
      found.Add([&](std::string& s) {
        s += "family ";
        s += spec.name;
        s += " is a ";
        s += promtext::MetricTypeName(family->type);
        s += spec.histogram ? ", not a histogram; left out" : ", not a counter or gauge; left out";
      });
      continue;
    }
    if (spec.histogram) {
      CopyHistograms(*family, spec, out, scratch, found);
    } else {
      CopyScalars(*family, spec, out, found);
    }
  }

  open_fds = -1;
  const MetricFamily* fds = page.FindFamily("process_open_fds");
  if (fds != nullptr && !fds->samples.empty() && fds->type != MetricType::kHistogram &&
      fds->type != MetricType::kSummary) {
    const double value = fds->samples.front().value;
    if (value >= 0 && value < 9.2e18) {
      open_fds = static_cast<int64_t>(value);
    }
  }
}

}  // namespace etcdmon::collector::detail
