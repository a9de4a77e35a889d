#pragma once

// Child processes for fixtures and tests: fork/exec with output to a file, bounded waits.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// Starts argv[0] (an absolute path) with stdin from /dev/null and stdout+stderr appended to
/// `log_file`. The child gets PR_SET_PDEATHSIG(SIGKILL): it dies when the calling thread does.
/// ETCD_* and ETCDCTL_* variables of our environment are not passed on; `extra_env` entries
/// ("NAME=value") are added.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_file,
                    const std::vector<std::string>& extra_env = {});

/// Reaps `pid` if it has exited: true and its wait status in *wait_status. Never blocks.
bool Reaped(pid_t pid, int* wait_status);

/// Waits up to `timeout` for `pid` to exit and reaps it; DeadlineExceeded if it is still alive.
Result<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout);

/// "exit code 1", "killed by signal 9".
std::string DescribeWaitStatus(int wait_status);

/// A binary under test running as a child (Spawn()), stopped and reaped by the destructor:
/// SIGTERM, then SIGKILL after 10 s. A failed spawn is reported by ok()/status().
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_file,
               const std::vector<std::string>& extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool ok() const { return pid_ > 0; }
  const Status& status() const { return status_; }
  pid_t pid() const { return pid_; }

  /// Sends `signal` and waits up to `timeout` for the exit; the wait status, or DeadlineExceeded
  /// (the child is then killed and reaped). After this the destructor does nothing.
  Result<int> Stop(int signal, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  Status status_;
};

/// Runs a command to completion (killed after `timeout`), output to `log_file`. Returns the
/// output on exit code 0, otherwise an error with the command, how it ended and the output.
Result<std::string> RunCommand(const std::vector<std::string>& argv, const std::string& log_file,
                               std::chrono::milliseconds timeout,
                               const std::vector<std::string>& extra_env = {});

/// The whole file, or an empty string when it cannot be read.
std::string ReadWholeFile(const std::string& path);

/// The last `lines` lines of a file.
std::string TailOfFile(const std::string& path, size_t lines);

}  // namespace etcdmon::testing
