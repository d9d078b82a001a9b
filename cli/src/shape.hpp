#pragma once
// Shapes of matrix batches as the command line writes them.
#include <cstdint>
#include <string>

namespace polar_express::cli {

struct Shape {
  std::int64_t batch = 1, rows = 0, cols = 0;
};

// "MxN" or "BxMxN" with positive integers; UsageError naming `flag` and
// `text` otherwise, or when the shape is too large for the runtime.
Shape parse_shape(const std::string& text, const std::string& flag = "--shape");

// "BxMxN".
std::string shape_text(const Shape& shape);

}  // namespace polar_express::cli
