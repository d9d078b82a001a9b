#include "polar_express/solver/schedule_io.hpp"

#include "json_support.hpp"

#include <cmath>

namespace polar_express {
namespace {

using detail::Json;

// Whether every coefficient has a finite nearest double.
bool holds_doubles(const Schedule& schedule) {
  for (const ScheduleStep& step : schedule.steps) {
    for (const Rational& c : step.exact()) {
      if (!std::isfinite(nearest_double(c))) return false;
    }
  }
  return true;
}

}  // namespace

std::string to_json(const Schedule& schedule) {
  const int digits = detail::json_digits(schedule.precision_bits);
  auto decimal = [&](const Real& v) { return to_decimal(v, digits); };
  Json doc;
  doc["schema"] = kScheduleSchema;
  doc["method"] = schedule.design ? "polar-express" : "published";
  doc["name"] = schedule.name;
  doc["source"] = schedule.source;
  if (schedule.design) {
    const DesignOptions& d = *schedule.design;
    Json input;
    input["degree"] = d.degrees;
    input["lower"] = d.lower_text.empty() ? decimal(d.lower) : d.lower_text;
    input["upper"] = d.upper_text.empty() ? decimal(d.upper) : d.upper_text;
    if (d.steps) input["steps"] = *d.steps;
    if (d.target_error) input["target_error"] = to_decimal(*d.target_error, 17);
    input["cushion"] = d.cushion_text.empty() ? decimal(d.cushion) : d.cushion_text;
    input["safety"] = d.safety_text.empty() ? decimal(d.safety) : d.safety_text;
    input["safety_mode"] = to_string(d.safety_mode);
    input["precision_bits"] = d.precision_bits;
    doc["input"] = input;
  } else {
    doc["input"] = {{"lower", decimal(schedule.input.lower)}, {"upper", decimal(schedule.input.upper)},
                    {"precision_bits", schedule.precision_bits}};
  }
  doc["normalization"] = {{"factor", schedule.normalization.factor},
                          {"eps", schedule.normalization.eps},
                          {"kind", to_string(schedule.normalization.kind)},
                          {"text", schedule.normalization_text}};
  doc["after_list"] = to_string(schedule.after_list);
  doc["certified"] = detail::certified_numbers(schedule);
  Json steps = Json::array();
  for (const ScheduleStep& step : schedule.steps) steps.push_back(detail::step_json(step, digits));
  // The doubles the runtime runs, certified as well: each step's
  // coefficients (exact decimals) and the error after it.
  Json doubles = nullptr;
  if (holds_doubles(schedule)) {
    const Schedule rounded = rounded_to(schedule, ElementType::kF64);
    for (std::size_t t = 0; t < rounded.steps.size(); ++t) {
      const ScheduleStep& step = rounded.steps[t];
      Json coefficients = Json::array();
      for (const Real& c : step.polynomial.coefficients) coefficients.push_back(exact_decimal(to_double(c, Rounding::kNearest)));
      steps[t]["double"] = {{"coefficients", coefficients},
                            {"error_after", decimal(step.error_after)},
                            {"error_enclosure", detail::enclosure_json(step.error_enclosure, digits)}};
    }
    doubles = {{"final_error", decimal(rounded.final_error)},
               {"error_enclosure", detail::enclosure_json(rounded.final_error_enclosure, digits)}};
  }
  doc["steps"] = steps;
  doc["final_error"] = decimal(schedule.final_error);
  doc["error_enclosure"] = detail::enclosure_json(schedule.final_error_enclosure, digits);
  doc["double"] = doubles;
  return doc.dump(2) + "\n";
}

}  // namespace polar_express
