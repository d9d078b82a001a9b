#include "polar_express/runtime/gram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace polar_express::runtime {
namespace {

// Singular values sampled for the growth bound: log-spaced from 1e-9 (where
// f(s)/s is within 1e-6 of its s -> 0 limit, the product of the c0, for any
// shipped schedule) to 1.
constexpr int kGridPoints = 512;
constexpr double kGridLowest = 1e-9;

double evaluate(const Step& step, double x) {
  // Horner in x^2: c0 x + c1 x^3 + ... = x (c0 + x^2 (c1 + ...)).
  const double x2 = x * x;
  double h = 0;
  for (std::size_t j = step.coefficients.size(); j-- > 0;) h = h * x2 + step.coefficients[j];
  return x * h;
}

// |end| / |start|, or 0 where start is 0 or not finite (a value the map sends
// to 0 has nothing to amplify).
double amplification(double start, double end) {
  const double magnitude = std::abs(start);
  if (!(magnitude > 0) || !std::isfinite(magnitude)) return 0;
  return std::abs(end) / magnitude;
}

}  // namespace

double gram_growth_budget(int significand_bits, std::int64_t k) {
  if (significand_bits < 2 || k < 1) throw std::invalid_argument("gram_growth_budget: bad precision or size");
  return std::sqrt(static_cast<double>(k) * std::ldexp(1.0, std::min(significand_bits - 8, 16)));
}

double gram_segment_growth(const Schedule& schedule, int first, int end) {
  if (first < 0 || end <= first) throw std::invalid_argument("gram_segment_growth: empty segment");
  double worst = 0;
  for (int i = 0; i < kGridPoints; ++i) {
    double x = std::pow(kGridLowest, 1.0 - static_cast<double>(i) / (kGridPoints - 1));
    for (int t = 0; t < first; ++t) x = evaluate(schedule.step(t), x);
    const double start = x;
    for (int t = first; t < end; ++t) x = evaluate(schedule.step(t), x);
    worst = std::max(worst, amplification(start, x));
  }
  return worst;
}

std::vector<int> gram_restart_steps(const Schedule& schedule, int steps, double budget, int interval) {
  if (interval < 0) throw std::invalid_argument("gram restart interval " + std::to_string(interval) + " is negative");
  std::vector<int> restarts;
  if (interval > 0) {
    for (int t = interval; t < steps; t += interval) restarts.push_back(t);
    return restarts;
  }
  // One pass over the steps, carrying each grid point's value at the start
  // of the current segment and before the current step, so the greedy
  // placement costs steps x grid evaluations (gram_segment_growth per
  // candidate segment would cost steps^2 x grid).
  std::vector<double> segment_start(kGridPoints), current(kGridPoints);
  for (int i = 0; i < kGridPoints; ++i) {
    current[static_cast<std::size_t>(i)] = std::pow(kGridLowest, 1.0 - static_cast<double>(i) / (kGridPoints - 1));
  }
  segment_start = current;
  for (int t = 0; t < steps; ++t) {
    const Step& step = schedule.step(t);
    double growth = 0;
    std::vector<double> next(kGridPoints);
    for (std::size_t i = 0; i < current.size(); ++i) {
      next[i] = evaluate(step, current[i]);
      growth = std::max(growth, amplification(segment_start[i], next[i]));
    }
    if (t > 0 && growth > budget) {
      restarts.push_back(t);
      segment_start = current;
    }
    current.swap(next);
  }
  return restarts;
}

ProductPlan plan_products(const BatchShape& shape, const Schedule& schedule, int steps, const PlanOptions& options,
                          int significand_bits, std::int64_t symmetric_from_k) {
  const std::int64_t k = std::min(shape.rows, shape.cols);
  const std::int64_t big = std::max(shape.rows, shape.cols);
  ProductPlan plan;
  plan.symmetric = options.symmetric == ProductMode::kOn ||
                   (options.symmetric == ProductMode::kAuto && k >= symmetric_from_k);
  if (options.gram == ProductMode::kOff) return plan;
  plan.restarts = gram_restart_steps(schedule, steps, gram_growth_budget(significand_bits, k),
                                     options.gram_restart_interval);
  if (options.gram == ProductMode::kOn) {
    plan.gram = true;
    return plan;
  }
  // Automatic: the k x K products must shrink (aspect >= 2) and some segment
  // must hold two steps, or the restarts cost what the standard path does.
  const bool long_segment = static_cast<int>(plan.restarts.size()) + 1 < steps;
  plan.gram = big >= 2 * k && long_segment;
  if (!plan.gram) plan.restarts.clear();
  return plan;
}

}  // namespace polar_express::runtime
