#include "etcdmon/logging/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace etcdmon::logging {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;

// 2026-11-25T10:00:00.123Z
const std::chrono::system_clock::time_point kTime =
    std::chrono::system_clock::time_point(std::chrono::seconds(1795600800)) + 123ms;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// A logger writing into a string, with the given level and format.
class LoggingTest : public ::testing::Test {
 protected:
  std::shared_ptr<spdlog::logger> Make(const std::string& level, const std::string& format) {
    config::LogConfig config;
    config.level = level;
    config.format = format;
    Result<std::shared_ptr<spdlog::logger>> logger =
        MakeLogger("collector", config, std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    EXPECT_TRUE(logger.ok()) << logger.status().ToString();
    return logger.ok() ? *logger : nullptr;
  }

  static void LogAt(spdlog::logger& logger, spdlog::level::level_enum level,
                    std::string_view message) {
    logger.log(kTime, spdlog::source_loc{}, level,
               spdlog::string_view_t(message.data(), message.size()));
  }

  std::ostringstream out_;
};

// Text lines are `<UTC ts with ms> <level> <logger> <message>`.
TEST_F(LoggingTest, TextFormat) {
  auto logger = Make("info", "text");
  ASSERT_NE(logger, nullptr);
  LogAt(*logger, spdlog::level::info, "sample_stored collector=c1 seq=812");
  LogAt(*logger, spdlog::level::warn, "aggregator_unreachable");
  LogAt(*logger, spdlog::level::err, "store_failed");
  LogAt(*logger, spdlog::level::critical, "disk_full");
  EXPECT_THAT(Lines(out_.str()),
              ElementsAre("2026-11-25T10:00:00.123Z info collector sample_stored collector=c1 "
                          "seq=812",
                          "2026-11-25T10:00:00.123Z warn collector aggregator_unreachable",
                          "2026-11-25T10:00:00.123Z error collector store_failed",
                          "2026-11-25T10:00:00.123Z critical collector disk_full"));
}

// The current time is printed as UTC ISO-8601 with milliseconds.
TEST_F(LoggingTest, TextTimestampOfNow) {
  auto logger = Make("info", "text");
  ASSERT_NE(logger, nullptr);
  logger->info("started");
  EXPECT_THAT(out_.str(), MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                       "\\.[0-9]{3}Z info collector started\n"));
}

// Control characters in a text message are escaped, so one event stays one line.
TEST_F(LoggingTest, TextEscapesLineBreaks) {
  auto logger = Make("info", "text");
  ASSERT_NE(logger, nullptr);
  LogAt(*logger, spdlog::level::info, "probe_failed error=\"line1\nline2\r\tx\x01\"");
  EXPECT_THAT(Lines(out_.str()), ElementsAre("2026-11-25T10:00:00.123Z info collector probe_failed "
                                             "error=\"line1\\nline2\\r\\tx\\x01\""));
}

struct LevelCase {
  std::string level;
  std::vector<std::string> shown;  // messages that pass, out of one per level
};

// Messages below the configured level are dropped; "off" drops everything.
TEST_F(LoggingTest, LevelFiltering) {
  const LevelCase cases[] = {
      {"trace", {"t", "d", "i", "w", "e", "c"}},
      {"debug", {"d", "i", "w", "e", "c"}},
      {"info", {"i", "w", "e", "c"}},
      {"WARN", {"w", "e", "c"}},
      {"error", {"e", "c"}},
      {"critical", {"c"}},
      {"off", {}},
  };
  for (const LevelCase& c : cases) {
    out_.str("");
    auto logger = Make(c.level, "json");
    ASSERT_NE(logger, nullptr) << c.level;
    LogAt(*logger, spdlog::level::trace, "t");
    LogAt(*logger, spdlog::level::debug, "d");
    LogAt(*logger, spdlog::level::info, "i");
    LogAt(*logger, spdlog::level::warn, "w");
    LogAt(*logger, spdlog::level::err, "e");
    LogAt(*logger, spdlog::level::critical, "c");
    std::vector<std::string> shown;
    for (const std::string& line : Lines(out_.str())) {
      shown.push_back(nlohmann::json::parse(line).at("msg").get<std::string>());
    }
    EXPECT_EQ(shown, c.shown) << c.level;
  }
}

// Each JSON line is one object with exactly ts, level, logger and msg.
TEST_F(LoggingTest, JsonFormat) {
  auto logger = Make("info", "json");
  ASSERT_NE(logger, nullptr);
  LogAt(*logger, spdlog::level::warn, "member_down member=etcd2");
  const std::vector<std::string> lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "{\"ts\":\"2026-11-25T10:00:00.123Z\",\"level\":\"warn\",\"logger\":\"collector\","
            "\"msg\":\"member_down member=etcd2\"}");
  const nlohmann::json event = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(event.size(), 4u);
}

struct JsonCase {
  std::string name;
  std::string message;
  std::string expected;  // msg after a JSON round trip
};

// Quotes, backslashes, line breaks, control characters and any bytes survive as valid JSON.
TEST_F(LoggingTest, JsonEscapesMessages) {
  const JsonCase cases[] = {
      {"quotes", "key=\"/a\" said \"hi\"", "key=\"/a\" said \"hi\""},
      {"backslash", "path=C:\\dir\\", "path=C:\\dir\\"},
      {"newlines", "line1\nline2\r\n", "line1\nline2\r\n"},
      {"tab and controls", "a\tb\x01\x1f\x7f\b\f", "a\tb\x01\x1f\x7f\b\f"},
      {"utf-8", "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80",
       "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80"},
      {"invalid utf-8", "bad\xFF\xC3(end\xE2\x82",
       "bad\xEF\xBF\xBD\xEF\xBF\xBD(end\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"surrogate", "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"json-looking", "{\"msg\":\"forged\"}", "{\"msg\":\"forged\"}"},
      {"empty", "", ""},
  };
  for (const JsonCase& c : cases) {
    out_.str("");
    auto logger = Make("info", "json");
    ASSERT_NE(logger, nullptr);
    LogAt(*logger, spdlog::level::info, c.message);
    const std::vector<std::string> lines = Lines(out_.str());
    ASSERT_EQ(lines.size(), 1u) << c.name << ": " << out_.str();
    nlohmann::json event;
    ASSERT_NO_THROW(event = nlohmann::json::parse(lines[0])) << c.name << ": " << lines[0];
    EXPECT_EQ(event.at("msg").get<std::string>(), c.expected) << c.name;
    EXPECT_EQ(event.at("level"), "info") << c.name;
    EXPECT_EQ(event.at("logger"), "collector") << c.name;
    EXPECT_EQ(event.at("ts"), "2026-11-25T10:00:00.123Z") << c.name;
  }
}

// Unknown levels and formats, and an empty name, are InvalidArgument.
TEST(MakeLoggerTest, RejectsBadConfig) {
  config::LogConfig bad_level;
  bad_level.level = "verbose";
  Result<std::shared_ptr<spdlog::logger>> logger = MakeLogger("x", bad_level);
  ASSERT_FALSE(logger.ok());
  EXPECT_EQ(logger.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(logger.status().message(), ::testing::HasSubstr("\"verbose\""));

  config::LogConfig bad_format;
  bad_format.format = "xml";
  logger = MakeLogger("x", bad_format);
  ASSERT_FALSE(logger.ok());
  EXPECT_EQ(logger.status().code(), StatusCode::kInvalidArgument);

  config::LogConfig warning;  // spdlog's spelling; LogConfig's is "warn"
  warning.level = "warning";
  EXPECT_FALSE(MakeLogger("x", warning).ok());

  EXPECT_FALSE(MakeLogger("", config::LogConfig{}).ok());
}

// The stderr logger has the name and level asked for and is left out of spdlog's registry.
TEST(MakeLoggerTest, StderrLogger) {
  config::LogConfig config;
  config.level = "debug";
  Result<std::shared_ptr<spdlog::logger>> logger = MakeLogger("aggregator", config);
  ASSERT_TRUE(logger.ok()) << logger.status().ToString();
  EXPECT_EQ((*logger)->name(), "aggregator");
  EXPECT_EQ((*logger)->level(), spdlog::level::debug);
  EXPECT_EQ(spdlog::get("aggregator"), nullptr);
  // A second logger of the same name is fine, as nothing is registered.
  EXPECT_TRUE(MakeLogger("aggregator", config).ok());
}

}  // namespace
}  // namespace etcdmon::logging
