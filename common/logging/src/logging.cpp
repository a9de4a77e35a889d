#include "etcdmon/logging/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cassert>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <utility>

#include "etcdmon/strings/strings.h"

namespace etcdmon::logging {

namespace {

using spdlog::memory_buf_t;

struct LevelName {
  std::string_view name;
  spdlog::level::level_enum level;
};

constexpr LevelName kLevels[] = {
    {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
};

std::string_view LevelText(spdlog::level::level_enum level) {
  for (const LevelName& l : kLevels) {
    if (l.level == level) {
      return l.name;
    }
  }
  return "unknown";
}

void Append(std::string_view text, memory_buf_t& dest) {
  dest.append(text.data(), text.data() + text.size());
}

void AppendHex(const char* prefix, unsigned char c, memory_buf_t& dest) {
  char buf[16];
  const int n = std::snprintf(buf, sizeof(buf), "%s%02x", prefix, c);
  dest.append(buf, buf + n);
}

// "2026-11-25T10:00:00.123Z".
void AppendTimestamp(std::chrono::system_clock::time_point time, memory_buf_t& dest) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  const int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                              utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  dest.append(buf, buf + n);
}

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629), 0 when malformed.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) -> int {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : -1;
  };
  const auto in = [](int b, int lo, int hi) { return b >= lo && b <= hi; };
  const int b0 = byte(0);
  if (in(b0, 0xC2, 0xDF)) {
    return in(byte(1), 0x80, 0xBF) ? 2 : 0;
  }
  if (in(b0, 0xE0, 0xEF)) {
    const int lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const int hi = b0 == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    const int lo = b0 == 0xF0 ? 0x90 : 0x80;
    const int hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) && in(byte(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

// A JSON string literal (RFC 8259), quotes included.
void AppendJsonString(std::string_view text, memory_buf_t& dest) {
  dest.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        Append("\\ufffd", dest);
        ++i;
      } else {
        dest.append(text.data() + i, text.data() + i + length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        Append("\\\"", dest);
        break;
      case '\\':
        Append("\\\\", dest);
        break;
      case '\n':
        Append("\\n", dest);
        break;
      case '\r':
        Append("\\r", dest);
        break;
      case '\t':
        Append("\\t", dest);
        break;
      case '\b':
        Append("\\b", dest);
        break;
      case '\f':
        Append("\\f", dest);
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          AppendHex("\\u00", c, dest);
        } else {
          dest.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  dest.push_back('"');
}

// The message with control characters escaped, so that one event stays one line.
void AppendTextMessage(std::string_view text, memory_buf_t& dest) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      Append("\\n", dest);
    } else if (c == '\r') {
      Append("\\r", dest);
    } else if (c == '\t') {
      Append("\\t", dest);
    } else if (c < 0x20 || c == 0x7f) {
      AppendHex("\\x", c, dest);
    } else {
      dest.push_back(ch);
    }
  }
}

std::string_view View(spdlog::string_view_t text) { return {text.data(), text.size()}; }

// `<ts> <level> <logger> <message>`.
class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, memory_buf_t& dest) override {
    AppendTimestamp(msg.time, dest);
    dest.push_back(' ');
    Append(LevelText(msg.level), dest);
    dest.push_back(' ');
    Append(View(msg.logger_name), dest);
    dest.push_back(' ');
    AppendTextMessage(View(msg.payload), dest);
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

// `{"ts":...,"level":...,"logger":...,"msg":...}`.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, memory_buf_t& dest) override {
    Append("{\"ts\":\"", dest);
    AppendTimestamp(msg.time, dest);
    Append("\",\"level\":\"", dest);
    Append(LevelText(msg.level), dest);
    Append("\",\"logger\":", dest);
    AppendJsonString(View(msg.logger_name), dest);
    Append(",\"msg\":", dest);
    AppendJsonString(View(msg.payload), dest);
    Append("}\n", dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Result<std::shared_ptr<spdlog::logger>> MakeLogger(std::string name,
                                                   const config::LogConfig& config) {
  return MakeLogger(std::move(name), config, std::make_shared<spdlog::sinks::stderr_sink_mt>());
}

Result<std::shared_ptr<spdlog::logger>> MakeLogger(std::string name,
                                                   const config::LogConfig& config,
                                                   std::shared_ptr<spdlog::sinks::sink> sink) {
  assert(sink != nullptr && "MakeLogger needs a sink");
  if (name.empty()) {
    return Status::InvalidArgument("empty logger name");
  }
  const std::string level_name = strings::AsciiToLower(config.level);
  const LevelName* level = nullptr;
  for (const LevelName& l : kLevels) {
    if (l.name == level_name) {
      level = &l;
    }
  }
  if (level == nullptr) {
    return Status::InvalidArgument("unknown log level \"" + config.level +
                                   "\": want trace, debug, info, warn, error, critical or off");
  }
  std::unique_ptr<spdlog::formatter> formatter;
  const std::string format = strings::AsciiToLower(config.format);
  if (format == "text") {
    formatter = std::make_unique<TextFormatter>();
  } else if (format == "json") {
    formatter = std::make_unique<JsonFormatter>();
  } else {
    return Status::InvalidArgument("unknown log format \"" + config.format +
                                   "\": want text or json");
  }
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  logger->set_level(level->level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace etcdmon::logging
