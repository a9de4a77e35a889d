// libFuzzer entry point; the harness is IngestStage in ingest_stage_harness.cpp.

#include <cstddef>
#include <cstdint>

#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  etcdmon::fuzz::IngestStage(data, size);
  return 0;
}
