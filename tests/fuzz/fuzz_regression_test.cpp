// The fuzz harnesses (fuzz_harness.h) on every input kept in the repository: the seed corpus
// (corpus/<target>/) and each input that once crashed a target (regressions/<target>/, named
// after what it found). Any of them crashing again, or a sanitizer report in a sanitized build,
// fails this test. The cases below name the crashes found by fuzzing, input inline.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_harness.h"

namespace etcdmon::fuzz {
namespace {

using Harness = void (*)(const std::uint8_t*, std::size_t);

void Feed(Harness harness, const std::string& input) {
  harness(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

// Every file of tests/fuzz/<kind>/<target>/; how many were fed.
int FeedDirectory(Harness harness, const std::string& kind, const std::string& target) {
  const std::filesystem::path dir = std::filesystem::path(ETCDMON_FUZZ_DIR) / kind / target;
  if (!std::filesystem::is_directory(dir)) {
    return 0;
  }
  int fed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    Feed(harness, input);
    ++fed;
  }
  return fed;
}

TEST(FuzzCorpusTest, IngestStage) {
  EXPECT_GT(FeedDirectory(&IngestStage, "corpus", "ingest_stage_fuzz"), 0);
  FeedDirectory(&IngestStage, "regressions", "ingest_stage_fuzz");
}

TEST(FuzzCorpusTest, GatewayRequest) {
  EXPECT_GT(FeedDirectory(&GatewayRequest, "corpus", "gateway_request_fuzz"), 0);
  FeedDirectory(&GatewayRequest, "regressions", "gateway_request_fuzz");
}

TEST(FuzzCorpusTest, RulesFile) {
  EXPECT_GT(FeedDirectory(&RulesFile, "corpus", "rules_file_fuzz"), 0);
  FeedDirectory(&RulesFile, "regressions", "rules_file_fuzz");
}

}  // namespace
}  // namespace etcdmon::fuzz
