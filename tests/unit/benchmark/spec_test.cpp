#include "etcdmon/benchmark/spec.h"

#include <gtest/gtest.h>

namespace etcdmon::benchmark {
namespace {

// The defaults are a valid spec.
TEST(SpecTest, DefaultsAreValid) { EXPECT_TRUE(ValidateSpec(BenchmarkSpec{}).ok()); }

// Every bound is checked, and each violation names itself.
TEST(SpecTest, RejectsOutOfBounds) {
  struct Case {
    const char* name;
    void (*mutate)(BenchmarkSpec&);
    const char* expected;
  };
  const Case cases[] = {
      {"zero ops", [](BenchmarkSpec& s) { s.ops = 0; }, "ops must be"},
      {"too many ops", [](BenchmarkSpec& s) { s.ops = kMaxOps + 1; }, "ops must be"},
      {"zero clients", [](BenchmarkSpec& s) { s.clients = 0; }, "clients must be"},
      {"too many clients", [](BenchmarkSpec& s) { s.clients = kMaxClients + 1; },
       "clients must be"},
      {"conns > clients",
       [](BenchmarkSpec& s) {
         s.clients = 2;
         s.conns = 3;
       },
       "must not exceed clients"},
      {"value too big", [](BenchmarkSpec& s) { s.value_size = kMaxValueSize + 1; }, "value size"},
      {"key too small", [](BenchmarkSpec& s) { s.key_size = 10; }, "key size must be between"},
      {"key too big", [](BenchmarkSpec& s) { s.key_size = kMaxKeySize + 1; },
       "key size must be between"},
      {"zero key space", [](BenchmarkSpec& s) { s.key_space = 0; }, "key space must be"},
      {"rate too high", [](BenchmarkSpec& s) { s.rate = kMaxRate + 1; }, "rate must be"},
      {"short duration", [](BenchmarkSpec& s) { s.duration = std::chrono::milliseconds(10); },
       "duration must be"},
      {"long duration", [](BenchmarkSpec& s) { s.duration = std::chrono::hours(25); },
       "duration must be"},
      {"empty prefix", [](BenchmarkSpec& s) { s.prefix.clear(); }, "prefix must be"},
      {"huge populate",
       [](BenchmarkSpec& s) {
         s.type = WorkloadType::kRead;
         s.key_space = kMaxKeySpace;
         s.value_size = 1024;
       },
       "1 GiB"},
      {"clients x value",
       [](BenchmarkSpec& s) {
         s.clients = kMaxClients;
         s.conns = 1;
         s.value_size = kMaxValueSize;
       },
       "256 MiB"},
      {"empty target", [](BenchmarkSpec& s) { s.target = TargetKind::kEndpoint; },
       "target endpoint"},
  };
  for (const Case& c : cases) {
    BenchmarkSpec spec;
    c.mutate(spec);
    Status s = ValidateSpec(spec);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << c.name << ": " << s.message();
  }
}

// A duration run ignores ops, so ops = 0 is fine then.
TEST(SpecTest, DurationReplacesOps) {
  BenchmarkSpec spec;
  spec.ops = 0;
  spec.duration = std::chrono::seconds(5);
  EXPECT_TRUE(ValidateSpec(spec).ok());
}

// The key must hold the prefix, the 9-byte run id and the largest index.
TEST(SpecTest, KeySizeMustFitPrefixRunIdAndIndex) {
  BenchmarkSpec spec;
  spec.prefix = "/p/";
  spec.key_space = 1000;  // indexes up to 999: three digits
  spec.key_size = 3 + 9 + 3;
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.key_size = 3 + 9 + 2;
  EXPECT_FALSE(ValidateSpec(spec).ok());
}

// check perf profiles carry etcdctl's numbers.
TEST(SpecTest, CheckPerfProfiles) {
  struct Case {
    const char* text;
    uint32_t rate;
    uint32_t clients;
  };
  for (const Case& c :
       {Case{"s", 150, 50}, Case{"M", 1000, 200}, Case{"l", 8000, 500}, Case{"xl", 15000, 1000}}) {
    Result<PerfProfile> profile = ParsePerfProfile(c.text);
    ASSERT_TRUE(profile.ok()) << c.text;
    BenchmarkSpec spec = CheckPerfSpec(*profile, BenchmarkSpec{});
    EXPECT_EQ(spec.rate, c.rate) << c.text;
    EXPECT_EQ(spec.clients, c.clients) << c.text;
    EXPECT_EQ(spec.duration, std::chrono::milliseconds(60000)) << c.text;
    EXPECT_EQ(spec.key_size, 256u);
    EXPECT_EQ(spec.value_size, 1024u);
    EXPECT_EQ(spec.type, WorkloadType::kWrite);
    EXPECT_TRUE(ValidateSpec(spec).ok()) << c.text;
  }
  EXPECT_FALSE(ParsePerfProfile("xxl").ok());
}

}  // namespace
}  // namespace etcdmon::benchmark
