#pragma once

// The one mapping between etcd's protobuf messages and the client's own types, shared by the
// gRPC client and the JSON gateway client so that both say exactly the same things.

#include <string>
#include <vector>

#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcdmon/etcd/client.h"

namespace etcdmon::etcd::detail {

namespace pb = ::etcdserverpb;

ResponseHeader FromPb(const pb::ResponseHeader& header);
KeyValue FromPb(const mvccpb::KeyValue& kv);
Member FromPb(const pb::Member& member);

EndpointStatus FromPb(const std::string& endpoint, const pb::StatusResponse& response);
MemberListResult FromPb(const pb::MemberListResponse& response);
std::vector<Alarm> FromPb(const pb::AlarmResponse& response);
RangeResult FromPb(const pb::RangeResponse& response);

pb::AlarmRequest ToPb(AlarmAction action, const Alarm& alarm);
pb::RangeRequest ToPb(const RangeRequest& request);
pb::PutRequest ToPb(const PutRequest& request);
pb::DeleteRangeRequest ToPb(const DeleteRangeRequest& request);

}  // namespace etcdmon::etcd::detail
