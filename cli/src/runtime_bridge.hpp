#pragma once
// What the commands that run or cost schedules share with the runtime:
// shapes as the command line writes them, and the solver's schedules as
// the runtime takes them (doubles).
#include "polar_express/runtime/schedule.hpp"
#include "polar_express/solver/schedule.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace polar_express::cli {

struct Shape {
  std::int64_t batch = 1, rows = 0, cols = 0;
};

// "MxN" or "BxMxN" with positive integers; UsageError naming `flag` and
// `text` otherwise, or when the shape is too large for the runtime.
Shape parse_shape(const std::string& text, const std::string& flag = "--shape");

// "BxMxN".
std::string shape_text(const Shape& shape);

// The polynomials as runtime steps, each coefficient the correctly rounded
// double; normalisation and after_list left at the runtime's defaults.
runtime::Schedule runtime_polynomials(const std::vector<OddPolynomial>& steps, const std::string& name);

// The whole schedule for the runtime (validated first): its polynomials,
// normalisation (Frobenius or AOL) and after_list rule.
runtime::Schedule to_runtime(const Schedule& schedule);

}  // namespace polar_express::cli
