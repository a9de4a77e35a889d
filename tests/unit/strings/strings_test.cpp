#include "etcdmon/strings/strings.h"

#include <gtest/gtest.h>

namespace etcdmon::strings {
namespace {

// Join puts the separator between parts only.
TEST(StringsTest, Join) {
  EXPECT_EQ(Join({}, ", "), "");
  EXPECT_EQ(Join({"a"}, ", "), "a");
  EXPECT_EQ(Join({"a", "", "c"}, ", "), "a, , c");
  EXPECT_EQ(Join({"x", "y"}, "\n"), "x\ny");
}

// Only ASCII letters change case; other bytes pass through.
TEST(StringsTest, AsciiToLower) {
  EXPECT_EQ(AsciiToLower("HTTPS"), "https");
  EXPECT_EQ(AsciiToLower("Info-2_Z"), "info-2_z");
  EXPECT_EQ(AsciiToLower("\xc3\x89T\xc3\x89"), "\xc3\x89t\xc3\x89");
}

// Trimming removes ASCII white space at both ends only.
TEST(StringsTest, TrimAsciiWhitespace) {
  EXPECT_EQ(TrimAsciiWhitespace("  a b \t\r\n"), "a b");
  EXPECT_EQ(TrimAsciiWhitespace("\n\n"), "");
  EXPECT_EQ(TrimAsciiWhitespace(""), "");
  EXPECT_EQ(TrimAsciiWhitespace("x"), "x");
}

}  // namespace
}  // namespace etcdmon::strings
