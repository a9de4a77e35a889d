// Fuzz target for the gateway client's JSON codec: whatever a member (or something pretending to
// be one) answers, reading it must not crash, and what was read must encode and read back the
// same.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "etcd/etcdserverpb/rpc.pb.h"
#include "json_codec.h"

namespace {

void Check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

template <typename Message>
void RoundTrip(std::string_view json) {
  Message message;
  std::string error;
  if (!etcdmon::etcd::detail::ReadJson(json, message, error)) {
    Check(!error.empty());
    return;
  }
  std::string encoded;
  etcdmon::etcd::detail::AppendJson(message, encoded);
  Message again;
  Check(etcdmon::etcd::detail::ReadJson(encoded, again, error));
  Check(again.SerializeAsString() == message.SerializeAsString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  RoundTrip<etcdserverpb::StatusResponse>(json);
  RoundTrip<etcdserverpb::RangeResponse>(json);
  RoundTrip<etcdserverpb::MemberListResponse>(json);
  RoundTrip<etcdserverpb::AlarmResponse>(json);
  return 0;
}
