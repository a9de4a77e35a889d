// libFuzzer entry point; the harness is RulesFile in rules_file_harness.cpp.

#include <cstddef>
#include <cstdint>

#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  etcdmon::fuzz::RulesFile(data, size);
  return 0;
}
