// The test program's global operator new, counting while a test asks it to.
// In its own translation unit so that no caller of delete sees malloc inside.
#include "allocation_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t bytes) {
  if (counting.load()) allocations.fetch_add(1);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return ::operator new(bytes); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace polar_express::runtime::test {

long count_allocations(const std::function<void()>& action) {
  allocations = 0;
  counting = true;
  action();
  counting = false;
  return allocations.load();
}

}  // namespace polar_express::runtime::test
