#pragma once

// Runs a service's command-line parser as main() would, for the flag tests: the arguments after
// the program name in, the ParseResult and what it printed (help on out, `error:` lines on err)
// back. Header-only.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/config/flags.h"
#include "etcdmon/testing/scoped_env.h"

namespace etcdmon::testing {

template <typename T>
struct ParsedCommandLine {
  config::ParseResult<T> result;
  std::string out;  // help
  std::string err;  // error lines
};

/// `parse` is a service's ParseXxxCommandLine(argc, argv, out, err).
template <typename T>
ParsedCommandLine<T> ParseCommandLineForTest(
    config::ParseResult<T> (*parse)(int, const char* const*, std::ostream&, std::ostream&),
    const char* program, const std::vector<std::string>& args) {
  std::vector<const char*> argv{program};
  for (const std::string& arg : args) {
    argv.push_back(arg.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  auto result = parse(static_cast<int>(argv.size()), argv.data(), out, err);
  return ParsedCommandLine<T>{std::move(result), out.str(), err.str()};
}

/// The lines of `text`, without their line breaks.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

/// "1500ms": a duration as the tests compare it.
inline std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

/// One bad value: the arguments, the flag (or `env VAR`) the error line names first, and what the
/// line shows of the value (or the reason, when the value is empty or secret).
struct BadValueCase {
  std::vector<std::string> args;
  std::string source;
  std::string shown;
};

/// For each case, `parse(args)` refuses the command line as a usage error (exit code 2) with
/// exactly one `error: <source>...` line showing `shown`, and prints nothing on stdout.
template <typename ParseFn, typename Cases>
void ExpectEachBadValueIsOneErrorLine(ParseFn parse, const Cases& cases) {
  for (const BadValueCase& c : cases) {
    const std::string name = c.args.front();
    const auto parsed = parse(c.args);
    EXPECT_FALSE(parsed.result.ok()) << name;
    EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage) << name;
    const std::vector<std::string> lines = Lines(parsed.err);
    ASSERT_THAT(lines, ::testing::SizeIs(1)) << name << ": " << parsed.err;
    EXPECT_THAT(lines[0], ::testing::StartsWith("error: " + c.source)) << name;
    EXPECT_THAT(lines[0], ::testing::HasSubstr(c.shown)) << name;
    EXPECT_TRUE(parsed.out.empty()) << name;
  }
}

/// An unknown flag: `parse({"--no-such-flag"})` is a usage error (exit code 2) with exactly one
/// `error:` line that names the flag.
template <typename ParseFn>
void ExpectUnknownFlagIsOneErrorLine(ParseFn parse) {
  const auto parsed = parse({"--no-such-flag"});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(parsed.err), ::testing::SizeIs(1)) << parsed.err;
  EXPECT_THAT(parsed.err, ::testing::StartsWith("error: "));
  EXPECT_THAT(parsed.err, ::testing::HasSubstr("--no-such-flag"));
}

/// `parse({"--help"})` prints the help on stdout, nothing on stderr, and exits 0 without running
/// (no configuration comes back); the help names every flag of `flags`.
template <typename ParseFn>
void ExpectHelpNamesFlags(ParseFn parse, const std::vector<std::string>& flags) {
  const auto parsed = parse({"--help"});
  EXPECT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.exit_code(), 0);
  EXPECT_TRUE(parsed.result.status().ok());
  EXPECT_TRUE(parsed.err.empty()) << parsed.err;
  for (const std::string& flag : flags) {
    EXPECT_THAT(parsed.out, ::testing::HasSubstr(flag));
  }
}

/// For each case (fields env, env_value, flag_value, field(command line) -> string): with only the
/// variable set, `field` reads env_value; with the flag `arg_of(case)` too, the flag's value wins.
/// `env` is unset again after each case.
template <typename ParseFn, typename Cases, typename ArgFn>
void ExpectFlagBeatsVariable(ScopedEnv& env, ParseFn parse, const Cases& cases, ArgFn arg_of) {
  for (const auto& c : cases) {
    const std::string arg = arg_of(c);
    env.Set(c.env, c.env_value);
    const auto from_env = parse({});
    ASSERT_TRUE(from_env.result.ok()) << c.env << ": " << from_env.err;
    EXPECT_EQ(c.field(from_env.result.value()), c.env_value) << c.env;
    const auto from_flag = parse({arg});
    ASSERT_TRUE(from_flag.result.ok()) << arg << ": " << from_flag.err;
    EXPECT_EQ(c.field(from_flag.result.value()), c.flag_value) << arg;
    env.Unset(c.env);
  }
}

}  // namespace etcdmon::testing
