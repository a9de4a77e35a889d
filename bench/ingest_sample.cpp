#include "ingest_sample.h"

#include <chrono>
#include <limits>
#include <string>

namespace etcdmon::bench {

int64_t FirstSampleMs() {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return now_ms - now_ms % 1000;
}

etcdmonitor::v1::MemberSample MakeSample(int member, int64_t unix_ms) {
  etcdmonitor::v1::MemberSample s;
  s.set_endpoint("10.0.0." + std::to_string(member) + ":2379");
  s.set_member_name("etcd" + std::to_string(member));
  s.set_member_id(1000 + member);
  s.set_collected_at_unix_ms(unix_ms);
  s.set_reachable(true);
  auto* st = s.mutable_status();
  st->set_version("3.4.23");
  st->set_member_id(1000 + member);
  st->set_leader_id(1001);
  st->set_raft_term(5);
  st->set_raft_index(100000 + unix_ms / 1000);
  st->set_raft_applied_index(100000 + unix_ms / 1000);
  st->set_db_size(1 << 24);
  st->set_db_size_in_use(1 << 23);
  st->set_revision(50000);
  for (int kind = 1; kind <= 3; ++kind) {
    auto* p = s.add_probes();
    p->set_kind(static_cast<etcdmonitor::v1::Probe::Kind>(kind));
    p->set_ok(true);
    p->set_latency_us(800 + kind * 100);
  }
  const char* names[] = {"etcd_server_has_leader",
                         "etcd_server_leader_changes_seen_total",
                         "etcd_server_proposals_committed_total",
                         "etcd_server_proposals_applied_total",
                         "etcd_server_proposals_failed_total",
                         "etcd_server_proposals_pending",
                         "etcd_mvcc_db_total_size_in_bytes",
                         "etcd_mvcc_db_total_size_in_use_in_bytes",
                         "etcd_server_quota_backend_bytes",
                         "process_resident_memory_bytes",
                         "process_cpu_seconds_total",
                         "etcd_server_is_leader"};
  for (const char* name : names) {
    auto* m = s.add_scalars();
    m->set_name(name);
    m->set_value(static_cast<double>(unix_ms % 1000));
  }
  for (const char* method : {"Range", "Put", "Txn", "LeaseGrant"}) {
    for (const char* code : {"OK", "Unavailable"}) {
      auto* m = s.add_scalars();
      m->set_name("grpc_server_handled_total");
      auto* l1 = m->add_labels();
      l1->set_name("grpc_method");
      l1->set_value(method);
      auto* l2 = m->add_labels();
      l2->set_name("grpc_code");
      l2->set_value(code);
      m->set_value(static_cast<double>(unix_ms));
    }
  }
  for (const char* name :
       {"etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"}) {
    auto* h = s.add_histograms();
    h->set_name(name);
    double bound = 0.001;
    uint64_t count = 0;
    for (int b = 0; b < 14; ++b, bound *= 2) {
      auto* bucket = h->add_buckets();
      bucket->set_upper_bound(bound);
      count += 10;
      bucket->set_cumulative_count(count);
    }
    auto* inf = h->add_buckets();
    inf->set_upper_bound(std::numeric_limits<double>::infinity());
    inf->set_cumulative_count(count);
    h->set_count(count);
    h->set_sum(1.5);
  }
  s.mutable_host()->set_memory_total_bytes(1ULL << 34);
  s.mutable_host()->set_memory_available_bytes(1ULL << 33);
  s.mutable_host()->set_disk_total_bytes(1ULL << 36);
  s.mutable_host()->set_disk_used_bytes(1ULL << 35);
  return s;
}

}  // namespace etcdmon::bench
