#include "allocation_counter.h"

#include <cstdlib>
#include <new>

// In a translation unit of its own, so that no caller inlines a replaced operator and sees
// free() paired with operator new.

namespace {
thread_local bool counting = false;
thread_local long allocations = 0;
}  // namespace

namespace etcdmon::collector::testing {

void StartCountingAllocations() {
  allocations = 0;
  counting = true;
}

long StopCountingAllocations() {
  counting = false;
  return allocations;
}

}  // namespace etcdmon::collector::testing

void* operator new(std::size_t size) {
  if (counting) {
    ++allocations;
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
