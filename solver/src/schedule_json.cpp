#include "polar_express/solver/schedule_io.hpp"

#include "json_support.hpp"

namespace polar_express {
namespace {

using detail::Json;

std::string after_list_text(AfterList rule) { return rule == AfterList::kCycle ? "cycle" : "repeat_last"; }

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
                          {"text", schedule.normalization.text}};
  doc["after_list"] = after_list_text(schedule.after_list);
  Json steps = Json::array();
  for (const ScheduleStep& step : schedule.steps) steps.push_back(detail::step_json(step, digits));
  doc["steps"] = steps;
  doc["final_error"] = decimal(schedule.final_error);
  doc["error_enclosure"] = detail::enclosure_json(schedule.final_error_enclosure, digits);
  return doc.dump(2) + "\n";
}

}  // namespace polar_express
