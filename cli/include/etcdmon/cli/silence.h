#pragma once

// `etcd-monitor silence create|list|expire`: silences for planned maintenance (a rolling restart,
// a defrag, a reboot), set and ended through the REST API of the gateway or the all-in-one
// monitor.

#include <chrono>
#include <iosfwd>
#include <string>

#include "etcdmon/config/types.h"

namespace etcdmon::cli {

struct SilenceOptions {
  std::string api_url = "http://localhost:8080";  // the REST API's base URL
  std::string cluster;       // ?cluster= of every call; empty: the API's only cluster
  config::Secret api_token;  // creating and expiring need it; listing does not
  std::string rule;          // empty: every rule
  std::string member;        // empty: every member
  std::string comment;
  std::chrono::milliseconds duration{0};  // how long the silence lasts (create)
  std::string id;                         // the silence to end (expire)
  bool all = false;                       // list: expired silences too (newest first)
  bool json = false;                      // -w json: the API's JSON as it came
  config::TlsConfig tls;                  // for an https:// API
};

/// Creates a silence and prints it. Returns 0, or 1 with one `error:` line (the API's message).
int RunSilenceCreate(const SilenceOptions& options, std::ostream& out, std::ostream& err);

/// Prints the active silences, or with `all` every silence the alerter keeps, expired ones too.
/// Returns 0 or 1.
int RunSilenceList(const SilenceOptions& options, std::ostream& out, std::ostream& err);

/// Ends silence `id` now and prints it. Returns 0, or 1 with one `error:` line (the API's
/// message: an unknown id, a wrong token).
int RunSilenceExpire(const SilenceOptions& options, std::ostream& out, std::ostream& err);

}  // namespace etcdmon::cli
