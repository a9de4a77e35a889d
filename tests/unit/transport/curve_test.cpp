// CURVE key generation, key files (format, permissions, overwrite protection) and loading.

#include "etcdmon/transport/curve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "transport_test_util.h"

namespace etcdmon::transport {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// A generated pair is two valid Z85 keys that belong together, and pairs differ.
TEST(CurveTest, GeneratesMatchingKeyPairs) {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_TRUE(IsValidCurveKey(pair->public_key));
  EXPECT_TRUE(IsValidCurveKey(pair->secret_key));
  Result<std::string> derived = CurvePublicKeyFromSecret(pair->secret_key);
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(*derived, pair->public_key);
  Result<CurveKeyPair> other = GenerateCurveKeyPair();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->secret_key, pair->secret_key);
}

// Key validation accepts exactly 40 characters of the Z85 alphabet.
TEST(CurveTest, ValidatesKeys) {
  struct Case {
    std::string key;
    bool valid;
  };
  const Case cases[] = {
      {std::string(40, 'a'), true},
      {"0123456789abcdefghijABCDEFGHIJ.-:+=^!/*?", true},
      {std::string(39, 'a'), false},
      {std::string(41, 'a'), false},
      {"", false},
      {std::string(39, 'a') + " ", false},
      {std::string(39, 'a') + "\"", false},
      {std::string(39, 'a') + ",", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsValidCurveKey(c.key), c.valid) << "'" << c.key << "'";
  }
}

// A written pair is two one-line files with mode 0600 that load back to the same pair.
TEST(CurveTest, WritesKeyFilesWithOwnerOnlyPermissions) {
  TempDir dir;
  const std::string key_dir = dir.File("keys");  // created by WriteCurveKeyPair
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(WriteCurveKeyPair(key_dir, *pair).ok());

  const std::string secret_path = key_dir + "/curve.key";
  const std::string public_path = key_dir + "/curve.pub";
  EXPECT_EQ(ModeOf(secret_path), 0600u);
  EXPECT_EQ(ModeOf(public_path), 0600u);
  EXPECT_EQ(ModeOf(key_dir), 0700u);
  EXPECT_EQ(ReadAll(secret_path), pair->secret_key + "\n");
  EXPECT_EQ(ReadAll(public_path), pair->public_key + "\n");

  Result<CurveKeyPair> loaded = LoadCurveKeyPair(key_dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->public_key, pair->public_key);
  EXPECT_EQ(loaded->secret_key, pair->secret_key);
}

// Existing key files are not overwritten unless asked.
TEST(CurveTest, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  Result<CurveKeyPair> first = GenerateCurveKeyPair();
  Result<CurveKeyPair> second = GenerateCurveKeyPair();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), *first).ok());
  Status again = WriteCurveKeyPair(dir.path(), *second);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(LoadCurveKey(dir.File("curve.key")).value(), first->secret_key);
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), *second, /*overwrite=*/true).ok());
  EXPECT_EQ(LoadCurveKey(dir.File("curve.key")).value(), second->secret_key);
  EXPECT_EQ(ModeOf(dir.File("curve.key")), 0600u);
}

// A pair whose halves do not belong together is not written.
TEST(CurveTest, RejectsMismatchedPair) {
  TempDir dir;
  Result<CurveKeyPair> first = GenerateCurveKeyPair();
  Result<CurveKeyPair> second = GenerateCurveKeyPair();
  ASSERT_TRUE(first.ok() && second.ok());
  CurveKeyPair mixed{first->public_key, second->secret_key};
  EXPECT_EQ(WriteCurveKeyPair(dir.path(), mixed).code(), StatusCode::kInvalidArgument);
}

// Surrounding whitespace is ignored when loading.
TEST(CurveTest, LoadTrimsWhitespace) {
  TempDir dir;
  const std::string key(40, 'k');
  WriteAll(dir.File("key"), "  \n" + key + " \r\n\n");
  Result<std::string> loaded = LoadCurveKey(dir.File("key"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, key);
}

// Bad key files give a clear error that names the file.
TEST(CurveTest, BadKeyFileIsAClearError) {
  TempDir dir;
  struct Case {
    const char* name;
    std::string content;
    std::string message;
  };
  const Case cases[] = {
      {"empty", "", "found 0 characters"},
      {"short", std::string(39, 'a'), "found 39 characters"},
      {"two keys", std::string(40, 'a') + "\n" + std::string(40, 'b'), "found 81 characters"},
      {"bad alphabet", std::string(39, 'a') + ",", "outside the Z85 alphabet"},
      {"binary", std::string(40, '\x01'), "outside the Z85 alphabet"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.File("bad.key");
    WriteAll(path, c.content);
    Result<std::string> loaded = LoadCurveKey(path);
    ASSERT_FALSE(loaded.ok()) << c.name;
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(loaded.status().message(), HasSubstr(path)) << c.name;
    EXPECT_THAT(loaded.status().message(), HasSubstr(c.message)) << c.name;
  }
  Result<std::string> missing = LoadCurveKey(dir.File("missing.key"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir.File("missing.key")));
}

// A public key file that does not match the secret key is an error when loading the pair.
TEST(CurveTest, LoadPairDetectsMismatch) {
  TempDir dir;
  Result<CurveKeyPair> first = GenerateCurveKeyPair();
  Result<CurveKeyPair> second = GenerateCurveKeyPair();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(WriteCurveKeyPair(dir.path(), *first).ok());
  WriteAll(dir.File("curve.pub"), second->public_key + "\n");
  Result<CurveKeyPair> loaded = LoadCurveKeyPair(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("curve.pub"));
}

// A command-line key is a key file when such a file exists, even when its path is 40
// characters of the Z85 alphabet (which has '/' and '.'); otherwise it must be a key.
TEST(CurveTest, KeyArgumentPrefersAnExistingFile) {
  TempDir dir;
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok());
  std::string path = dir.File("k");
  path += std::string(kCurveKeyLength - path.size() % kCurveKeyLength, 'x');
  ASSERT_EQ(path.size() % kCurveKeyLength, 0u);
  WriteAll(path, pair->public_key + "\n");
  if (path.size() == kCurveKeyLength) {
    EXPECT_TRUE(IsValidCurveKey(path));  // the ambiguity this resolves
  }
  Result<std::string> from_file = ResolveCurveKeyArgument(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(*from_file, pair->public_key);

  Result<std::string> literal = ResolveCurveKeyArgument(pair->public_key);
  ASSERT_TRUE(literal.ok()) << literal.status().ToString();
  EXPECT_EQ(*literal, pair->public_key);

  Result<std::string> neither = ResolveCurveKeyArgument(dir.File("missing"));
  ASSERT_FALSE(neither.ok());
  EXPECT_EQ(neither.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::transport
