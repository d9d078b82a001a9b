#include "polar_express/runtime/schedule.hpp"

#include <cmath>
#include <stdexcept>

namespace polar_express::runtime {

const Step& Schedule::step(int t) const {
  if (steps.empty()) throw std::out_of_range("schedule '" + name + "' has no steps");
  if (t < 0) throw std::out_of_range("step index " + std::to_string(t) + " is negative");
  return steps[list_index(static_cast<std::size_t>(t), steps.size(), after_list)];
}

std::optional<double> Schedule::error_bound(int count, ElementType element) const {
  if (!certificate) return std::nullopt;
  const std::vector<double>& bounds =
      element == ElementType::kF64 ? certificate->error_bounds : certificate->float_error_bounds;
  if (count < 1 || static_cast<std::size_t>(count) > bounds.size()) return std::nullopt;
  return bounds[static_cast<std::size_t>(count) - 1];
}

void validate(const Schedule& schedule) {
  const std::string who = schedule.name.empty() ? std::string("schedule") : "schedule '" + schedule.name + "'";
  if (schedule.steps.empty()) throw std::invalid_argument(who + " has no steps");
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    const Step& step = schedule.steps[t];
    const std::string where = who + " step " + std::to_string(t + 1);
    if (step.degree < 3 || step.degree % 2 == 0) {
      throw std::invalid_argument(where + ": degree " + std::to_string(step.degree) + " is not an odd number >= 3");
    }
    const auto expected = static_cast<std::size_t>((step.degree + 1) / 2);
    if (step.coefficients.size() != expected) {
      throw std::invalid_argument(where + ": " + std::to_string(step.coefficients.size()) +
                                  " coefficients for degree " + std::to_string(step.degree) + " (expected " +
                                  std::to_string(expected) + ")");
    }
    for (double c : step.coefficients) {
      if (!std::isfinite(c)) throw std::invalid_argument(where + ": a coefficient is not finite");
    }
  }
  const Normalization& n = schedule.normalization;
  if (!std::isfinite(n.factor) || n.factor <= 0) {
    throw std::invalid_argument(who + ": normalization factor " + std::to_string(n.factor) + " is not positive");
  }
  if (!std::isfinite(n.eps) || n.eps < 0) {
    throw std::invalid_argument(who + ": normalization eps " + std::to_string(n.eps) + " is negative");
  }
  if (schedule.certificate) {
    const Certificate& c = *schedule.certificate;
    if (!(c.lower > 0 && c.lower <= c.upper && std::isfinite(c.upper))) {
      throw std::invalid_argument(who + ": certified interval [" + std::to_string(c.lower) + ", " +
                                  std::to_string(c.upper) + "] is not 0 < lower <= upper");
    }
    for (const std::vector<double>* bounds : {&c.error_bounds, &c.float_error_bounds}) {
      if (bounds->size() > schedule.steps.size()) {
        throw std::invalid_argument(who + ": " + std::to_string(bounds->size()) + " certified errors for " +
                                    std::to_string(schedule.steps.size()) + " steps");
      }
      for (double e : *bounds) {
        if (!std::isfinite(e) || e < 0) throw std::invalid_argument(who + ": a certified error is not finite and >= 0");
      }
    }
  }
}

const char* to_string(MatrixStatus status) {
  switch (status) {
    case MatrixStatus::kOk: return "ok";
    case MatrixStatus::kZero: return "zero";
    case MatrixStatus::kNonFinite: return "non-finite input";
    case MatrixStatus::kDiverged: return "diverged";
  }
  return "unknown";
}

}  // namespace polar_express::runtime
