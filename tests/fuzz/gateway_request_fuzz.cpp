// libFuzzer entry point; the harness is GatewayRequest in gateway_request_harness.cpp.

#include <cstddef>
#include <cstdint>

#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  etcdmon::fuzz::GatewayRequest(data, size);
  return 0;
}
