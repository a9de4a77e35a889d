#include "etcdmon/config/cluster_name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace etcdmon::config {
namespace {

using ::testing::HasSubstr;

TEST(ClusterNameTest, AcceptsPlainNames) {
  for (const std::string& name :
       std::vector<std::string>{"default", "prod", "eu-1", "k8s_prod.eu-west-1", "0", "A9",
                                std::string(kMaxClusterNameBytes, 'a')}) {
    EXPECT_TRUE(ValidateClusterName(name).ok()) << name;
  }
}

TEST(ClusterNameTest, RefusesWhatCannotBeALabelOrAPathSegment) {
  struct Case {
    std::string name;
    std::string says;
  };
  const Case cases[] = {
      {"", "empty"},
      {std::string(kMaxClusterNameBytes + 1, 'a'), "longer than 63 bytes"},
      {"-prod", "start with a letter or a digit"},
      {".hidden", "start with a letter or a digit"},
      {"a b", "only letters, digits"},
      {"a/b", "only letters, digits"},
      {"a,b", "only letters, digits"},
      {"a=b", "only letters, digits"},
      {std::string("a\0b", 3), "only letters, digits"},
      {"caf\xc3\xa9", "only letters, digits"},
  };
  for (const Case& c : cases) {
    const Status s = ValidateClusterName(c.name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(s.message(), HasSubstr(c.says)) << c.name;
    EXPECT_THAT(s.message(), HasSubstr("invalid cluster name")) << c.name;
  }
}

TEST(ClusterNameTest, ErrorsQuoteAControlSafeShortForm) {
  const Status s = ValidateClusterName(std::string(500, 'x') + "\n");
  EXPECT_LT(s.message().size(), 200u);
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("\n")));
}

}  // namespace
}  // namespace etcdmon::config
