#include "cluster_identity.h"

#include <cstdio>

#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::aggregator::detail {

namespace {

std::string Hex(uint64_t id) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

uint64_t MemberIdOf(const etcdmonitor::v1::MemberSample& sample) {
  return sample.member_id() != 0 ? sample.member_id() : sample.status().member_id();
}

}  // namespace

bool ClusterIdentity::Accept(std::string_view cluster, std::string_view collector,
                             const etcdmonitor::v1::MemberSample& sample, int64_t now_ms,
                             bool record) {
  // An unreachable member's sample carries no identity: nothing to contradict.
  const uint64_t cluster_id = sample.has_status() ? sample.status().cluster_id() : 0;
  const uint64_t member_id = MemberIdOf(sample);
  if (cluster_id == 0 && member_id == 0) {
    return true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto held = [&](const Binding& b) { return now_ms - b.confirmed_ms < hold_ms_; };
  if (cluster_id != 0) {
    auto it = cluster_ids_.find(cluster);
    if (it != cluster_ids_.end() && it->second.cluster_id != cluster_id && held(it->second)) {
      if (record) {
        Refuse(cluster, collector, sample, cluster_id,
               "etcd cluster id " + Hex(cluster_id) + " is not cluster \"" + std::string(cluster) +
                   "\"'s " + Hex(it->second.cluster_id),
               now_ms);
      }
      return false;
    }
  }
  if (member_id != 0) {
    auto it = member_names_.find(member_id);
    if (it != member_names_.end() && it->second.owner != cluster && held(it->second)) {
      if (record) {
        Refuse(cluster, collector, sample, cluster_id,
               "member " + Hex(member_id) + " belongs to cluster \"" + it->second.owner + "\"",
               now_ms);
      }
      return false;
    }
  }
  if (!record) {
    return true;
  }
  if (cluster_id != 0) {
    auto it = cluster_ids_.find(cluster);
    if (it == cluster_ids_.end()) {
      if (cluster_ids_.size() < kMaxBindings) {
        cluster_ids_.emplace(std::string(cluster), Binding{"", cluster_id, now_ms});
      }
    } else {
      it->second.cluster_id = cluster_id;
      it->second.confirmed_ms = now_ms;
    }
  }
  if (member_id != 0) {
    auto it = member_names_.find(member_id);
    if (it == member_names_.end()) {
      if (member_names_.size() < kMaxBindings) {
        member_names_.emplace(member_id, Binding{std::string(cluster), cluster_id, now_ms});
      }
    } else {
      if (it->second.owner != cluster) {
        it->second.owner.assign(cluster.data(), cluster.size());
      }
      it->second.confirmed_ms = now_ms;
    }
  }
  return true;
}

void ClusterIdentity::Refuse(std::string_view cluster, std::string_view collector,
                             const etcdmonitor::v1::MemberSample& sample, uint64_t cluster_id,
                             std::string reason, int64_t now_ms) {
  auto it = conflicts_.find(cluster);
  if (it == conflicts_.end()) {
    if (conflicts_.size() >= kMaxBindings) {
      return;
    }
    it = conflicts_.emplace(std::string(cluster), Conflicts()).first;
  }
  Conflicts& c = it->second;
  ++c.total;
  const auto key = std::make_pair(std::string(collector), MemberIdOf(sample));
  auto entry = c.recent.find(key);
  if (entry == c.recent.end()) {
    if (c.recent.size() >= kMaxConflictsPerCluster) {
      // Make room: the entry refused longest ago goes.
      auto oldest = c.recent.begin();
      for (auto i = c.recent.begin(); i != c.recent.end(); ++i) {
        if (i->second.last_unix_ms() < oldest->second.last_unix_ms()) oldest = i;
      }
      c.recent.erase(oldest);
    }
    entry = c.recent.emplace(key, etcdmonitor::v1::IdentityConflict()).first;
    entry->second.set_collector_id(key.first);
    entry->second.set_member_id(key.second);
  }
  etcdmonitor::v1::IdentityConflict& out = entry->second;
  out.set_endpoint(sample.endpoint());
  out.set_cluster_id(cluster_id);
  out.set_reason(std::move(reason));
  out.set_last_unix_ms(now_ms);
  out.set_count(out.count() + 1);
}

void ClusterIdentity::Fill(std::string_view cluster, int64_t since_ms,
                           etcdmonitor::v1::ClusterSnapshot& out) const {
  out.clear_identity_conflicts();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = conflicts_.find(cluster);
  if (it == conflicts_.end()) {
    out.set_identity_conflicts_total(0);
    return;
  }
  out.set_identity_conflicts_total(it->second.total);
  for (const auto& [key, conflict] : it->second.recent) {
    if (conflict.last_unix_ms() >= since_ms) {
      *out.add_identity_conflicts() = conflict;
    }
  }
}

void ClusterIdentity::Forget(std::string_view cluster) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cluster_ids_.find(cluster); it != cluster_ids_.end()) {
    cluster_ids_.erase(it);
  }
  if (auto it = conflicts_.find(cluster); it != conflicts_.end()) {
    conflicts_.erase(it);
  }
  for (auto it = member_names_.begin(); it != member_names_.end();) {
    it = it->second.owner == cluster ? member_names_.erase(it) : std::next(it);
  }
}

}  // namespace etcdmon::aggregator::detail
