#include "etcdmon/promtext/parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <string>

#include "number.h"

namespace etcdmon::promtext {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Character classes of the format's grammar: metric names [a-zA-Z_:][a-zA-Z0-9_:]*,
// label names [a-zA-Z_][a-zA-Z0-9_]*.
enum CharClass : std::uint8_t {
  kMetricStart = 1,
  kMetricChar = 2,
  kLabelStart = 4,
  kLabelChar = 8,
};

constexpr std::array<std::uint8_t, 256> MakeCharClasses() {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    std::uint8_t classes = 0;
    if (alpha || c == '_') {
      classes = kMetricStart | kMetricChar | kLabelStart | kLabelChar;
    } else if (c == ':') {
      classes = kMetricStart | kMetricChar;
    } else if (c >= '0' && c <= '9') {
      classes = kMetricChar | kLabelChar;
    }
    table[static_cast<std::size_t>(c)] = classes;
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> kCharClasses = MakeCharClasses();

bool Is(char c, std::uint8_t classes) {
  return (kCharClasses[static_cast<unsigned char>(c)] & classes) != 0;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

const char* SkipBlanks(const char* p, const char* end) {
  while (p != end && IsBlank(*p)) {
    ++p;
  }
  return p;
}

const char* SkipToken(const char* p, const char* end) {
  while (p != end && !IsBlank(*p)) {
    ++p;
  }
  return p;
}

bool IsMetricName(std::string_view s) {
  if (s.empty() || !Is(s[0], kMetricStart)) {
    return false;
  }
  for (char c : s.substr(1)) {
    if (!Is(c, kMetricChar)) {
      return false;
    }
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Input text for an error message: quoted, at most 64 bytes, non-printable bytes as \xNN.
std::string Quote(std::string_view s) {
  constexpr std::size_t kMaxShown = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += s.size() > kMaxShown ? "\"..." : "\"";
  return out;
}

std::string Describe(char c) { return Quote(std::string_view(&c, 1)); }

std::size_t Hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

// Looks `name` up in the open-addressing family table (see ParseResult::family_slots_).
std::size_t LookupFamily(const std::vector<std::size_t>& slots,
                         const std::vector<MetricFamily>& families, std::string_view name) {
  if (slots.empty()) {
    return kNone;
  }
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = Hash(name) & mask;; i = (i + 1) & mask) {
    const std::size_t slot = slots[i];
    if (slot == 0) {
      return kNone;
    }
    if (families[slot - 1].name == name) {
      return slot - 1;
    }
  }
}

// What a sample line is to its family.
enum class Role : std::uint8_t { kPlain, kBucket, kSum, kCount };

enum FamilyFlag : std::uint8_t {
  kHasType = 1,
  kHasHelp = 2,
  kHasSamples = 4,
};

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kUntyped:
      return "untyped";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
  }
  return "untyped";
}

std::optional<std::string_view> LabelSet::Find(std::string_view name) const {
  for (const Label& label : *this) {
    if (label.name == name) {
      return label.value;
    }
  }
  return std::nullopt;
}

const MetricFamily* ParseResult::FindFamily(std::string_view name) const {
  const std::size_t index = LookupFamily(family_slots_, families_, name);
  return index == kNone ? nullptr : &families_[index];
}

void ParseResult::Clear() {
  // Keep the sample vectors for their capacity; reversed so that family 0 of the next parse
  // gets family 0's vector back.
  for (auto it = families_.rbegin(); it != families_.rend(); ++it) {
    it->samples.clear();
    spare_samples_.push_back(std::move(it->samples));
  }
  families_.clear();
  errors_.clear();
  dropped_errors_ = 0;
  bytes_parsed_ = 0;
  labels_.clear();
  std::fill(family_slots_.begin(), family_slots_.end(), 0);
  family_flags_.clear();
}

namespace detail {

// One parse of one input into a cleared ParseResult. Every Parse* method that fails records
// a line error and returns false; the caller then rolls back what the line had written.
class LineParser {
 public:
  LineParser(ParseResult& out, const ParseOptions& options) : out_(out), options_(options) {}

  void Run(std::string_view text) {
    if (out_.text_capacity_ < text.size() || !out_.text_) {
      // No views into the old buffer exist: the result was cleared.
      out_.text_capacity_ = std::max<std::size_t>(text.size(), 1);
      out_.text_.reset(new char[out_.text_capacity_]);
    }
    text_ = out_.text_.get();

    const char* p = text.data();
    const char* const end = p + text.size();
    while (p != end) {
      ++line_;
      const char* newline = static_cast<const char*>(std::memchr(p, '\n', end - p));
      const char* line_end = newline != nullptr ? newline : end;
      if (line_end != p && line_end[-1] == '\r') {
        --line_end;
      }
      const auto length = static_cast<std::size_t>(line_end - p);
      if (length > options_.max_line_bytes) {
        Error("line of " + std::to_string(length) + " bytes is over the limit of " +
              std::to_string(options_.max_line_bytes));
      } else {
        ParseLine(p, line_end);
      }
      p = newline != nullptr ? newline + 1 : end;
    }
    out_.bytes_parsed_ = text.size();

    // Label storage has stopped moving: point every sample at its labels.
    const Label* labels = out_.labels_.data();
    for (MetricFamily& family : out_.families_) {
      for (Sample& sample : family.samples) {
        sample.labels.data_ = labels + sample.labels.offset_;
      }
    }
  }

 private:
  void ParseLine(const char* p, const char* end) {
    p = SkipBlanks(p, end);
    if (p == end) {
      return;
    }
    const std::size_t text_mark = text_used_;
    const std::size_t label_mark = out_.labels_.size();
    const bool ok = *p == '#' ? ParseComment(p + 1, end) : ParseSample(p, end);
    if (!ok) {
      text_used_ = text_mark;
      out_.labels_.resize(label_mark);
    }
  }

  // "# HELP name text", "# TYPE name type", or any other comment (ignored).
  bool ParseComment(const char* p, const char* end) {
    last_name_ = {};  // families may change below; resolve the next sample afresh
    p = SkipBlanks(p, end);
    const char* word_begin = p;
    p = SkipToken(p, end);
    const std::string_view word(word_begin, p - word_begin);
    const bool is_help = word == "HELP";
    if (!is_help && word != "TYPE") {
      return true;
    }
    p = SkipBlanks(p, end);
    if (p == end) {
      return true;  // a bare "# HELP" is just a comment, as in the reference parser
    }
    const char* name_begin = p;
    p = SkipToken(p, end);
    const std::string_view name(name_begin, p - name_begin);
    if (!IsMetricName(name)) {
      return Error("invalid metric name " + Quote(name) + " in " + std::string(word) + " line");
    }
    p = SkipBlanks(p, end);
    return is_help ? ParseHelp(name, p, end) : ParseType(name, p, end);
  }

  bool ParseHelp(std::string_view name, const char* p, const char* end) {
    std::size_t family = FindFamily(name);
    if (family != kNone && (out_.family_flags_[family] & kHasHelp) != 0) {
      return Error("duplicate HELP line for " + Quote(name));
    }
    char* dst;
    if (!Reserve(static_cast<std::size_t>(end - p), dst)) {
      return false;
    }
    char* const help_begin = dst;
    while (p != end) {
      const char* run = p;
      while (p != end && *p != '\\') {
        ++p;
      }
      std::memcpy(dst, run, p - run);
      dst += p - run;
      if (p == end) {
        break;
      }
      ++p;  // the backslash
      if (p == end) {
        return Error("HELP text for " + Quote(name) + " ends in a backslash");
      }
      if (*p == '\\') {
        *dst++ = '\\';
      } else if (*p == 'n') {
        *dst++ = '\n';
      } else {
        return Error("invalid escape sequence \\" + std::string(1, *p) + " in HELP text for " +
                     Quote(name));
      }
      ++p;
    }
    const std::string_view help(help_begin, dst - help_begin);
    text_used_ += help.size();
    if (family == kNone) {
      std::string_view interned;
      if (!Intern(name, interned)) {
        return false;
      }
      family = AddFamily(interned);
    }
    out_.families_[family].help = help;
    out_.family_flags_[family] |= kHasHelp;
    return true;
  }

  bool ParseType(std::string_view name, const char* p, const char* end) {
    if (p == end) {
      return Error("TYPE line for " + Quote(name) + " has no type");
    }
    const char* type_begin = p;
    p = SkipToken(p, end);
    const std::string_view type_name(type_begin, p - type_begin);
    p = SkipBlanks(p, end);
    if (p != end) {
      return Error("unexpected text after the type in TYPE line for " + Quote(name) + ": " +
                   Quote(std::string_view(p, end - p)));
    }
    MetricType type = MetricType::kUntyped;
    if (type_name == "counter") {
      type = MetricType::kCounter;
    } else if (type_name == "gauge") {
      type = MetricType::kGauge;
    } else if (type_name == "histogram") {
      type = MetricType::kHistogram;
    } else if (type_name == "summary") {
      type = MetricType::kSummary;
    } else if (type_name == "untyped") {
      type = MetricType::kUntyped;
    } else {
      return Error("unknown metric type " + Quote(type_name) + " for " + Quote(name));
    }
    std::size_t family = FindFamily(name);
    if (family != kNone) {
      const std::uint8_t flags = out_.family_flags_[family];
      if ((flags & kHasType) != 0) {
        return Error("duplicate TYPE line for " + Quote(name));
      }
      if ((flags & kHasSamples) != 0) {
        return Error("TYPE line for " + Quote(name) + " comes after its samples");
      }
    } else {
      std::string_view interned;
      if (!Intern(name, interned)) {
        return false;
      }
      family = AddFamily(interned);
    }
    out_.families_[family].type = type;
    out_.family_flags_[family] |= kHasType;
    return true;
  }

  // name [{labels}] value [timestamp]
  bool ParseSample(const char* p, const char* end) {
    const char* name_begin = p;
    if (!Is(*p, kMetricStart)) {
      return Error("invalid metric name: unexpected " + Describe(*p));
    }
    ++p;
    while (p != end && Is(*p, kMetricChar)) {
      ++p;
    }
    const std::string_view raw_name(name_begin, p - name_begin);
    if (p != end && !IsBlank(*p) && *p != '{') {
      return Error("invalid character " + Describe(*p) + " in metric name " + Quote(raw_name));
    }
    const std::size_t label_begin = out_.labels_.size();
    p = SkipBlanks(p, end);
    if (p != end && *p == '{') {
      ++p;
      if (!ParseLabels(p, end)) {
        return false;
      }
      p = SkipBlanks(p, end);
    }
    if (p == end) {
      return Error("missing value for " + Quote(raw_name));
    }
    const char* value_begin = p;
    p = SkipToken(p, end);
    const std::string_view value_text(value_begin, p - value_begin);
    double value = 0;
    switch (detail::ParseFloat(value_text, value)) {
      case NumberError::kNone:
        break;
      case NumberError::kSyntax:
        return Error("invalid value " + Quote(value_text) + " for " + Quote(raw_name));
      case NumberError::kRange:
        return Error("value " + Quote(value_text) + " for " + Quote(raw_name) + " is out of range");
    }
    std::optional<std::int64_t> timestamp;
    p = SkipBlanks(p, end);
    if (p != end) {
      const char* ts_begin = p;
      p = SkipToken(p, end);
      const std::string_view ts_text(ts_begin, p - ts_begin);
      std::int64_t ts = 0;
      if (detail::ParseInt64(ts_text, ts) != NumberError::kNone) {
        return Error("invalid timestamp " + Quote(ts_text) + " for " + Quote(raw_name));
      }
      timestamp = ts;
      p = SkipBlanks(p, end);
      if (p != end) {
        return Error("unexpected text after the timestamp of " + Quote(raw_name) + ": " +
                     Quote(std::string_view(p, end - p)));
      }
    }
    const LabelSet labels = MakeLabelSet(label_begin);

    // Resolve the family. Consecutive samples usually share a name (histogram buckets), so
    // the last resolution is reused.
    std::string_view name;
    std::size_t family;
    Role role;
    if (!last_name_.empty() && raw_name == last_name_) {
      name = last_name_;
      family = last_family_;
      role = last_role_;
    } else {
      Resolve(raw_name, family, role);
    }
    if (family != kNone) {
      const MetricFamily& f = out_.families_[family];
      if (f.type == MetricType::kHistogram) {
        if (role == Role::kPlain) {
          return Error("sample " + Quote(raw_name) + " of histogram " + Quote(f.name) +
                       " lacks a _bucket, _sum or _count suffix");
        }
        if (role == Role::kBucket && !CheckNumericLabel(labels, "le", raw_name)) {
          return false;
        }
      } else if (f.type == MetricType::kSummary && role == Role::kPlain &&
                 !CheckNumericLabel(labels, "quantile", raw_name)) {
        return false;
      }
    }
    if (name.empty()) {
      if (!Intern(raw_name, name)) {
        return false;
      }
    }
    if (family == kNone) {
      family = AddFamily(name);
    }
    Sample sample;
    sample.name = name;
    sample.labels = labels;
    sample.value = value;
    sample.timestamp_ms = timestamp;
    out_.families_[family].samples.push_back(sample);
    out_.family_flags_[family] |= kHasSamples;
    last_name_ = name;
    last_family_ = family;
    last_role_ = role;
    return true;
  }

  // Called after the '{'; on success `p` is just past the '}'.
  bool ParseLabels(const char*& p, const char* end) {
    const std::size_t label_begin = out_.labels_.size();
    for (;;) {
      p = SkipBlanks(p, end);
      if (p == end) {
        return Error("unterminated label set");
      }
      if (*p == '}') {
        ++p;
        return true;
      }
      const char* name_begin = p;
      if (!Is(*p, kLabelStart)) {
        return Error("invalid label name: unexpected " + Describe(*p));
      }
      while (p != end && Is(*p, kLabelChar)) {
        ++p;
      }
      const std::string_view raw_name(name_begin, p - name_begin);
      p = SkipBlanks(p, end);
      if (p == end || *p != '=') {
        return Error("expected '=' after label name " + Quote(raw_name));
      }
      p = SkipBlanks(p + 1, end);
      if (p == end || *p != '"') {
        return Error("expected '\"' to open the value of label " + Quote(raw_name));
      }
      ++p;
      if (out_.labels_.size() - label_begin >= options_.max_labels_per_sample) {
        return Error("more than " + std::to_string(options_.max_labels_per_sample) +
                     " labels in one sample");
      }
      for (std::size_t i = label_begin; i < out_.labels_.size(); ++i) {
        if (out_.labels_[i].name == raw_name) {
          return Error("duplicate label " + Quote(raw_name));
        }
      }
      std::string_view value;
      if (!ParseLabelValue(p, end, raw_name, value)) {
        return false;
      }
      std::string_view name;
      if (!Intern(raw_name, name)) {
        return false;
      }
      out_.labels_.push_back(Label{name, value});
      p = SkipBlanks(p, end);
      if (p == end) {
        return Error("unterminated label set");
      }
      if (*p == ',') {
        ++p;  // a trailing comma before '}' is allowed
      } else if (*p != '}') {
        return Error("expected ',' or '}' after the value of label " + Quote(raw_name) +
                     ", found " + Describe(*p));
      }
    }
  }

  // Called after the opening quote; on success `p` is just past the closing quote.
  bool ParseLabelValue(const char*& p, const char* end, std::string_view label,
                       std::string_view& value) {
    char* dst;
    if (!Reserve(static_cast<std::size_t>(end - p), dst)) {
      return false;
    }
    char* const value_begin = dst;
    for (;;) {
      const char* run = p;
      while (p != end && *p != '"' && *p != '\\') {
        ++p;
      }
      std::memcpy(dst, run, p - run);
      dst += p - run;
      if (p == end) {
        return Error("unterminated value of label " + Quote(label));
      }
      if (*p == '"') {
        ++p;
        break;
      }
      ++p;  // the backslash
      if (p == end) {
        return Error("unterminated value of label " + Quote(label));
      }
      switch (*p) {
        case '\\':
          *dst++ = '\\';
          break;
        case '"':
          *dst++ = '"';
          break;
        case 'n':
          *dst++ = '\n';
          break;
        default:
          return Error("invalid escape sequence \\" + std::string(1, *p) +
                       " in the value of label " + Quote(label));
      }
      ++p;
    }
    value = std::string_view(value_begin, dst - value_begin);
    text_used_ += value.size();
    return true;
  }

  bool CheckNumericLabel(const LabelSet& labels, std::string_view label, std::string_view sample) {
    const std::optional<std::string_view> text = labels.Find(label);
    if (!text) {
      return Error("sample " + Quote(sample) + " has no " + std::string(label) + " label");
    }
    double ignored = 0;
    if (detail::ParseFloat(*text, ignored) != NumberError::kNone) {
      return Error("invalid " + std::string(label) + " value " + Quote(*text) + " in sample " +
                   Quote(sample));
    }
    return true;
  }

  // Finds the family a sample called `name` belongs to: the family of that exact name, else
  // the histogram or summary that the name's suffix points at; kNone when it is a new one.
  void Resolve(std::string_view name, std::size_t& family, Role& role) const {
    role = Role::kPlain;
    family = FindFamily(name);
    if (family != kNone) {
      return;
    }
    const struct {
      std::string_view suffix;
      Role role;
    } kSuffixes[] = {{"_bucket", Role::kBucket}, {"_sum", Role::kSum}, {"_count", Role::kCount}};
    for (const auto& s : kSuffixes) {
      if (!EndsWith(name, s.suffix)) {
        continue;
      }
      const std::size_t base = FindFamily(name.substr(0, name.size() - s.suffix.size()));
      if (base == kNone) {
        return;
      }
      const MetricType type = out_.families_[base].type;
      if (type == MetricType::kHistogram ||
          (type == MetricType::kSummary && s.role != Role::kBucket)) {
        family = base;
        role = s.role;
      }
      return;
    }
  }

  LabelSet MakeLabelSet(std::size_t begin) const {
    LabelSet labels;
    labels.offset_ = begin;
    labels.size_ = out_.labels_.size() - begin;
    labels.data_ = out_.labels_.data() + begin;  // for checks now; fixed up at the end
    return labels;
  }

  std::size_t FindFamily(std::string_view name) const {
    return LookupFamily(out_.family_slots_, out_.families_, name);
  }

  // Adds a family and indexes it; `name` must already point into the result's text.
  std::size_t AddFamily(std::string_view name) {
    const std::size_t index = out_.families_.size();
    MetricFamily family;
    family.name = name;
    if (!out_.spare_samples_.empty()) {
      family.samples = std::move(out_.spare_samples_.back());
      out_.spare_samples_.pop_back();
    }
    out_.families_.push_back(std::move(family));
    out_.family_flags_.push_back(0);

    std::vector<std::size_t>& slots = out_.family_slots_;
    if (slots.size() < 2 * out_.families_.size()) {
      // Keep the load factor at most 1/2; rebuild from the families, which include this one.
      slots.assign(std::max<std::size_t>(64, 2 * slots.size()), 0);
      for (std::size_t i = 0; i < out_.families_.size(); ++i) {
        InsertSlot(out_.families_[i].name, i);
      }
    } else {
      InsertSlot(name, index);
    }
    return index;
  }

  void InsertSlot(std::string_view name, std::size_t index) {
    std::vector<std::size_t>& slots = out_.family_slots_;
    const std::size_t mask = slots.size() - 1;
    std::size_t i = Hash(name) & mask;
    while (slots[i] != 0) {
      i = (i + 1) & mask;
    }
    slots[i] = index + 1;
  }

  // Makes room for `n` more bytes of text. The text buffer is as large as the input and every
  // input byte is copied at most once, so this cannot fail unless that reasoning is broken;
  // it is checked anyway because the input is untrusted.
  bool Reserve(std::size_t n, char*& dst) {
    if (n > out_.text_capacity_ - text_used_) {
      return Error("internal error: text storage exhausted");
    }
    dst = text_ + text_used_;
    return true;
  }

  bool Intern(std::string_view s, std::string_view& interned) {
    char* dst;
    if (!Reserve(s.size(), dst)) {
      return false;
    }
    std::memcpy(dst, s.data(), s.size());
    text_used_ += s.size();
    interned = std::string_view(dst, s.size());
    return true;
  }

  bool Error(std::string reason) {
    if (out_.errors_.size() < options_.max_errors) {
      out_.errors_.push_back(LineError{line_, std::move(reason)});
    } else {
      ++out_.dropped_errors_;
    }
    return false;
  }

  ParseResult& out_;
  const ParseOptions& options_;
  char* text_ = nullptr;  // out_.text_, capacity out_.text_capacity_
  std::size_t text_used_ = 0;
  std::size_t line_ = 0;  // 1-based number of the current line

  // The name, family and role of the last sample accepted; empty name when none or when a
  // comment line came in between.
  std::string_view last_name_;
  std::size_t last_family_ = kNone;
  Role last_role_ = Role::kPlain;
};

}  // namespace detail

Status Parse(std::string_view text, ParseResult& out, const ParseOptions& options) {
  out.Clear();
  Status status;
  if (text.size() > options.max_input_bytes) {
    const std::size_t full_size = text.size();
    // Only whole lines within the bound: a cut line could parse as a different sample.
    const std::string_view head = text.substr(0, options.max_input_bytes);
    const std::size_t last_newline = head.rfind('\n');
    text = last_newline == std::string_view::npos ? std::string_view()
                                                  : head.substr(0, last_newline + 1);
    status = Status::ResourceExhausted(
        "metrics text of " + std::to_string(full_size) + " bytes is over the limit of " +
        std::to_string(options.max_input_bytes) + " bytes; parsed only the first " +
        std::to_string(text.size()) + " bytes");
  }
  detail::LineParser(out, options).Run(text);
  return status;
}

}  // namespace etcdmon::promtext
