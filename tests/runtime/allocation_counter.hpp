#pragma once
// How many times operator new runs during a call (allocation_counter.cpp
// replaces the global operator new of the test program).
#include <functional>

namespace polar_express::runtime::test {

long count_allocations(const std::function<void()>& action);

}  // namespace polar_express::runtime::test
