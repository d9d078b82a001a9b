// Target cuda: <ident>.cu, the schedule as the compile-time table the
// runtime's SpecializedKernels template unrolls.
#include "emitters.hpp"
#include "text.hpp"

#include <stdexcept>

namespace polar_express::codegen::detail {
namespace {

// The table's rows: one per step of the schedule (rounded to its floats and
// certified), a comment with its degree and the proved bound of
// the error after it, the float literals padded to the widest step with
// zeros.
std::string coefficient_rows(const Schedule& schedule, int q) {
  std::string out;
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    const ScheduleStep& step = schedule.steps[t];
    out += "      // Step " + std::to_string(t + 1) + ": degree " + std::to_string(step.degree()) +
           ", error after it <= " + comment_upper_bound(step.error_enclosure) + " (proved).\n      {";
    for (int k = 0; k < q; ++k) {
      const auto index = static_cast<std::size_t>(k);
      out += k ? ", " : "";
      out += index < step.polynomial.coefficients.size()
                 ? hex_literal(nearest_float(step.polynomial.coefficients[index]))
                 : std::string("0x0p+0f");
    }
    out += "},\n";
  }
  return out;
}

// The normalisation is stored as a double; its float is rounded from it
// (exactly what a float conversion in the runtime would give).
std::string float_of(double value) { return hex_literal(static_cast<float>(value)); }

}  // namespace

std::vector<GeneratedFile> cuda_sources(const Schedule& schedule, const std::string& id) {
  // SpecializedKernels repeats the table's last step past its end.
  if (schedule.after_list != AfterList::kRepeatLast) {
    throw std::invalid_argument("schedule '" + schedule.name + "' cycles through its list; the cuda target " +
                                "supports only schedules that repeat their last step");
  }
  const int q = max_coefficients(schedule);
  const Normalization& norm = schedule.normalization;
  std::string degrees;
  for (std::size_t t = 0; t < schedule.steps.size(); ++t) {
    if (t) degrees += ", ";
    degrees += std::to_string(schedule.steps[t].degree());
  }
  const std::string factory = id + "_cuda.hpp";
  return {{id + ".cu",
           substitute(kCudaSourceTemplate,
                      {{"FILE", id + ".cu"},
                       {"NAME", schedule.name},
                       {"IDENT", id},
                       {"SOURCE_COMMENT", comment_text(schedule.source)},
                       {"NORMALIZATION_COMMENT", comment_text(schedule.normalization_text)},
                       {"AFTER_LIST_COMMENT", info(schedule.after_list).description},
                       {"PRECISION", std::to_string(schedule.precision_bits)},
                       {"STEPS", std::to_string(schedule.steps.size())},
                       {"MAX_COEFFICIENTS", std::to_string(q)},
                       {"DEGREES", degrees},
                       {"ROWS", coefficient_rows(schedule, q)},
                       {"NORM_FACTOR", float_of(norm.factor)},
                       {"NORM_FACTOR_DECIMAL", shortest_decimal(norm.factor)},
                       {"NORM_EPS", float_of(norm.eps)},
                       {"NORM_EPS_DECIMAL", shortest_decimal(norm.eps)}})},
          {factory, substitute(kCudaFactoryTemplate, {{"FILE", factory},
                                                      {"NAME", schedule.name},
                                                      {"IDENT", id},
                                                      {"GUARD", "POLAR_EXPRESS_SCHEDULES_" + id + "_CUDA_HPP"}})}};
}

}  // namespace polar_express::codegen::detail
