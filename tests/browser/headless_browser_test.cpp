// HeadlessBrowser (tests/support) with stand-in browsers: small shell scripts named by
// ETCDMON_CHROMIUM, so the bounds and the clean-up are checked without chromium.

#include "etcdmon/testing/headless_browser.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::testing {
namespace {

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) {
      old_ = old;
      had_old_ = true;
    }
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_old_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_old_ = false;
};

std::string WriteScript(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.File(name);
  std::ofstream(path) << "#!/bin/sh\n" << body;
  chmod(path.c_str(), 0755);
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Whether `pid` is gone (or only a zombie nobody reaps yet: it runs no more).
bool Gone(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) {
    return true;
  }
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

TEST(HeadlessBrowserTest, FindSaysWhatIsMissing) {
  TempDir empty;
  ScopedEnv path("PATH", empty.path());
  ScopedEnv chromium("ETCDMON_CHROMIUM", "");
  Result<HeadlessBrowser> browser = HeadlessBrowser::Find();
  ASSERT_FALSE(browser.ok());
  EXPECT_EQ(browser.status().code(), StatusCode::kNotFound);
  EXPECT_NE(browser.status().message().find("chromium"), std::string::npos);
  EXPECT_NE(browser.status().message().find("scripts/setup.sh"), std::string::npos);

  ScopedEnv missing("ETCDMON_CHROMIUM", empty.File("no-such-browser"));
  EXPECT_EQ(HeadlessBrowser::Find().status().code(), StatusCode::kNotFound);
}

TEST(HeadlessBrowserTest, DumpDomIsTheBrowsersOutputWithAThrowawayProfile) {
  TempDir dir;
  const std::string args_file = dir.File("args");
  const std::string script = WriteScript(dir, "browser",
                                         "for a in \"$@\"; do echo \"$a\"; done > " + args_file +
                                             "\n"
                                             "echo 'log noise' >&2\n"
                                             "printf '<html><body>page</body></html>\\n'\n");
  ScopedEnv chromium("ETCDMON_CHROMIUM", script);
  Result<HeadlessBrowser> browser = HeadlessBrowser::Find();
  ASSERT_TRUE(browser.ok()) << browser.status().ToString();
  Result<std::string> dom =
      browser->DumpDom("http://127.0.0.1:1/#pending", std::chrono::milliseconds(1234));
  ASSERT_TRUE(dom.ok()) << dom.status().ToString();
  EXPECT_EQ(*dom, "<html><body>page</body></html>\n");  // stdout only, not the log

  const std::string args = ReadFile(args_file);
  for (const char* flag : {"--headless\n", "--no-sandbox\n", "--disable-gpu\n", "--dump-dom\n",
                           "--virtual-time-budget=1234\n", "http://127.0.0.1:1/#pending\n"}) {
    EXPECT_NE(args.find(flag), std::string::npos) << flag << " in\n" << args;
  }
  const size_t profile = args.find("--user-data-dir=");
  ASSERT_NE(profile, std::string::npos) << args;
  const size_t start = profile + std::string("--user-data-dir=").size();
  const std::string profile_dir = args.substr(start, args.find('\n', start) - start);
  EXPECT_EQ(profile_dir.rfind(std::filesystem::temp_directory_path().string(), 0), 0u)
      << profile_dir;
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(profile_dir).parent_path()))
      << "the run's directory is removed";
}

TEST(HeadlessBrowserTest, AFailingBrowserReportsItsLog) {
  TempDir dir;
  const std::string script =
      WriteScript(dir, "browser", "echo 'cannot open display' >&2\nexit 3\n");
  ScopedEnv chromium("ETCDMON_CHROMIUM", script);
  Result<HeadlessBrowser> browser = HeadlessBrowser::Find();
  ASSERT_TRUE(browser.ok()) << browser.status().ToString();
  Result<std::string> dom = browser->DumpDom("http://127.0.0.1:1/");
  ASSERT_FALSE(dom.ok());
  EXPECT_NE(dom.status().message().find("exit code 3"), std::string::npos)
      << dom.status().ToString();
  EXPECT_NE(dom.status().message().find("cannot open display"), std::string::npos)
      << dom.status().ToString();
}

TEST(HeadlessBrowserTest, AnOverrunningBrowserIsKilledWithItsHelpers) {
  TempDir dir;
  const std::string helper_pid = dir.File("helper.pid");
  // A browser that starts a helper process, then hangs.
  const std::string script = WriteScript(dir, "browser",
                                         "sleep 300 &\necho $! > " + helper_pid + ".tmp\nmv " +
                                             helper_pid + ".tmp " + helper_pid + "\nwait\n");
  ScopedEnv chromium("ETCDMON_CHROMIUM", script);
  Result<HeadlessBrowser> browser = HeadlessBrowser::Find();
  ASSERT_TRUE(browser.ok()) << browser.status().ToString();
  // Longer bounds until the script got as far as starting its helper before being killed.
  for (auto timeout = std::chrono::milliseconds(250);
       !std::filesystem::exists(helper_pid) && timeout <= std::chrono::seconds(16); timeout *= 2) {
    browser->set_timeout(timeout);
    Result<std::string> dom = browser->DumpDom("http://127.0.0.1:1/");
    ASSERT_FALSE(dom.ok());
    EXPECT_EQ(dom.status().code(), StatusCode::kDeadlineExceeded) << dom.status().ToString();
  }
  ASSERT_TRUE(std::filesystem::exists(helper_pid));
  // The helper was started by the browser and is killed with it.
  const pid_t pid = static_cast<pid_t>(std::stol(ReadFile(helper_pid)));
  EXPECT_TRUE(WaitFor([&] { return Gone(pid); })) << "helper " << pid << " still runs";
}

}  // namespace
}  // namespace etcdmon::testing
