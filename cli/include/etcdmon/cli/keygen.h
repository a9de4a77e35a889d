#pragma once

#include <iosfwd>
#include <string>

namespace etcdmon::cli {

/// `etcd-monitor keygen --out DIR [--force]`: writes a fresh CURVE key pair for the ZeroMQ link
/// to DIR/curve.key and DIR/curve.pub (mode 0600; DIR is created with mode 0700 when missing)
/// and prints the public key. Existing key files are kept unless `overwrite`. Returns the exit
/// code: 0 written, 1 failed (one `error:` line on `err`, naming the path, never a key).
int RunKeygen(const std::string& dir, bool overwrite, std::ostream& out, std::ostream& err);

}  // namespace etcdmon::cli
