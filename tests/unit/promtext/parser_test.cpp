#include "etcdmon/promtext/parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace etcdmon::promtext {
namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.15g", v);
  return buf;
}

// A canonical text form of a parse result, one line per family and per sample, with label
// values and help shown in C-like escaped form so that decoded escapes are visible.
std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Dump(const ParseResult& result) {
  std::string out;
  for (const MetricFamily& f : result.families()) {
    out += std::string(f.name) + " " + std::string(MetricTypeName(f.type));
    if (!f.help.empty()) {
      out += " \"" + Escape(f.help) + "\"";
    }
    out += "\n";
    for (const Sample& s : f.samples) {
      out += "  " + std::string(s.name);
      if (!s.labels.empty()) {
        out += "{";
        for (std::size_t i = 0; i < s.labels.size(); ++i) {
          out += (i > 0 ? "," : "") + std::string(s.labels[i].name) + "=\"" +
                 Escape(s.labels[i].value) + "\"";
        }
        out += "}";
      }
      out += " " + FormatValue(s.value);
      if (s.timestamp_ms) {
        out += " @" + std::to_string(*s.timestamp_ms);
      }
      out += "\n";
    }
  }
  return out;
}

std::string DumpErrors(const ParseResult& result) {
  std::string out;
  for (const LineError& e : result.errors()) {
    out += std::to_string(e.line) + ": " + e.reason + "\n";
  }
  return out;
}

struct ValidCase {
  const char* name;
  std::string input;
  std::string want;  // Dump() of the result
};

// Well-formed inputs parse without errors into the expected families and samples.
TEST(ParserTest, ParsesValidInput) {
  const ValidCase cases[] = {
      {"empty", "", ""},
      {"blank lines and comments", "\n   \n\t\n# just a comment\n  # indented comment\n#\n", ""},
      {"bare HELP and TYPE are comments", "# HELP\n# TYPE\n", ""},
      {"counter with HELP and TYPE",
       "# HELP etcd_server_proposals_committed_total The total number of consensus proposals "
       "committed.\n"
       "# TYPE etcd_server_proposals_committed_total counter\n"
       "etcd_server_proposals_committed_total 1234\n",
       "etcd_server_proposals_committed_total counter \"The total number of consensus proposals "
       "committed.\"\n"
       "  etcd_server_proposals_committed_total 1234\n"},
      {"gauge with labels",
       "# TYPE etcd_server_has_leader gauge\n"
       "etcd_server_has_leader 1\n"
       "# TYPE etcd_server_version gauge\n"
       "etcd_server_version{server_version=\"3.5.9\"} 1\n",
       "etcd_server_has_leader gauge\n"
       "  etcd_server_has_leader 1\n"
       "etcd_server_version gauge\n"
       "  etcd_server_version{server_version=\"3.5.9\"} 1\n"},
      {"untyped without TYPE line", "some_metric 3.5\n",
       "some_metric untyped\n  some_metric 3.5\n"},
      {"explicit untyped", "# TYPE u untyped\nu 1\n", "u untyped\n  u 1\n"},
      {"empty label set", "m{} 1\n", "m untyped\n  m 1\n"},
      {"trailing comma", "m{a=\"1\",b=\"2\",} 1\n", "m untyped\n  m{a=\"1\",b=\"2\"} 1\n"},
      {"blanks and tabs between tokens", "m \t{ a = \"1\" ,\tb=\"2\" , }\t 7 \t 1000 \t\n",
       "m untyped\n  m{a=\"1\",b=\"2\"} 7 @1000\n"},
      {"no blank after closing brace", "m{a=\"1\"}2\n", "m untyped\n  m{a=\"1\"} 2\n"},
      {"label value escapes", "m{a=\"back\\\\slash\",b=\"q\\\"uote\",c=\"new\\nline\"} 1\n",
       "m untyped\n  m{a=\"back\\\\slash\",b=\"q\\\"uote\",c=\"new\\nline\"} 1\n"},
      {"label value with syntax characters", "m{path=\"/a,b}c=d #e {f}\",utf8=\"héllo ✓\"} 1\n",
       "m untyped\n  m{path=\"/a,b}c=d #e {f}\",utf8=\"héllo ✓\"} 1\n"},
      {"empty label value", "m{a=\"\"} 1\n", "m untyped\n  m{a=\"\"} 1\n"},
      {"HELP escapes", "# HELP m Line one\\nline two, a \\\\ backslash \"quoted\"\nm 1\n",
       "m untyped \"Line one\\nline two, a \\\\ backslash \\\"quoted\\\"\"\n  m 1\n"},
      {"HELP keeps inner blanks", "# HELP m   spaced   out\n", "m untyped \"spaced   out\"\n"},
      {"special values", "a NaN\nb +Inf\nc -Inf\nd Inf\ne nan\n",
       "a untyped\n  a NaN\nb untyped\n  b +Inf\nc untyped\n  c -Inf\nd untyped\n  d +Inf\n"
       "e untyped\n  e NaN\n"},
      {"float forms", "a 1.5e-3\nb 2E+10\nc -0.5\nd +3\ne .25\nf 7.\ng 1e-05\n",
       "a untyped\n  a 0.0015\nb untyped\n  b 20000000000\nc untyped\n  c -0.5\n"
       "d untyped\n  d 3\ne untyped\n  e 0.25\nf untyped\n  f 7\ng untyped\n  g 1e-05\n"},
      {"timestamps", "a 1 1700000000000\nb 2 -5\nc 3 +7\n",
       "a untyped\n  a 1 @1700000000000\nb untyped\n  b 2 @-5\nc untyped\n  c 3 @7\n"},
      {"CRLF line ends", "# TYPE m counter\r\nm{a=\"1\"} 2\r\n\r\nm{a=\"2\"} 3 55\r\n",
       "m counter\n  m{a=\"1\"} 2\n  m{a=\"2\"} 3 @55\n"},
      {"no newline at the end", "a 1\nb 2", "a untyped\n  a 1\nb untyped\n  b 2\n"},
      {"colons in metric names", "job:requests:rate5m 4\n",
       "job:requests:rate5m untyped\n  job:requests:rate5m 4\n"},
      {"histogram grouped by suffix",
       "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync.\n"
       "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
       "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 5\n"
       "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 9\n"
       "etcd_disk_wal_fsync_duration_seconds_sum 0.02\n"
       "etcd_disk_wal_fsync_duration_seconds_count 9\n",
       "etcd_disk_wal_fsync_duration_seconds histogram \"The latency distributions of fsync.\"\n"
       "  etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 5\n"
       "  etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 9\n"
       "  etcd_disk_wal_fsync_duration_seconds_sum 0.02\n"
       "  etcd_disk_wal_fsync_duration_seconds_count 9\n"},
      {"summary grouped by suffix",
       "# TYPE go_gc_duration_seconds summary\n"
       "go_gc_duration_seconds{quantile=\"0\"} 1e-05\n"
       "go_gc_duration_seconds{quantile=\"1\"} 0.002\n"
       "go_gc_duration_seconds_sum 0.01\n"
       "go_gc_duration_seconds_count 12\n",
       "go_gc_duration_seconds summary\n"
       "  go_gc_duration_seconds{quantile=\"0\"} 1e-05\n"
       "  go_gc_duration_seconds{quantile=\"1\"} 0.002\n"
       "  go_gc_duration_seconds_sum 0.01\n"
       "  go_gc_duration_seconds_count 12\n"},
      {"suffixes without a histogram TYPE are families of their own",
       "x_bucket{le=\"1\"} 1\nx_sum 2\n",
       "x_bucket untyped\n  x_bucket{le=\"1\"} 1\nx_sum untyped\n  x_sum 2\n"},
      {"a summary has no _bucket series", "# TYPE s summary\ns_bucket 1\n",
       "s summary\ns_bucket untyped\n  s_bucket 1\n"},
      {"split samples of one family are merged",
       "# TYPE m gauge\nm{a=\"1\"} 1\nother 2\nm{a=\"2\"} 3\n",
       "m gauge\n  m{a=\"1\"} 1\n  m{a=\"2\"} 3\nother untyped\n  other 2\n"},
      {"HELP after TYPE and samples", "# TYPE m gauge\nm 1\n# HELP m late help\n",
       "m gauge \"late help\"\n  m 1\n"},
      {"HELP with no text is ignored", "# HELP m\nm 1\n", "m untyped\n  m 1\n"},
      {"other comment words", "# HELPFUL m x\n#TYPE m gauge\nm 1\n", "m gauge\n  m 1\n"},
  };
  for (const auto& c : cases) {
    ParseResult result;
    const Status status = Parse(c.input, result);
    EXPECT_TRUE(status.ok()) << c.name << ": " << status.ToString();
    EXPECT_EQ(DumpErrors(result), "") << c.name;
    EXPECT_EQ(Dump(result), c.want) << c.name;
    EXPECT_EQ(result.bytes_parsed(), c.input.size()) << c.name;
  }
}

struct ErrorCase {
  const char* name;
  std::string input;
  std::size_t line;
  std::string reason_part;  // a substring of the reason
};

// Each malformed line yields one error with its 1-based line number and a reason, and
// contributes nothing to the families.
TEST(ParserTest, ReportsMalformedLines) {
  const ErrorCase cases[] = {
      {"name starts with a digit", "ok 1\n1abc 1\n", 2, "invalid metric name"},
      {"invalid character in name", "abc-def 1\n", 1, "invalid character \"-\" in metric name"},
      {"missing value", "abc\n", 1, "missing value for \"abc\""},
      {"missing value after labels", "abc{a=\"1\"}\n", 1, "missing value"},
      {"invalid value", "abc xyz\n", 1, "invalid value \"xyz\""},
      {"double sign", "abc +-1\n", 1, "invalid value \"+-1\""},
      {"hex is not accepted", "abc 0x10\n", 1, "invalid value \"0x10\""},
      {"value out of range", "abc 1e400\n", 1, "out of range"},
      {"fractional timestamp", "abc 1 12.5\n", 1, "invalid timestamp \"12.5\""},
      {"timestamp out of range", "abc 1 99999999999999999999\n", 1, "invalid timestamp"},
      {"text after timestamp", "abc 1 2 3\n", 1, "unexpected text after the timestamp"},
      {"unterminated label set", "abc{a=\"1\" 1\n", 1, "expected ',' or '}'"},
      {"label set cut at line end", "abc{a=\"1\",\n", 1, "unterminated label set"},
      {"label without '='", "abc{a \"1\"} 1\n", 1, "expected '=' after label name \"a\""},
      {"unquoted label value", "abc{a=1} 1\n", 1, "expected '\"' to open the value of label"},
      {"unterminated label value", "abc{a=\"1} 1\n", 1, "unterminated value of label \"a\""},
      {"backslash at line end", "abc{a=\"1\\\n", 1, "unterminated value of label"},
      {"invalid label escape", "abc{a=\"\\t\"} 1\n", 1, "invalid escape sequence \\t"},
      {"invalid label name", "abc{1a=\"x\"} 1\n", 1, "invalid label name"},
      {"colon in label name", "abc{a:b=\"x\"} 1\n", 1, "expected '=' after label name \"a\""},
      {"duplicate label", "abc{a=\"1\",a=\"2\"} 1\n", 1, "duplicate label \"a\""},
      {"double comma", "abc{a=\"1\",,} 1\n", 1, "invalid label name"},
      {"leading comma", "abc{,a=\"1\"} 1\n", 1, "invalid label name"},
      {"missing comma", "abc{a=\"1\" b=\"2\"} 1\n", 1, "expected ',' or '}'"},
      {"unknown type", "# TYPE abc foo\n", 1, "unknown metric type \"foo\" for \"abc\""},
      {"type is case-sensitive", "# TYPE abc Counter\n", 1, "unknown metric type"},
      {"TYPE without type", "# TYPE abc\n", 1, "has no type"},
      {"TYPE with extra text", "# TYPE abc counter extra\n", 1, "unexpected text after the type"},
      {"duplicate TYPE", "# TYPE abc counter\n# TYPE abc gauge\n", 2, "duplicate TYPE line"},
      {"TYPE after samples", "abc 1\n# TYPE abc counter\n", 2, "comes after its samples"},
      {"duplicate HELP", "# HELP abc one\n# HELP abc two\n", 2, "duplicate HELP line"},
      {"invalid HELP escape", "# HELP abc bad \\t escape\n", 1, "invalid escape sequence \\t"},
      {"HELP ending in backslash", "# HELP abc oops \\\n", 1, "ends in a backslash"},
      {"invalid name in HELP", "# HELP 1abc text\n", 1, "invalid metric name \"1abc\" in HELP"},
      {"invalid name in TYPE", "# TYPE a-b gauge\n", 1, "invalid metric name \"a-b\" in TYPE"},
      {"histogram sample without suffix", "# TYPE h histogram\nh 1\n", 2,
       "lacks a _bucket, _sum or _count suffix"},
      {"histogram bucket without le", "# TYPE h histogram\nh_bucket{x=\"1\"} 1\n", 2,
       "has no le label"},
      {"histogram bucket with bad le", "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n", 2,
       "invalid le value \"big\""},
      {"summary sample without quantile", "# TYPE s summary\ns 1\n", 2, "has no quantile label"},
      {"lone carriage return", "abc 1\rdef 2\n", 1, "invalid value"},
      {"NUL byte in a name", std::string("ab\0c 1\n", 7), 1, "invalid character \"\\x00\""},
  };
  for (const auto& c : cases) {
    ParseResult result;
    ASSERT_TRUE(Parse(c.input, result).ok()) << c.name;
    ASSERT_EQ(result.errors().size(), 1u) << c.name << "\n" << DumpErrors(result);
    const LineError& e = result.errors()[0];
    EXPECT_EQ(e.line, c.line) << c.name;
    EXPECT_NE(e.reason.find(c.reason_part), std::string::npos)
        << c.name << ": reason was: " << e.reason;
    for (const MetricFamily& f : result.families()) {
      EXPECT_TRUE(f.name == "ok" || f.name == "abc" || f.name == "h" || f.name == "s")
          << c.name << ": unexpected family " << f.name;
      if (f.name != "ok" && c.line == 1) {
        EXPECT_TRUE(f.samples.empty()) << c.name;
      }
    }
  }
}

// Parsing goes on after a bad line; a rejected line leaves no labels or text behind.
TEST(ParserTest, ContinuesAfterErrors) {
  const std::string input =
      "# TYPE m gauge\n"          // 1
      "m{a=\"1\",b=\"2\"} bad\n"  // 2: invalid value, after its labels were read
      "m{c=\"3\"} 1\n"            // 3
      "}garbage\n"                // 4
      "\n"                        // 5
      "# TYPE m counter\n"        // 6: duplicate TYPE
      "n 2\n";                    // 7
  ParseResult result;
  ASSERT_TRUE(Parse(input, result).ok());
  EXPECT_EQ(Dump(result), "m gauge\n  m{c=\"3\"} 1\nn untyped\n  n 2\n");
  ASSERT_EQ(result.errors().size(), 3u) << DumpErrors(result);
  EXPECT_EQ(result.errors()[0].line, 2u);
  EXPECT_EQ(result.errors()[1].line, 4u);
  EXPECT_EQ(result.errors()[2].line, 6u);
}

// Only max_errors errors are kept; the rest are counted.
TEST(ParserTest, BoundsTheErrorList) {
  ParseOptions options;
  options.max_errors = 2;
  ParseResult result;
  ASSERT_TRUE(Parse("bad\nbad\nok 1\nbad\nbad\n", result, options).ok());
  ASSERT_EQ(result.errors().size(), 2u);
  EXPECT_EQ(result.errors()[1].line, 2u);
  EXPECT_EQ(result.dropped_errors(), 2u);
  EXPECT_EQ(Dump(result), "ok untyped\n  ok 1\n");
}

// Lines over max_line_bytes and samples over max_labels_per_sample are line errors.
TEST(ParserTest, BoundsLinesAndLabels) {
  ParseOptions options;
  options.max_line_bytes = 16;
  options.max_labels_per_sample = 2;
  ParseResult result;
  const std::string input =
      "short 1\n"                             // 1
      "this_line_is_much_too_long 1\n"        // 2
      "l{a=\"1\",b=\"2\"} 1\n"                // 3: 16 bytes, exactly at the bound
      "# a long comment is still too long\n"  // 4
      "m{a=\"1\",b=\"2\",c=\"3\"} 1\n";       // 5: over the line bound too
  ASSERT_TRUE(Parse(input, result, options).ok());
  EXPECT_EQ(Dump(result), "short untyped\n  short 1\nl untyped\n  l{a=\"1\",b=\"2\"} 1\n");
  ASSERT_EQ(result.errors().size(), 3u) << DumpErrors(result);
  EXPECT_EQ(result.errors()[0].line, 2u);
  EXPECT_NE(result.errors()[0].reason.find("line of 28 bytes is over the limit of 16"),
            std::string::npos)
      << result.errors()[0].reason;
  EXPECT_EQ(result.errors()[1].line, 4u);
  EXPECT_EQ(result.errors()[2].line, 5u);

  options.max_line_bytes = 1024;
  ASSERT_TRUE(Parse("m{a=\"1\",b=\"2\",c=\"3\"} 1\n", result, options).ok());
  ASSERT_EQ(result.errors().size(), 1u);
  EXPECT_NE(result.errors()[0].reason.find("more than 2 labels"), std::string::npos);
}

// Input over max_input_bytes is ResourceExhausted; only whole lines within the bound count.
TEST(ParserTest, BoundsInputSize) {
  const std::string input = "a 1\nb 2\nc 3\n";  // lines end at bytes 4, 8, 12
  ParseOptions options;
  ParseResult result;

  options.max_input_bytes = 10;  // cuts "c 3" in the middle
  Status status = Parse(input, result, options);
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("over the limit of 10 bytes"), std::string::npos)
      << status.message();
  EXPECT_EQ(Dump(result), "a untyped\n  a 1\nb untyped\n  b 2\n");
  EXPECT_EQ(result.bytes_parsed(), 8u);
  EXPECT_TRUE(result.errors().empty());

  options.max_input_bytes = 3;  // not even one whole line
  EXPECT_EQ(Parse(input, result, options).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(result.families().empty());

  options.max_input_bytes = input.size();  // exactly at the bound is fine
  EXPECT_TRUE(Parse(input, result, options).ok());
  EXPECT_EQ(result.families().size(), 3u);
}

// A result reused for the next parse is cleared and keeps its storage.
TEST(ParserTest, ReusesResultStorage) {
  const std::string page = "# TYPE m gauge\nm{a=\"1\"} 1\nm{a=\"2\"} 2\n# TYPE n counter\nn 3\n";
  ParseResult result;
  ASSERT_TRUE(Parse(page, result).ok());
  const std::string first = Dump(result);
  const Sample* samples = result.families()[0].samples.data();

  ASSERT_TRUE(Parse("bad\n", result).ok());
  EXPECT_TRUE(result.families().empty());
  EXPECT_EQ(result.errors().size(), 1u);

  ASSERT_TRUE(Parse(page, result).ok());
  EXPECT_EQ(Dump(result), first);
  EXPECT_TRUE(result.errors().empty());
  EXPECT_EQ(result.families()[0].samples.data(), samples);

  result.Clear();
  EXPECT_TRUE(result.families().empty());
  EXPECT_EQ(result.FindFamily("m"), nullptr);
}

// The result owns its text: it outlives the input and survives a move.
TEST(ParserTest, ResultOwnsItsText) {
  ParseResult result;
  {
    std::string input = "# HELP m help text\nm{a=\"x\\ny\"} 5\n";
    ASSERT_TRUE(Parse(input, result).ok());
    input.assign(input.size(), '?');
  }
  ParseResult moved = std::move(result);
  const MetricFamily* m = moved.FindFamily("m");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->help, "help text");
  ASSERT_EQ(m->samples.size(), 1u);
  EXPECT_EQ(m->samples[0].labels.Find("a"), std::optional<std::string_view>("x\ny"));
  EXPECT_EQ(m->samples[0].labels.Find("b"), std::nullopt);
}

// FindFamily looks up family names, not series names.
TEST(ParserTest, FindFamilyByName) {
  ParseResult result;
  ASSERT_TRUE(Parse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\ng 2\n", result).ok());
  ASSERT_NE(result.FindFamily("h"), nullptr);
  EXPECT_EQ(result.FindFamily("h")->samples.size(), 2u);
  EXPECT_EQ(result.FindFamily("h_bucket"), nullptr);
  ASSERT_NE(result.FindFamily("g"), nullptr);
  EXPECT_EQ(result.FindFamily("g")->samples[0].value, 2);
}

// Many families exercise the name index past its first growth.
TEST(ParserTest, ManyFamilies) {
  std::string input;
  for (int i = 0; i < 500; ++i) {
    input += "# TYPE metric_" + std::to_string(i) + " gauge\n";
    input += "metric_" + std::to_string(i) + "{i=\"" + std::to_string(i) + "\"} " +
             std::to_string(i) + "\n";
  }
  ParseResult result;
  ASSERT_TRUE(Parse(input, result).ok());
  ASSERT_EQ(result.families().size(), 500u);
  for (int i = 0; i < 500; ++i) {
    const MetricFamily* f = result.FindFamily("metric_" + std::to_string(i));
    ASSERT_NE(f, nullptr) << i;
    ASSERT_EQ(f->samples.size(), 1u);
    EXPECT_EQ(f->samples[0].value, i);
    EXPECT_EQ(f->type, MetricType::kGauge);
  }
}

}  // namespace
}  // namespace etcdmon::promtext
