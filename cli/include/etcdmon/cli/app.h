#pragma once

#include <iosfwd>

namespace etcdmon::cli {

/// The whole `etcd-monitor` command line: parses `argv`, runs the chosen command, and returns
/// the process exit code (0 ok, 1 the operation failed, 2 bad usage or configuration). Output
/// goes to `out`, errors to `err`; never exits the process, so tests can call it. Confirmations
/// of mutating ctl commands are read from stdin when it is a terminal.
int RunEtcdMonitor(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

/// The same, with the terminal made explicit: confirmations are read from `in` when
/// `in_is_terminal`; otherwise a mutating command without --yes is refused at once.
int RunEtcdMonitor(int argc, const char* const* argv, std::istream& in, bool in_is_terminal,
                   std::ostream& out, std::ostream& err);

}  // namespace etcdmon::cli
