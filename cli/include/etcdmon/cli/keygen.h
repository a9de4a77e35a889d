#pragma once

#include <iosfwd>
#include <string>

namespace etcdmon::cli {

/// `etcd-monitor keygen --out DIR [--force] [--collector ID]`: writes a fresh CURVE key pair for
/// the ZeroMQ link to DIR/curve.key and DIR/curve.pub (mode 0600; DIR is created with mode 0700
/// when missing) and prints the public key. Existing key files are kept unless `overwrite`.
/// With a `collector_id` (a collector's pair, for its --curve-key-dir) the last line printed is
/// the aggregator's allow-list line `ID PUBLICKEY` (--collector-keys), so that
/// `keygen ... | tail -n 1 >> collector-keys` lists it. Returns the exit code: 0 written, 1
/// failed, 2 a bad collector id (one `error:` line on `err`, naming the path, never a key).
int RunKeygen(const std::string& dir, bool overwrite, const std::string& collector_id,
              std::ostream& out, std::ostream& err);

}  // namespace etcdmon::cli
