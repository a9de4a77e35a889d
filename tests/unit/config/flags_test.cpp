#include "etcdmon/config/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/testing/command_line.h"
#include "etcdmon/testing/scoped_env.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::config {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Lines;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Every variable the flags read; the fixture clears them so the runner's environment cannot leak
// into a test, and restores them afterwards.
const char* const kEnvVars[] = {
    "ENDPOINTS",         "DIAL_TIMEOUT", "CA_FILE",       "CERT_FILE", "KEY_FILE",
    "INSECURE_SKIP_TLS", "ETCD_USER",    "ETCD_PASSWORD", "LOG_LEVEL", "LOG_FORMAT",
};

template <typename T>
struct Parsed {
  ParseResult<T> result;
  std::string out;  // what went to stdout (help)
  std::string err;  // what went to stderr (errors)
};

// Runs `args` through a fresh CLI::App with `Flags` registered, as a main() would.
template <typename Flags, typename T>
Parsed<T> Run(const std::vector<std::string>& args) {
  CLI::App app{"test binary", "test"};
  Flags flags(app);
  std::vector<const char*> argv{"test"};
  for (const std::string& arg : args) {
    argv.push_back(arg.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  ParseResult<T> result = ParseCommandLine(
      app, static_cast<int>(argv.size()), argv.data(), [&] { return flags.Build(); }, out, err);
  return Parsed<T>{std::move(result), out.str(), err.str()};
}

Parsed<EtcdConnectionConfig> RunConnection(const std::vector<std::string>& args) {
  return Run<ConnectionFlags, EtcdConnectionConfig>(args);
}
Parsed<LogConfig> RunLog(const std::vector<std::string>& args) {
  return Run<LogFlags, LogConfig>(args);
}

class FlagsTest : public ::testing::Test {
 protected:
  void SetEnv(const char* name, const std::string& value) { env_.Set(name, value); }

  // Creates a file in the test's own directory and returns its path.
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = temp_.File(name);
    std::ofstream(path) << content;
    return path;
  }

  // The variables the flags read are cleared for each test and restored afterwards.
  testing::ScopedEnv env_{kEnvVars};
  testing::TempDir temp_;
  const std::filesystem::path dir_{temp_.path()};
};

using ConnectionFlagsTest = FlagsTest;
using LogFlagsTest = FlagsTest;
using ParseCommandLineTest = FlagsTest;

// With no flags and no variables, the documented defaults apply.
TEST_F(ConnectionFlagsTest, Defaults) {
  Parsed<EtcdConnectionConfig> parsed = RunConnection({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const EtcdConnectionConfig& config = parsed.result.value();
  ASSERT_THAT(config.endpoints, SizeIs(1));
  EXPECT_EQ(config.endpoints[0].Authority(), "localhost:2379");
  EXPECT_EQ(config.dial_timeout, 5s);
  EXPECT_EQ(config.request_timeout, 5s);
  EXPECT_FALSE(config.tls.Configured());
  EXPECT_TRUE(config.username.empty());
  EXPECT_TRUE(config.password.empty());
  EXPECT_EQ(parsed.err, "");
}

// A flag beats its variable; a variable applies when its flag is absent.
TEST_F(ConnectionFlagsTest, FlagBeatsEnv) {
  SetEnv("ENDPOINTS", "env1:2379,env2:2379");
  SetEnv("DIAL_TIMEOUT", "7s");
  Parsed<EtcdConnectionConfig> parsed =
      RunConnection({"--endpoints=flag:2379", "--command-timeout", "2s"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const EtcdConnectionConfig& config = parsed.result.value();
  ASSERT_THAT(config.endpoints, SizeIs(1));
  EXPECT_EQ(config.endpoints[0].host, "flag");
  EXPECT_EQ(config.dial_timeout, 7s);
  EXPECT_EQ(config.request_timeout, 2s);
}

// A bad value names the flag when the flag gave it, and the variable when the variable did.
TEST_F(ConnectionFlagsTest, ErrorNamesTheSourceOfTheValue) {
  Parsed<EtcdConnectionConfig> from_flag = RunConnection({"--dial-timeout=5x"});
  ASSERT_FALSE(from_flag.result.ok());
  EXPECT_EQ(from_flag.result.status().message(),
            "--dial-timeout \"5x\": unknown unit \"x\" (use ns, us, ms, s, m or h)");

  SetEnv("DIAL_TIMEOUT", "5x");
  Parsed<EtcdConnectionConfig> from_env = RunConnection({});
  ASSERT_FALSE(from_env.result.ok());
  EXPECT_THAT(from_env.result.status().message(),
              StartsWith("env DIAL_TIMEOUT \"5x\": unknown unit \"x\""));

  // The flag wins even over a bad variable.
  Parsed<EtcdConnectionConfig> flag_wins = RunConnection({"--dial-timeout=1s"});
  ASSERT_TRUE(flag_wins.result.ok()) << flag_wins.err;
  EXPECT_EQ(flag_wins.result.value().dial_timeout, 1s);
}

// A comma-separated list keeps its order and accepts spaces, schemes and IPv6.
TEST_F(ConnectionFlagsTest, ParsesEndpointList) {
  Parsed<EtcdConnectionConfig> parsed =
      RunConnection({"--endpoints", "localhost:2379, https://etcd2:22379 ,[::1]:32379"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const auto& endpoints = parsed.result.value().endpoints;
  ASSERT_THAT(endpoints, SizeIs(3));
  EXPECT_EQ(endpoints[0].Url("http"), "http://localhost:2379");
  EXPECT_EQ(endpoints[1].Url("http"), "https://etcd2:22379");
  EXPECT_EQ(endpoints[2].Url("http"), "http://[::1]:32379");
}

struct EndpointListCase {
  std::string value;
  std::string expected;  // in the error
};

// Bad lists are rejected, each bad item named.
TEST_F(ConnectionFlagsTest, RejectsBadEndpointLists) {
  const EndpointListCase cases[] = {
      {"", "--endpoints: at least one endpoint is required"},
      {" , ", "empty item"},
      {"a:1,,b:2", "--endpoints \"a:1,,b:2\": empty item in the list"},
      {"a:1,", "empty item"},
      {"a:1,localhost", "--endpoints \"localhost\": missing port"},
      {"a:1,a:1", "--endpoints \"a:1\": listed twice"},
      {"ftp://a:1", "unknown scheme"},
  };
  for (const EndpointListCase& c : cases) {
    Parsed<EtcdConnectionConfig> parsed = RunConnection({"--endpoints", c.value});
    ASSERT_FALSE(parsed.result.ok()) << c.value;
    EXPECT_THAT(parsed.result.status().message(), HasSubstr(c.expected)) << c.value;
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.value;
  }
}

// A client certificate without its key is rejected, and so is a key without its certificate.
TEST_F(ConnectionFlagsTest, CertAndKeyComeTogether) {
  const std::string cert = WriteFile("client.pem", "cert");
  const std::string key = WriteFile("client-key.pem", "key");
  std::filesystem::permissions(key, std::filesystem::perms::owner_read);  // a private key

  Parsed<EtcdConnectionConfig> cert_only = RunConnection({"--cert", cert});
  ASSERT_FALSE(cert_only.result.ok());
  EXPECT_THAT(cert_only.result.status().message(), HasSubstr("--cert: a client certificate"));

  SetEnv("KEY_FILE", key);
  Parsed<EtcdConnectionConfig> key_only = RunConnection({});
  ASSERT_FALSE(key_only.result.ok());
  EXPECT_THAT(key_only.result.status().message(),
              HasSubstr("env KEY_FILE: a client key needs its certificate"));

  Parsed<EtcdConnectionConfig> both = RunConnection({"--cert", cert});
  ASSERT_TRUE(both.result.ok()) << both.err;
  EXPECT_EQ(both.result.value().tls.cert_file, cert);
  EXPECT_EQ(both.result.value().tls.key_file, key);
}

// A CA file that does not exist is rejected with its path; so is a directory.
TEST_F(ConnectionFlagsTest, MissingCaFileNamesThePath) {
  const std::string missing = (dir_ / "nope" / "ca.pem").string();
  Parsed<EtcdConnectionConfig> parsed = RunConnection({"--cacert=" + missing});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(), "--cacert \"" + missing + "\": no such file");

  SetEnv("CA_FILE", dir_.string());
  Parsed<EtcdConnectionConfig> directory = RunConnection({});
  ASSERT_FALSE(directory.result.ok());
  EXPECT_EQ(directory.result.status().message(),
            "env CA_FILE \"" + dir_.string() + "\": is a directory, not a file");
}

// A client key that group or others can read is refused, naming the flag, the file and its
// mode; the certificate beside it may be world-readable.
TEST_F(ConnectionFlagsTest, KeyReadableByOthersIsRefused) {
  const std::string cert = WriteFile("client.pem", "cert");
  const std::string key = WriteFile("client-key.pem", "key");
  std::filesystem::permissions(key, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write |
                                        std::filesystem::perms::group_read);
  Parsed<EtcdConnectionConfig> parsed = RunConnection({"--cert", cert, "--key", key});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_THAT(parsed.result.status().message(), HasSubstr("--key: " + key + ": mode 0640"));
  std::filesystem::permissions(
      key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_TRUE(RunConnection({"--cert", cert, "--key", key}).result.ok());
}

// Readable TLS files from the quickstart's variables fill TlsConfig.
TEST_F(ConnectionFlagsTest, TlsFromEnv) {
  SetEnv("CA_FILE", WriteFile("ca.pem", "ca"));
  SetEnv("CERT_FILE", WriteFile("cert.pem", "cert"));
  const std::string key = WriteFile("key.pem", "key");
  std::filesystem::permissions(key, std::filesystem::perms::owner_read);  // a private key
  SetEnv("KEY_FILE", key);
  SetEnv("INSECURE_SKIP_TLS", "false");
  Parsed<EtcdConnectionConfig> parsed = RunConnection({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const TlsConfig& tls = parsed.result.value().tls;
  EXPECT_EQ(tls.ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(tls.cert_file, (dir_ / "cert.pem").string());
  EXPECT_EQ(tls.key_file, (dir_ / "key.pem").string());
  EXPECT_FALSE(tls.insecure_skip_verify);
  EXPECT_TRUE(tls.Configured());
}

struct BoolCase {
  std::string value;
  bool expected;
};

// INSECURE_SKIP_TLS takes true/false/1/0/yes/no in any case; the bare flag means true.
TEST_F(ConnectionFlagsTest, InsecureSkipTlsBooleans) {
  const BoolCase cases[] = {
      {"true", true},   {"TRUE", true},   {"1", true},  {"yes", true}, {"Yes", true},
      {"false", false}, {"False", false}, {"0", false}, {"no", false}, {"NO", false},
  };
  for (const BoolCase& c : cases) {
    SetEnv("INSECURE_SKIP_TLS", c.value);
    Parsed<EtcdConnectionConfig> parsed = RunConnection({});
    ASSERT_TRUE(parsed.result.ok()) << c.value << ": " << parsed.err;
    EXPECT_EQ(parsed.result.value().tls.insecure_skip_verify, c.expected) << c.value;
  }
  unsetenv("INSECURE_SKIP_TLS");
  Parsed<EtcdConnectionConfig> bare = RunConnection({"--insecure-skip-tls-verify"});
  ASSERT_TRUE(bare.result.ok()) << bare.err;
  EXPECT_TRUE(bare.result.value().tls.insecure_skip_verify);
  Parsed<EtcdConnectionConfig> off = RunConnection({"--insecure-skip-tls-verify=false"});
  ASSERT_TRUE(off.result.ok()) << off.err;
  EXPECT_FALSE(off.result.value().tls.insecure_skip_verify);
}

// Any other boolean is an error naming the variable.
TEST_F(ConnectionFlagsTest, BadBooleanNamesTheVariable) {
  SetEnv("INSECURE_SKIP_TLS", "maybe");
  Parsed<EtcdConnectionConfig> parsed = RunConnection({});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(),
            "env INSECURE_SKIP_TLS \"maybe\": want true, false, 1, 0, yes or no");
}

// The password comes from name:password, else --password-file, else ETCD_PASSWORD.
TEST_F(ConnectionFlagsTest, PasswordSources) {
  Parsed<EtcdConnectionConfig> inline_password = RunConnection({"--user=alice:s3cret:with:colons"});
  ASSERT_TRUE(inline_password.result.ok()) << inline_password.err;
  EXPECT_EQ(inline_password.result.value().username, "alice");
  EXPECT_EQ(inline_password.result.value().password.Reveal(), "s3cret:with:colons");

  const std::string file = WriteFile("password", "from-file\n");
  SetEnv("ETCD_PASSWORD", "from-env");
  Parsed<EtcdConnectionConfig> from_file = RunConnection({"--user=bob", "--password-file", file});
  ASSERT_TRUE(from_file.result.ok()) << from_file.err;
  EXPECT_EQ(from_file.result.value().username, "bob");
  EXPECT_EQ(from_file.result.value().password.Reveal(), "from-file");

  SetEnv("ETCD_USER", "carol");
  Parsed<EtcdConnectionConfig> from_env = RunConnection({});
  ASSERT_TRUE(from_env.result.ok()) << from_env.err;
  EXPECT_EQ(from_env.result.value().username, "carol");
  EXPECT_EQ(from_env.result.value().password.Reveal(), "from-env");
}

// A user without any password, and a password without a user, are rejected.
TEST_F(ConnectionFlagsTest, UserAndPasswordMustMatch) {
  Parsed<EtcdConnectionConfig> no_password = RunConnection({"--user", "alice"});
  ASSERT_FALSE(no_password.result.ok());
  EXPECT_THAT(no_password.result.status().message(),
              HasSubstr("--user: no password for user \"alice\""));

  const std::string file = WriteFile("password", "pw");
  Parsed<EtcdConnectionConfig> no_user = RunConnection({"--password-file", file});
  ASSERT_FALSE(no_user.result.ok());
  EXPECT_THAT(no_user.result.status().message(), HasSubstr("--password-file: needs --user"));

  Parsed<EtcdConnectionConfig> empty_name = RunConnection({"--user=:pw"});
  ASSERT_FALSE(empty_name.result.ok());
  EXPECT_THAT(empty_name.result.status().message(), HasSubstr("--user: empty user name"));

  const std::string empty = WriteFile("empty", "\n");
  Parsed<EtcdConnectionConfig> empty_file =
      RunConnection({"--user=alice", "--password-file=" + empty});
  ASSERT_FALSE(empty_file.result.ok());
  EXPECT_THAT(empty_file.result.status().message(), HasSubstr("file is empty"));
}

// No error line ever shows a password, wherever it came from, even when it is wrong.
TEST_F(ConnectionFlagsTest, SecretsNeverInErrors) {
  const std::string file = WriteFile("password", "file-secret-123\n");
  Parsed<EtcdConnectionConfig> both =
      RunConnection({"--user=alice:inline-secret-456", "--password-file", file, "--endpoints=x"});
  ASSERT_FALSE(both.result.ok());
  EXPECT_THAT(both.result.status().message(), HasSubstr("give it once"));
  EXPECT_THAT(both.err, HasSubstr("error: --endpoints \"x\": missing port"));
  for (const std::string& text : {both.result.status().message(), both.err, both.out}) {
    EXPECT_THAT(text, Not(HasSubstr("inline-secret-456")));
    EXPECT_THAT(text, Not(HasSubstr("file-secret-123")));
  }

  SetEnv("ETCD_PASSWORD", "env-secret-789");
  Parsed<EtcdConnectionConfig> orphan = RunConnection({});
  ASSERT_FALSE(orphan.result.ok());
  EXPECT_THAT(orphan.result.status().message(), HasSubstr("env ETCD_PASSWORD: set, but no --user"));
  EXPECT_THAT(orphan.err, Not(HasSubstr("env-secret-789")));

  SetEnv("ETCD_USER", ":env-secret-000");
  Parsed<EtcdConnectionConfig> bad_user = RunConnection({});
  ASSERT_FALSE(bad_user.result.ok());
  EXPECT_EQ(bad_user.result.status().message(), "env ETCD_USER: empty user name");
}

// Defaults, variables and case-insensitive values of the log flags.
TEST_F(LogFlagsTest, LevelAndFormat) {
  Parsed<LogConfig> defaults = RunLog({});
  ASSERT_TRUE(defaults.result.ok()) << defaults.err;
  EXPECT_EQ(defaults.result.value().level, "info");
  EXPECT_EQ(defaults.result.value().format, "text");

  SetEnv("LOG_LEVEL", "DEBUG");
  SetEnv("LOG_FORMAT", "text");
  Parsed<LogConfig> parsed = RunLog({"--log-format=JSON"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(parsed.result.value().level, "debug");
  EXPECT_EQ(parsed.result.value().format, "json");
}

// Unknown level and format are both reported.
TEST_F(LogFlagsTest, RejectsUnknownValues) {
  Parsed<LogConfig> parsed = RunLog({"--log-level=verbose", "--log-format=xml"});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_THAT(Lines(parsed.result.status().message()),
              ElementsAre("--log-level \"verbose\": want one of trace, debug, info, warn, error, "
                          "critical, off",
                          "--log-format \"xml\": want one of text, json"));
}

// --help prints help on stdout, nothing on stderr, and exits 0, also after bad values.
TEST_F(ParseCommandLineTest, HelpExitsZero) {
  const std::vector<std::string> cases[] = {{"--help"}, {"-h"}, {"--dial-timeout=5x", "--help"}};
  for (const std::vector<std::string>& args : cases) {
    Parsed<EtcdConnectionConfig> parsed = RunConnection(args);
    EXPECT_FALSE(parsed.result.ok()) << args[0];
    EXPECT_EQ(parsed.result.exit_code(), 0) << args[0];
    EXPECT_TRUE(parsed.result.status().ok()) << args[0];
    EXPECT_EQ(parsed.err, "") << args[0];
    EXPECT_THAT(parsed.out, AllOf(HasSubstr("--endpoints"), HasSubstr("ENDPOINTS"))) << args[0];
  }
}

// CLI11's own errors come out as one `error:` line and exit code 2.
TEST_F(ParseCommandLineTest, ParserErrorsExitTwo) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--dial-timeout"}, "--dial-timeout: missing value"},
      {{"stray"}, "stray"},
  };
  for (const auto& [args, expected] : cases) {
    Parsed<EtcdConnectionConfig> parsed = RunConnection(args);
    EXPECT_FALSE(parsed.result.ok()) << args[0];
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << args[0];
    ASSERT_THAT(Lines(parsed.err), SizeIs(1)) << args[0] << ": " << parsed.err;
    EXPECT_THAT(parsed.err, AllOf(StartsWith("error: "), HasSubstr(expected))) << args[0];
    EXPECT_EQ(parsed.out, "") << args[0];
  }
}

// ParseBool accepts exactly the documented spellings, in any case.
TEST(ParseBoolTest, Spellings) {
  const BoolCase cases[] = {
      {"true", true}, {"TRUE", true}, {"True", true},   {"1", true},
      {"yes", true},  {"YES", true},  {"false", false}, {"FALSE", false},
      {"0", false},   {"no", false},  {"No", false},
  };
  for (const BoolCase& c : cases) {
    Result<bool> parsed = ParseBool(c.value);
    ASSERT_TRUE(parsed.ok()) << c.value;
    EXPECT_EQ(*parsed, c.expected) << c.value;
  }
  for (const char* bad : {"", "on", "off", "y", "n", "2", "truee", " true"}) {
    Result<bool> parsed = ParseBool(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("invalid boolean")) << bad;
  }
}

// FlagErrors keeps one line per problem, also when given multi-line statuses.
TEST(FlagErrorsTest, CollectsLines) {
  FlagErrors errors;
  EXPECT_TRUE(errors.ToStatus().ok());
  errors.Add("first");
  errors.Add(Status::Ok());
  errors.Add(Status::InvalidArgument("second\nthird"));
  EXPECT_THAT(errors.lines(), ElementsAre("first", "second", "third"));
  EXPECT_EQ(errors.ToStatus(), Status::InvalidArgument("first\nsecond\nthird"));
}

// A binary can add its own flags with FlagValue and report them with the shared ones.
TEST_F(FlagsTest, CustomFlagsCombineWithGroups) {
  CLI::App app{"collector", "collector"};
  ConnectionFlags etcd(app);
  const FlagValue interval =
      FlagValue::AddOption(app, "interval", "COLLECT_INTERVAL", "15s", "sampling interval");
  const FlagValue verbose = FlagValue::AddSwitch(app, "verbose", "", false, "more output");
  const char* argv[] = {"collector", "--interval=abc", "--endpoints=a"};
  std::ostringstream out;
  std::ostringstream err;
  auto build = [&]() -> Result<std::chrono::milliseconds> {
    FlagErrors errors;
    errors.Add(etcd.Build().status());
    const auto value = interval.AsPositiveDuration(errors);
    verbose.AsBool(errors);
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    return value;
  };
  ParseResult<std::chrono::milliseconds> cli = ParseCommandLine(app, 3, argv, build, out, err);
  ASSERT_FALSE(cli.ok());
  EXPECT_THAT(Lines(err.str()),
              ElementsAre("error: --endpoints \"a\": missing port",
                          "error: --interval \"abc\": expected a number at \"abc\""));
  EXPECT_FALSE(verbose.given());
  EXPECT_EQ(interval.raw(), "abc");
}

}  // namespace
}  // namespace etcdmon::config
