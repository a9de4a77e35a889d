#pragma once

// Process-level helpers for the services' main(): termination signals and the host name.

#include <csignal>
#include <string>

namespace etcdmon::runtime {

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread, and so in every thread it creates
/// afterwards. Call first thing in main(), before any library starts a thread, so that the
/// signals reach only WaitForTerminationSignal() and never interrupt a worker.
void BlockTerminationSignals();

/// Waits until SIGTERM, SIGINT or SIGHUP arrives (they must be blocked, see above) and returns
/// its number.
int WaitForTerminationSignal();

/// Ignores SIGPIPE for the whole process, once, unless the program installed a handler of its
/// own. OpenSSL (and Pistache over TLS) write to sockets with write(), which cannot pass
/// MSG_NOSIGNAL: a peer that closes its connection before the answer would otherwise raise
/// SIGPIPE and kill the process. Libraries that write to sockets through OpenSSL call it.
void IgnoreSigpipeOnce();

/// The machine's host name; "localhost" when it cannot be read.
std::string HostName();

}  // namespace etcdmon::runtime
