#pragma once
// JSON pieces shared by the schedule and verification writers (internal).
#include "polar_express/solver/schedule.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace polar_express::detail {

using Json = nlohmann::ordered_json;

// All the decimal digits `precision_bits` support, and never fewer than 40.
inline int json_digits(unsigned precision_bits) { return std::max(40, decimal_digits_for_bits(precision_bits)); }

// A rigorous enclosure as ["<lower>", "<upper>"], the lower end rounded
// down and the upper end rounded up.
inline Json enclosure_json(const Interval& enclosure, int digits) {
  return Json::array({to_decimal(enclosure.lower, digits, Rounding::kDown),
                      to_decimal(enclosure.upper, digits, Rounding::kUp)});
}

// One step as design's JSON lists it: degree, the interval it maps, its
// coefficients (increasing power), the error after it (best estimate) and
// the rigorous enclosure of that error.
inline Json step_json(const ScheduleStep& step, int digits) {
  auto decimal = [digits](const Real& v) { return to_decimal(v, digits); };
  Json s;
  s["degree"] = step.degree();
  s["lower"] = decimal(step.interval.lower);
  s["upper"] = decimal(step.interval.upper);
  Json coefficients = Json::array();
  for (const Real& c : step.polynomial.coefficients) coefficients.push_back(decimal(c));
  s["coefficients"] = coefficients;
  s["error_after"] = decimal(step.error_after);
  s["error_enclosure"] = enclosure_json(step.error_enclosure, digits);
  if (step.osculating) s["osculating"] = true;
  return s;
}

// What a schedule's error_after and error_enclosure certify: "mpfr", the
// coefficients as the solver holds them at its precision (a design; the
// decimals printed are those values correctly rounded), or "decimal", the
// exact values of the decimal coefficients its source gave.
inline const char* certified_numbers(const Schedule& schedule) {
  for (const ScheduleStep& step : schedule.steps) {
    if (!step.exact_coefficients.empty()) return "decimal";
  }
  return "mpfr";
}

}  // namespace polar_express::detail
