// Target torch: <ident>.py, the schedule as a self-contained PyTorch function.
#include "emitters.hpp"
#include "text.hpp"

namespace polar_express::codegen::detail {

std::string torch_module(const Schedule& schedule, const std::string& id) {
  const unsigned bits = schedule.precision_bits;
  std::string coefficient_rows;
  std::string error_rows;
  for (const ScheduleStep& step : schedule.steps) {
    // Python has no hex float literal; the shortest round-trip decimal
    // denotes the same double.
    std::string row = "    (";
    for (std::size_t k = 0; k < step.polynomial.coefficients.size(); ++k) {
      if (k) row += ", ";
      row += shortest_decimal(nearest_double(step.polynomial.coefficients[k]));
    }
    coefficient_rows += row + "),\n";
    error_rows += "    " + shortest_decimal(double_rounded_up(step.error_enclosure.upper)) + ",\n";
  }
  const std::string select = schedule.after_list == AfterList::kCycle
                                 ? "COEFFICIENTS[t % len(COEFFICIENTS)]"
                                 : "COEFFICIENTS[min(t, len(COEFFICIENTS) - 1)]";
  return substitute(kTorchTemplate,
                    {{"FILE", id + ".py"},
                     {"NAME", schedule.name},
                     {"IDENT", id},
                     {"SOURCE_COMMENT", comment_text(schedule.source)},
                     {"NORMALIZATION_COMMENT", comment_text(schedule.normalization_text)},
                     {"AFTER_LIST_COMMENT", info(schedule.after_list).description},
                     {"PRECISION", std::to_string(bits)},
                     {"COEFFICIENT_ROWS", coefficient_rows},
                     {"ERROR_ROWS", error_rows},
                     {"INPUT_LOWER", to_decimal(schedule.input.lower, 17)},
                     {"INPUT_UPPER", to_decimal(schedule.input.upper, 17)},
                     {"STEP_SELECT", select},
                     {"STEPS", std::to_string(schedule.steps.size())},
                     {"NORM_FACTOR", shortest_decimal(schedule.normalization.factor)},
                     {"NORM_EPS", shortest_decimal(schedule.normalization.eps)}});
}

}  // namespace polar_express::codegen::detail
