#pragma once

// The exit codes of every binary (the services' agents, etcd-monitor and its commands).

namespace etcdmon::config {

/// Done: the command succeeded, or a service stopped on SIGTERM/SIGINT.
inline constexpr int kExitOk = 0;

/// Failed: a service could not start (a Create or Start failed: a port in use, a file that cannot
/// be read or written), or failed while running; a command could not do its work.
inline constexpr int kExitFailed = 1;

/// The command line is wrong: a bad value, an unknown flag, a missing value.
inline constexpr int kExitUsage = 2;

}  // namespace etcdmon::config
