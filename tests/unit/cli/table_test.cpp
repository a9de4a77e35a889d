#include "etcdmon/cli/table.h"

#include <gtest/gtest.h>

namespace etcdmon::cli {
namespace {

// The table has an upper-case centred header, right-aligned cells and rules sized to the content.
TEST(TableTest, RendersLikeEtcdctl) {
  std::string table = RenderTable({"endpoint", "id"}, {{"127.0.0.1:2379", "a"}, {"h:1", "bcd"}});
  EXPECT_EQ(table,
            "+----------------+-----+\n"
            "|    ENDPOINT    | ID  |\n"
            "+----------------+-----+\n"
            "| 127.0.0.1:2379 |   a |\n"
            "|            h:1 | bcd |\n"
            "+----------------+-----+\n");
}

// A short row is padded with empty cells instead of being misaligned.
TEST(TableTest, PadsShortRows) {
  std::string table = RenderTable({"a", "b"}, {{"x"}});
  EXPECT_NE(table.find("| x |   |"), std::string::npos) << table;
}

// Byte sizes use SI units with etcdctl's rounding.
TEST(TableTest, HumanBytes) {
  struct Case {
    uint64_t bytes;
    const char* text;
  } cases[] = {
      {0, "0 B"},
      {9, "9 B"},
      {999, "999 B"},
      {20480, "20 kB"},
      {1500, "1.5 kB"},
      {1000000, "1.0 MB"},
      {8589934592ULL, "8.6 GB"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(HumanBytes(c.bytes), c.text) << c.bytes;
  }
}

// Ids print as etcd prints them: lower-case hex, no leading zeros.
TEST(TableTest, HexId) {
  EXPECT_EQ(HexId(0x1e2783afad32847ULL), "1e2783afad32847");
  EXPECT_EQ(HexId(0), "0");
  EXPECT_EQ(HexId(UINT64_MAX), "ffffffffffffffff");
}

}  // namespace
}  // namespace etcdmon::cli
