// The allow-list file of collector keys: its format, and errors that name file and line.

#include "etcdmon/transport/collector_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "etcdmon/transport/curve.h"
#include "transport_test_util.h"

namespace etcdmon::transport {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::string NewPublicKey() {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  return pair.ok() ? pair->public_key : std::string();
}

// Comments, blank lines, tabs, and a key listed with several ids.
TEST(CollectorKeysTest, ParsesEntriesCommentsAndSharedKeys) {
  const std::string a = NewPublicKey();
  const std::string b = NewPublicKey();
  const std::string text = "# collectors of cluster prod\n\n" + std::string("etcd-1 ") + a +
                           "  # the first member\n" + "etcd-2\t" + b + "\n" + "etcd-3 " + b +
                           "\n   \n";
  Result<CollectorKeys> keys = CollectorKeys::Parse(text, "keys.txt");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->key_count(), 2u);
  EXPECT_EQ(keys->id_count(), 3u);
  EXPECT_TRUE(keys->Knows(a));
  EXPECT_TRUE(keys->Allows(a, "etcd-1"));
  EXPECT_FALSE(keys->Allows(a, "etcd-2"));
  EXPECT_TRUE(keys->Allows(b, "etcd-2"));
  EXPECT_TRUE(keys->Allows(b, "etcd-3"));
  EXPECT_FALSE(keys->Knows(NewPublicKey()));
  EXPECT_FALSE(keys->Allows(NewPublicKey(), "etcd-1"));
}

// Every malformed line is an InvalidArgument naming file:line and what is wrong.
TEST(CollectorKeysTest, BadLinesNameFileAndLine) {
  const std::string a = NewPublicKey();
  const std::string b = NewPublicKey();
  struct Case {
    std::string name;
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"one field", "# header\n" + a + "\n", "keys.txt:2: want `collector-id public-key`"},
      {"three fields", "etcd-1 " + a + " extra\n", "keys.txt:1: want `collector-id public-key`"},
      {"short key", "\n\netcd-1 abc\n", "keys.txt:3: public key is not 40 Z85 characters"},
      {"secret-looking junk", "etcd-1 " + std::string(40, '"') + "\n",
       "keys.txt:1: public key is not 40 Z85 characters"},
      {"id under two keys", "etcd-1 " + a + "\netcd-1 " + b + "\n",
       "keys.txt:2: collector id etcd-1 is listed with two different keys"},
      {"long id", std::string(129, 'x') + " " + a + "\n", "keys.txt:1: collector id longer"},
  };
  for (const Case& c : cases) {
    Result<CollectorKeys> keys = CollectorKeys::Parse(c.text, "keys.txt");
    ASSERT_FALSE(keys.ok()) << c.name;
    EXPECT_EQ(keys.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(keys.status().message(), HasSubstr(c.want)) << c.name;
  }
}

// Load reads the file; a missing one is NotFound naming the path.
TEST(CollectorKeysTest, LoadsAFile) {
  TempDir dir;
  const std::string a = NewPublicKey();
  std::ofstream(dir.File("keys")) << "etcd-1 " << a << "\n";
  Result<CollectorKeys> keys = CollectorKeys::Load(dir.File("keys"));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_TRUE(keys->Allows(a, "etcd-1"));
  Result<CollectorKeys> missing = CollectorKeys::Load(dir.File("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir.File("nope")));
}

}  // namespace
}  // namespace etcdmon::transport
