#include "pb_convert.h"

namespace etcdmon::etcd::detail {

ResponseHeader FromPb(const pb::ResponseHeader& h) {
  ResponseHeader out;
  out.cluster_id = h.cluster_id();
  out.member_id = h.member_id();
  out.revision = h.revision();
  out.raft_term = h.raft_term();
  return out;
}

KeyValue FromPb(const mvccpb::KeyValue& kv) {
  KeyValue out;
  out.key = kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

Member FromPb(const pb::Member& m) {
  Member out;
  out.id = m.id();
  out.name = m.name();
  out.peer_urls.assign(m.peerurls().begin(), m.peerurls().end());
  out.client_urls.assign(m.clienturls().begin(), m.clienturls().end());
  out.is_learner = m.islearner();
  return out;
}

EndpointStatus FromPb(const std::string& endpoint, const pb::StatusResponse& response) {
  EndpointStatus out;
  out.endpoint = endpoint;
  out.cluster_id = response.header().cluster_id();
  out.member_id = response.header().member_id();
  out.revision = response.header().revision();
  out.leader = response.leader();
  out.raft_term = response.raftterm();
  out.raft_index = response.raftindex();
  out.raft_applied_index = response.raftappliedindex();
  out.db_size = response.dbsize();
  out.db_size_in_use = response.dbsizeinuse();
  out.version = response.version();
  out.is_learner = response.islearner();
  out.errors.assign(response.errors().begin(), response.errors().end());
  return out;
}

MemberListResult FromPb(const pb::MemberListResponse& response) {
  MemberListResult out;
  out.header = FromPb(response.header());
  out.members.reserve(response.members_size());
  for (const pb::Member& m : response.members()) {
    out.members.push_back(FromPb(m));
  }
  return out;
}

std::vector<Alarm> FromPb(const pb::AlarmResponse& response) {
  std::vector<Alarm> out;
  out.reserve(response.alarms_size());
  for (const pb::AlarmMember& a : response.alarms()) {
    out.push_back(Alarm{a.memberid(), static_cast<AlarmType>(a.alarm())});
  }
  return out;
}

RangeResult FromPb(const pb::RangeResponse& response) {
  RangeResult out;
  out.header = FromPb(response.header());
  out.count = response.count();
  out.more = response.more();
  out.kvs.reserve(response.kvs_size());
  for (const mvccpb::KeyValue& kv : response.kvs()) {
    out.kvs.push_back(FromPb(kv));
  }
  return out;
}

pb::AlarmRequest ToPb(AlarmAction action, const Alarm& alarm) {
  pb::AlarmRequest request;
  request.set_action(static_cast<pb::AlarmRequest::AlarmAction>(action));
  request.set_memberid(alarm.member_id);
  request.set_alarm(static_cast<pb::AlarmType>(alarm.type));
  return request;
}

pb::RangeRequest ToPb(const RangeRequest& req) {
  pb::RangeRequest request;
  request.set_key(req.key);
  request.set_range_end(req.range_end);
  request.set_limit(req.limit);
  request.set_revision(req.revision);
  request.set_serializable(req.serializable);
  request.set_count_only(req.count_only);
  request.set_keys_only(req.keys_only);
  return request;
}

pb::PutRequest ToPb(const PutRequest& req) {
  pb::PutRequest request;
  request.set_key(req.key);
  request.set_value(req.value);
  request.set_lease(req.lease);
  return request;
}

pb::DeleteRangeRequest ToPb(const DeleteRangeRequest& req) {
  pb::DeleteRangeRequest request;
  request.set_key(req.key);
  request.set_range_end(req.range_end);
  return request;
}

}  // namespace etcdmon::etcd::detail
