#pragma once

// Counts the heap allocations (operator new) the calling thread makes between Start and Stop.
// Linking allocation_counter.cpp replaces the global operator new/delete of the test binary.

namespace etcdmon::collector::testing {

void StartCountingAllocations();
/// Stops counting; returns the allocations made by this thread since StartCountingAllocations.
long StopCountingAllocations();

}  // namespace etcdmon::collector::testing
