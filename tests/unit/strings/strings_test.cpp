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

// Standard and URL-safe alphabets, with or without padding; anything else is refused.
TEST(StringsTest, DecodeBase64) {
  std::string out;
  EXPECT_TRUE(DecodeBase64("", out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(DecodeBase64("Zm9v", out));
  EXPECT_EQ(out, "foo");
  EXPECT_TRUE(DecodeBase64("Zm9vYg==", out));
  EXPECT_EQ(out, "foob");
  EXPECT_TRUE(DecodeBase64("Zm9vYmE", out));
  EXPECT_EQ(out, "fooba");
  EXPECT_TRUE(DecodeBase64("AP8+/w==", out));
  EXPECT_EQ(out, std::string("\0\xff\x3e\xff", 4));
  EXPECT_TRUE(DecodeBase64("AP8-_w", out));
  EXPECT_EQ(out, std::string("\0\xff\x3e\xff", 4));
  EXPECT_FALSE(DecodeBase64("Zm9v!", out));
  EXPECT_FALSE(DecodeBase64("Z", out));
  EXPECT_FALSE(DecodeBase64("Zm 9v", out));
}

}  // namespace
}  // namespace etcdmon::strings
