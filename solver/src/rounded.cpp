// A schedule rounded to the machine numbers the runtime multiplies by, and
// certified for exactly those.
#include "polar_express/solver/schedule.hpp"

#include <cmath>
#include <stdexcept>

namespace polar_express {

Schedule rounded_to(const Schedule& schedule, ElementType type) {
  if (type != ElementType::kF64 && type != ElementType::kF32) {
    throw std::invalid_argument(std::string("coefficients are held as f64 or f32, not ") + to_string(type));
  }
  validate(schedule);
  PrecisionScope scope(certification_bits(schedule.precision_bits));
  Schedule result = schedule;
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    const std::vector<Rational> exact = schedule.steps[t].exact();
    ScheduleStep& step = result.steps[t];
    step.exact_coefficients.clear();
    step.polynomial.coefficients.clear();
    for (std::size_t k = 0; k < exact.size(); ++k) {
      double value = nearest_double(exact[k]);
      if (type == ElementType::kF32 && std::isfinite(value)) value = to_float(Real(value), Rounding::kNearest);
      if (!std::isfinite(value)) {
        throw std::invalid_argument("schedule '" + schedule.name + "' step " + std::to_string(t + 1) +
                                    " coefficient " + std::to_string(k + 1) + " " +
                                    to_decimal(schedule.steps[t].polynomial.coefficients[k], 17) +
                                    " is not finite as a" + (type == ElementType::kF32 ? " float" : " double"));
      }
      // Exact: the scope's precision holds every double.
      step.polynomial.coefficients.emplace_back(value);
    }
  }
  certify(result.steps, result.input, result.precision_bits);
  result.final_error = result.steps.back().error_after;
  result.final_error_enclosure = result.steps.back().error_enclosure;
  return result;
}

}  // namespace polar_express
