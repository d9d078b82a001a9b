#include "shape.hpp"

#include "common.hpp"

#include <algorithm>
#include <vector>

namespace polar_express::cli {

Shape parse_shape(const std::string& text, const std::string& flag) {
  const auto bad = [&] { return UsageError(flag + " '" + text + "' is not MxN or BxMxN with positive integers"); };
  std::vector<std::int64_t> dims;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find('x', start);
    const std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty() || part.size() > 9 || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw bad();
    }
    dims.push_back(std::stoll(part));
    if (dims.back() < 1) throw bad();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (dims.size() != 2 && dims.size() != 3) throw bad();
  Shape s;
  if (dims.size() == 3) s.batch = dims[0];
  s.rows = dims[dims.size() - 2];
  s.cols = dims.back();
  // 2^31 elements per matrix is what the CUDA plan's int dimensions allow.
  if (s.rows * s.cols > (std::int64_t{1} << 31) || s.batch * s.rows * s.cols > (std::int64_t{1} << 34)) {
    throw UsageError(flag + " '" + text + "' is too large");
  }
  return s;
}

std::string shape_text(const Shape& shape) {
  return std::to_string(shape.batch) + "x" + std::to_string(shape.rows) + "x" + std::to_string(shape.cols);
}

}  // namespace polar_express::cli
