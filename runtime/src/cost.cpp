#include "polar_express/runtime/cost.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace polar_express::runtime {

MatmulCount count_matmuls(const BatchShape& shape, const Schedule& schedule, int steps, const ProductPlan& products) {
  validate(shape);
  validate(schedule);
  if (steps < 1) throw std::invalid_argument("count_matmuls: steps " + std::to_string(steps) + " is below 1");
  std::vector<char> restart_before(static_cast<std::size_t>(steps), 0);
  int previous = 0;
  for (int t : products.restarts) {
    if (t <= previous || t >= steps) {
      throw std::invalid_argument("count_matmuls: restart before step " + std::to_string(t) +
                                  " is not increasing inside (0, " + std::to_string(steps) + ")");
    }
    restart_before[static_cast<std::size_t>(t)] = 1;
    previous = t;
  }
  const double k = static_cast<double>(std::min(shape.rows, shape.cols));
  const double K = static_cast<double>(std::max(shape.rows, shape.cols));
  const double wide_product = 2 * k * k * K;  // X X^T, P X, R = X0 X0^T, Q X0
  const double square_product = 2 * k * k * k;

  double flops = 0;
  std::int64_t count = 0;
  auto add = [&](double each, std::int64_t n) {
    flops += each * static_cast<double>(n);
    count += n;
  };
  for (int t = 0; t < steps; ++t) {
    const std::int64_t horner = static_cast<std::int64_t>(schedule.step(t).coefficients.size()) - 2;
    add(square_product, horner);
    if (!products.gram) {
      add(wide_product, 2);
      continue;
    }
    const bool first = t == 0 || restart_before[static_cast<std::size_t>(t)];
    const bool last = t + 1 == steps || restart_before[static_cast<std::size_t>(t + 1)];
    if (first) add(wide_product, 1);
    else add(square_product, 1);
    if (last) add(wide_product, 1);
    else add(square_product, 2);
  }
  const double batch = static_cast<double>(shape.batch);
  return {flops * batch, count * shape.batch};
}

}  // namespace polar_express::runtime
