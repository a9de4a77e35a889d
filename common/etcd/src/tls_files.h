#pragma once

// Reads the files of a TlsConfig once, at client creation, so that a wrong path is reported at
// start with the file's role, the same way by the gRPC and the gateway client.

#include <string>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::etcd::detail {

/// PEM material read from the files of TlsConfig; empty strings for files not configured.
struct TlsMaterial {
  std::string ca;
  std::string cert;
  std::string key;
};

/// kInvalidArgument naming the file and its role ("cannot read CA file \"x\": ...",
/// "client key file \"x\" is empty") when a configured file cannot be read or is empty.
Result<TlsMaterial> ReadTlsMaterial(const config::TlsConfig& tls);

}  // namespace etcdmon::etcd::detail
