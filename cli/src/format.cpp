#include "format.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace polar_express::cli {

std::string short_decimal(const Real& value, int digits) { return to_decimal(value, digits); }

std::string upper_bound(const Interval& enclosure, int digits) {
  return to_decimal(enclosure.upper, digits, Rounding::kUp);
}

std::string schedule_table(const Schedule& schedule, const Schedule* doubles) {
  std::string out;
  out += fmt::format("{:>4}  {:>6}  {:<27}  {:<14}  {}\n", "step", "degree", "interval [lower, upper]", "error after <=",
                     "coefficients (x, x^3, x^5, ...)");
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    const ScheduleStep& step = schedule.steps[t];
    const std::string interval =
        fmt::format("[{}, {}]", short_decimal(step.interval.lower), short_decimal(step.interval.upper));
    const auto& c = step.polynomial.coefficients;
    // Three coefficients a line keeps high degrees readable.
    for (std::size_t k = 0; k < c.size(); k += 3) {
      std::string line;
      for (std::size_t j = k; j < std::min(c.size(), k + 3); ++j) {
        line += fmt::format("{:>24}", to_decimal(c[j], 17)) + (j + 1 < c.size() ? "," : "");
      }
      if (k == 0) {
        out += fmt::format("{:>4}  {:>6}  {:<27}  {:<14}  {}{}\n", t + 1, step.degree(), interval,
                           upper_bound(step.error_enclosure), line, step.osculating ? "  (limit)" : "");
      } else {
        out += fmt::format("{:>4}  {:>6}  {:<27}  {:<14}  {}\n", "", "", "", "", line);
      }
    }
  }
  const bool decimal = std::any_of(schedule.steps.begin(), schedule.steps.end(),
                                   [](const ScheduleStep& step) { return !step.exact_coefficients.empty(); });
  out += fmt::format("final error (max |1 - f(x)| on [{}, {}]) of the {}: {} (rigorous bound <= {})\n",
                     short_decimal(schedule.input.lower), short_decimal(schedule.input.upper),
                     decimal ? "exact decimal coefficients" : fmt::format("{}-bit coefficients", schedule.precision_bits),
                     short_decimal(schedule.final_error, 10), upper_bound(schedule.final_error_enclosure, 10));
  if (doubles != nullptr) {
    out += fmt::format("final error of their nearest doubles, the runtime's: {} (rigorous bound <= {})\n",
                       short_decimal(doubles->final_error, 10), upper_bound(doubles->final_error_enclosure, 10));
  }
  return out;
}

std::string schedule_csv(const Schedule& schedule) {
  const int digits = std::max(40, decimal_digits_for_bits(schedule.precision_bits));
  std::size_t widest = 0;
  for (const ScheduleStep& step : schedule.steps) widest = std::max(widest, step.polynomial.coefficients.size());
  std::string out = "step,degree,lower,upper,error_after";
  for (std::size_t k = 0; k < widest; ++k) out += ",c" + std::to_string(k);
  out += "\n";
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    const ScheduleStep& step = schedule.steps[t];
    out += fmt::format("{},{},{},{},{}", t + 1, step.degree(), to_decimal(step.interval.lower, digits),
                       to_decimal(step.interval.upper, digits), to_decimal(step.error_after, digits));
    for (std::size_t k = 0; k < widest; ++k) {
      out += ",";
      if (k < step.polynomial.coefficients.size()) out += to_decimal(step.polynomial.coefficients[k], digits);
    }
    out += "\n";
  }
  return out;
}

}  // namespace polar_express::cli
