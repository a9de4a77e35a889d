#include "etcdmon/testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "etcdmon/strings/strings.h"

extern char** environ;

namespace etcdmon::testing {
namespace {

constexpr std::chrono::milliseconds kPollInterval{10};

bool StartsWith(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

}  // namespace

Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_file,
                    const std::vector<std::string>& extra_env) {
  if (argv.empty()) {
    return Status::InvalidArgument("spawn: empty command line");
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!StartsWith(*e, "ETCD_") && !StartsWith(*e, "ETCDCTL_")) {
      env.push_back(*e);
    }
  }
  for (const std::string& e : extra_env) {
    env.push_back(const_cast<char*>(e.c_str()));
  }
  env.push_back(nullptr);

  int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status::Internal("spawn: cannot open log file " + log_file + ": " +
                            std::strerror(errno));
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    close(log_fd);
    return Status::Internal(std::string("spawn: cannot open /dev/null: ") + std::strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(log_fd);
    close(null_fd);
    return Status::Internal("spawn " + argv[0] + ": fork: " + std::strerror(err));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);  // the parent died before prctl took effect
    }
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execve(args[0], args.data(), env.data());
    const char msg[] = "spawn: execve failed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }
  close(log_fd);
  close(null_fd);
  return pid;
}

bool Reaped(pid_t pid, int* wait_status) {
  int st = 0;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == pid) {
    *wait_status = st;
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    *wait_status = 0;
    return true;  // already reaped elsewhere
  }
  return false;
}

Result<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int st = 0;
  while (!Reaped(pid, &st)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("process " + std::to_string(pid) + " still running after " +
                                      std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return st;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exit code " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  }
  return "wait status " + std::to_string(wait_status);
}

Result<std::string> RunCommand(const std::vector<std::string>& argv, const std::string& log_file,
                               std::chrono::milliseconds timeout,
                               const std::vector<std::string>& extra_env) {
  auto pid = Spawn(argv, log_file, extra_env);
  if (!pid.ok()) {
    return pid.status();
  }
  auto st = WaitForExit(*pid, timeout);
  if (!st.ok()) {
    kill(*pid, SIGKILL);
    int ignored = 0;
    waitpid(*pid, &ignored, 0);
    return Status::DeadlineExceeded("`" + strings::Join(argv, " ") + "` did not finish within " +
                                    std::to_string(timeout.count()) + " ms; output:\n" +
                                    ReadWholeFile(log_file));
  }
  std::string output = ReadWholeFile(log_file);
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    return Status::Internal("`" + strings::Join(argv, " ") + "` failed (" +
                            DescribeWaitStatus(*st) + "); output:\n" + output);
  }
  return output;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

std::string TailOfFile(const std::string& path, size_t lines) {
  std::string text = ReadWholeFile(path);
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') {
    --pos;
  }
  size_t found = 0;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    if (++found == lines) {
      pos = nl + 1;
      break;
    }
    pos = nl;
  }
  return text.substr(pos);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_file,
                           const std::vector<std::string>& extra_env) {
  Result<pid_t> pid = Spawn(argv, log_file, extra_env);
  if (pid.ok()) {
    pid_ = *pid;
  } else {
    status_ = pid.status();
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    (void)Stop(SIGTERM, std::chrono::seconds(10));
  }
}

Result<int> ChildProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) {
    return Status::FailedPrecondition("no child process");
  }
  const pid_t pid = pid_;
  pid_ = -1;
  ::kill(pid, signal);
  Result<int> exited = WaitForExit(pid, timeout);
  if (!exited.ok()) {
    ::kill(pid, SIGKILL);
    (void)WaitForExit(pid, std::chrono::seconds(10));
  }
  return exited;
}

}  // namespace etcdmon::testing
