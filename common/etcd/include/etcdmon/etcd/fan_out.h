#pragma once

// One call per endpoint of an EtcdClient, all at once, so that an unreachable member costs one
// dial timeout rather than one per member.

#include <future>
#include <string>
#include <vector>

#include "etcdmon/etcd/client.h"

namespace etcdmon::etcd {

/// Runs `call(endpoint)` on every endpoint of `client` concurrently (one thread each) and
/// returns the results in the client's endpoint order. `call` must be safe to run concurrently.
template <typename Call>
auto FanOut(EtcdClient& client, Call call) {
  using Value = decltype(call(std::string()));
  std::vector<std::future<Value>> pending;
  const std::vector<std::string> endpoints = client.Endpoints();
  for (const auto& endpoint : endpoints) {
    pending.push_back(std::async(std::launch::async, [&call, endpoint] { return call(endpoint); }));
  }
  std::vector<Value> values;
  values.reserve(endpoints.size());
  for (auto& p : pending) {
    values.push_back(p.get());
  }
  return values;
}

}  // namespace etcdmon::etcd
