// `etcd-monitor silence expire|list --all` against a canned REST API (the gateway's answers):
// the request each sends, what each prints, and how API errors are reported. The real API is
// exercised by the all-in-one integration test.

#include "etcdmon/cli/silence.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "etcdmon/config/exit_codes.h"
#include "etcdmon/testing/http_server.h"

namespace etcdmon::cli {
namespace {

using etcdmon::testing::CannedResponse;
using etcdmon::testing::HttpServer;

constexpr char kExpired[] =
    R"({"id":"0123456789abcdef","rule":"","member":"etcd-2","comment":"kernel upgrade",)"
    R"("created_at":"2024-05-01T09:59:00.000Z","expires_at":"2024-05-01T10:00:00.000Z",)"
    R"("state":"expired"})";

CannedResponse JsonAnswer(int status, std::string body) {
  return CannedResponse::With(status, std::move(body), "application/json");
}

class SilenceCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    options_.api_url = server_.Url("/");
    options_.api_token = config::Secret("t0ken");
  }

  HttpServer server_;
  SilenceOptions options_;
  std::ostringstream out_, err_;
};

// expire sends DELETE /api/v1/alerts/silences/{id} with the bearer token and prints the silence
// with its state.
TEST_F(SilenceCommandTest, ExpireDeletesWithTheTokenAndPrintsTheSilence) {
  server_.Set("/api/v1/alerts/silences/0123456789abcdef", JsonAnswer(200, kExpired));
  options_.id = "0123456789abcdef";
  ASSERT_EQ(RunSilenceExpire(options_, out_, err_), 0) << err_.str();
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].path, "/api/v1/alerts/silences/0123456789abcdef");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer t0ken");
  EXPECT_NE(out_.str().find("0123456789abcdef"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("expired"), std::string::npos) << out_.str();

  std::ostringstream json_out;
  options_.json = true;
  ASSERT_EQ(RunSilenceExpire(options_, json_out, err_), 0) << err_.str();
  EXPECT_EQ(json_out.str(), std::string(kExpired) + "\n");
}

// An unknown id is one error line with the API's message, exit 1.
TEST_F(SilenceCommandTest, ExpireReportsTheApisError) {
  server_.Set("/api/v1/alerts/silences/fedcba9876543210",
              JsonAnswer(404, R"({"error":{"code":404,"message":"no silence with id"}})"));
  options_.id = "fedcba9876543210";
  EXPECT_EQ(RunSilenceExpire(options_, out_, err_), config::kExitFailed);
  EXPECT_EQ(err_.str(), "error: the silence was not expired: no silence with id (HTTP 404)\n");
  EXPECT_TRUE(out_.str().empty());
}

// Without a token, without an id or with one that is no silence id, nothing is sent (exit 2).
TEST_F(SilenceCommandTest, ExpireChecksItsArgumentsBeforeSending) {
  struct Case {
    std::string id;
    bool with_token;
    std::string expected_in_err;
  } const cases[] = {
      {"", true, "id"},
      {"../../cluster/status", true, "not a silence id"},
      {std::string(129, 'a'), true, "not a silence id"},
      {"0123456789abcdef", false, "API token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    SilenceOptions options = options_;
    options.id = c.id;
    if (!c.with_token) {
      options.api_token = config::Secret("");
    }
    std::ostringstream out, err;
    EXPECT_EQ(RunSilenceExpire(options, out, err), config::kExitUsage);
    EXPECT_NE(err.str().find(c.expected_in_err), std::string::npos) << err.str();
  }
  EXPECT_EQ(server_.requests_received(), 0u);
}

// list --all asks for ?state=all and shows each silence's state.
TEST_F(SilenceCommandTest, ListAllAsksForExpiredSilencesToo) {
  server_.Set("/api/v1/alerts/silences?state=all",
              JsonAnswer(200, std::string(R"({"silences":[)") + kExpired + "]}"));
  options_.all = true;
  ASSERT_EQ(RunSilenceList(options_, out_, err_), 0) << err_.str();
  EXPECT_NE(out_.str().find("STATE"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("expired"), std::string::npos) << out_.str();
}

// --cluster adds ?cluster= to every call (after the list's own parameter), for an API that
// monitors several clusters.
TEST_F(SilenceCommandTest, EveryCallNamesTheClusterWhenGivenOne) {
  options_.cluster = "prod";
  server_.Set("/api/v1/alerts/silences?state=all&cluster=prod",
              JsonAnswer(200, std::string(R"({"silences":[)") + kExpired + "]}"));
  server_.Set("/api/v1/alerts/silences/0123456789abcdef?cluster=prod", JsonAnswer(200, kExpired));
  server_.Set("/api/v1/alerts/silences?cluster=prod", JsonAnswer(201, kExpired));
  options_.all = true;
  ASSERT_EQ(RunSilenceList(options_, out_, err_), 0) << err_.str();
  options_.id = "0123456789abcdef";
  ASSERT_EQ(RunSilenceExpire(options_, out_, err_), 0) << err_.str();
  options_.duration = std::chrono::hours(1);
  ASSERT_EQ(RunSilenceCreate(options_, out_, err_), 0) << err_.str();
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].path, "/api/v1/alerts/silences?state=all&cluster=prod");
  EXPECT_EQ(requests[1].path, "/api/v1/alerts/silences/0123456789abcdef?cluster=prod");
  EXPECT_EQ(requests[2].method, "POST");
  EXPECT_EQ(requests[2].path, "/api/v1/alerts/silences?cluster=prod");
}

}  // namespace
}  // namespace etcdmon::cli
