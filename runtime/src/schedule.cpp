#include "polar_express/runtime/schedule.hpp"

#include <cmath>
#include <stdexcept>

namespace polar_express::runtime {

const Step& Schedule::step(int t) const {
  if (steps.empty()) throw std::out_of_range("schedule '" + name + "' has no steps");
  if (t < 0) throw std::out_of_range("step index " + std::to_string(t) + " is negative");
  const auto index = static_cast<std::size_t>(t);
  if (index < steps.size()) return steps[index];
  return after_list == AfterList::kCycle ? steps[index % steps.size()] : steps.back();
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
