#include "etcdmon/testing/headless_browser.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "etcdmon/testing/process.h"

namespace etcdmon::testing {
namespace {

constexpr std::chrono::milliseconds kPollInterval{20};

// Finds `program` in the directories of PATH: its full path, or an empty string.
std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) {
      continue;
    }
    const std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

// A private directory for one browser run (its profile and output), removed with its content.
class RunDir {
 public:
  RunDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcdmon-browser.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~RunDir() {
    if (!path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  bool ok() const { return !path_.empty(); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Waits up to `timeout` for `pid` to exit without reaping it: while it is a zombie its process
// group cannot be reused, so the group can still be killed safely. Whether it exited.
bool WaitForExitUnreaped(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Kills the whole process group of `pid` (the browser and the helpers it started), then reaps
// `pid`: its wait status.
int KillGroupAndReap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  return wait_status;
}

}  // namespace

Result<HeadlessBrowser> HeadlessBrowser::Find() {
  const char* configured = std::getenv("ETCDMON_CHROMIUM");
  if (configured != nullptr && *configured != '\0') {
    if (access(configured, X_OK) != 0) {
      return Status::NotFound(std::string("ETCDMON_CHROMIUM=") + configured +
                              " is not an executable file");
    }
    return HeadlessBrowser(configured);
  }
  std::string binary = FindOnPath("chromium");
  if (binary.empty()) {
    return Status::NotFound(
        "no `chromium` on PATH: the browser tests need Debian's chromium package "
        "(scripts/setup.sh installs it), or ETCDMON_CHROMIUM=/path/to/chromium");
  }
  return HeadlessBrowser(std::move(binary));
}

Result<std::string> HeadlessBrowser::DumpDom(const std::string& url,
                                             std::chrono::milliseconds virtual_time) const {
  return Run({"--dump-dom"}, url, virtual_time);
}

Status HeadlessBrowser::Screenshot(const std::string& url, const std::string& png_path, int width,
                                   int height, std::chrono::milliseconds virtual_time) const {
  Result<std::string> out =
      Run({"--screenshot=" + png_path,
           "--window-size=" + std::to_string(width) + "," + std::to_string(height)},
          url, virtual_time);
  if (!out.ok()) {
    return out.status();
  }
  if (!std::filesystem::exists(png_path)) {
    return Status::Internal("the browser wrote no screenshot to " + png_path);
  }
  return Status::Ok();
}

Result<std::string> HeadlessBrowser::Run(const std::vector<std::string>& args,
                                         const std::string& url,
                                         std::chrono::milliseconds virtual_time) const {
  RunDir dir;
  if (!dir.ok()) {
    return Status::Internal(std::string("browser: mkdtemp failed: ") + std::strerror(errno));
  }
  std::vector<std::string> argv = {
      binary_,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-extensions",
      "--no-first-run",
      "--no-default-browser-check",
      "--no-proxy-server",  // the pages under test are on loopback
      "--mute-audio",
      "--user-data-dir=" + dir.File("profile"),
      "--virtual-time-budget=" + std::to_string(virtual_time.count()),
  };
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);

  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> cargs;
  for (const std::string& a : argv) {
    cargs.push_back(const_cast<char*>(a.c_str()));
  }
  cargs.push_back(nullptr);
  const std::string out_path = dir.File("stdout");
  const std::string err_path = dir.File("stderr");
  const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    const int err = errno;
    for (int fd : {out_fd, err_fd, null_fd}) {
      if (fd >= 0) {
        close(fd);
      }
    }
    return Status::Internal(std::string("browser: cannot open its output files: ") +
                            std::strerror(err));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Its own process group, so the browser's helper processes can be killed with it.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);
    }
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execv(cargs[0], cargs.data());
    const char msg[] = "browser: execv failed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }
  const int fork_errno = errno;
  close(out_fd);
  close(err_fd);
  close(null_fd);
  if (pid < 0) {
    return Status::Internal(std::string("browser: fork failed: ") + std::strerror(fork_errno));
  }
  setpgid(pid, pid);  // also from here, so the group exists whichever side runs first

  const bool exited = WaitForExitUnreaped(pid, timeout_);
  const int wait_status = KillGroupAndReap(pid);  // also ends helpers that outlived the browser
  const std::string command = binary_ + " ... " + url;
  if (!exited) {
    return Status::DeadlineExceeded("`" + command + "` did not finish within " +
                                    std::to_string(timeout_.count()) + " ms; its log ends:\n" +
                                    TailOfFile(err_path, 20));
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return Status::Internal("`" + command + "` failed (" + DescribeWaitStatus(wait_status) +
                            "); its log ends:\n" + TailOfFile(err_path, 20));
  }
  return ReadWholeFile(out_path);
}

}  // namespace etcdmon::testing
