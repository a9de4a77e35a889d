#pragma once

// The code paths the fuzz targets drive, one function each, shared by the libFuzzer entry points
// (*_fuzz.cpp, clang only) and fuzz_regression_test.cpp (every compiler), which feeds the seed
// corpus and every input that once crashed through the same function. Each function returns
// normally on any input; a crash, a sanitizer report or an abort on a broken invariant is a bug.

#include <cstddef>
#include <cstdint>

namespace etcdmon::fuzz {

/// The bytes as an ingest frame's payload (a SampleBatch), through what the aggregator does with
/// it: schema check, transport::ValidateBatch, staging into the SQLite history (series, points,
/// committed sequence) and the cluster model (Ingest, IngestStats, Tick, tick points written),
/// then reading the history back. A second pass repairs what ValidateBatch would refuse (ids,
/// sequence, times) so that the stage and model see the rest of the input too.
void IngestStage(const std::uint8_t* data, std::size_t size);

/// The bytes as a REST request: the first byte picks the method and the Authorization header,
/// the text up to the first newline is the target (path and query), the rest the body; through
/// the query helpers (QueryParams, ParseTime, ParseStepMs, ParseBoundedUint) and Api::Handle (the
/// path router and every endpoint, on fake backends).
void GatewayRequest(const std::uint8_t* data, std::size_t size);

/// The bytes as an alerter rules file (YAML or JSON) applied over the defaults; a file that is
/// accepted then drives an AlertEngine evaluation.
void RulesFile(const std::uint8_t* data, std::size_t size);

}  // namespace etcdmon::fuzz
