// Target cpp: <ident>.hpp, constexpr tables of the schedule for C++17.
#include "emitters.hpp"
#include "text.hpp"

#include <algorithm>

namespace polar_express::codegen::detail {
namespace {

// One table row per step of `table` (a schedule rounded to the table's
// type and certified): a comment naming the step and its proved bound, then
// one coefficient per line with the source's decimal value alongside, padded
// to `q` with zeros.
std::string step_rows(const Schedule& source, const Schedule& table, int q, bool as_float) {
  struct Line {
    std::string code;
    std::string comment;
  };
  std::vector<std::vector<Line>> rows;
  std::size_t width = 0;
  for (std::size_t t = 0; t < table.steps.size(); ++t) {
    const ScheduleStep& step = table.steps[t];
    const std::string lead = "    {" + std::to_string(step.degree()) + ", {";
    std::vector<Line> lines;
    for (int k = 0; k < q; ++k) {
      const auto used = static_cast<int>(step.polynomial.coefficients.size());
      Line line;
      line.code = k == 0 ? lead : std::string(lead.size(), ' ');
      if (k < used) {
        const Real& c = step.polynomial.coefficients[static_cast<std::size_t>(k)];
        line.code += as_float ? hex_literal(nearest_float(c)) : hex_literal(nearest_double(c));
        line.comment = comment_decimal(source.steps[t].polynomial.coefficients[static_cast<std::size_t>(k)]);
      } else {
        line.code += as_float ? "0x0p+0f" : "0x0p+0";
        line.comment = "unused by degree " + std::to_string(step.degree());
      }
      line.code += k + 1 < q ? "," : "}},";
      width = std::max(width, line.code.size());
      lines.push_back(line);
    }
    rows.push_back(lines);
  }
  std::string out;
  for (std::size_t t = 0; t < rows.size(); ++t) {
    const ScheduleStep& step = table.steps[t];
    out += "    // Step " + std::to_string(t + 1) + ": degree " + std::to_string(step.degree()) + " on [" +
           to_decimal(step.interval.lower, 6) + ", " + to_decimal(step.interval.upper, 6) +
           "], error after it <= " + comment_upper_bound(step.error_enclosure) + " (proved).\n";
    for (const Line& line : rows[t]) {
      out += line.code + std::string(width - line.code.size() + 2, ' ') + "// " + line.comment + "\n";
    }
  }
  return out;
}

std::string double_literal(const Real& value) { return hex_literal(nearest_double(value)); }

// A rigorous bound as a double literal: rounded up once more.
std::string bound_literal(const Interval& enclosure) { return hex_literal(double_rounded_up(enclosure.upper)); }

std::string certificate_rows(const Schedule& doubles, const Schedule& floats) {
  const unsigned bits = doubles.precision_bits;
  std::string out;
  for (std::size_t t = 0; t < doubles.steps.size(); ++t) {
    const ScheduleStep& step = doubles.steps[t];
    const Interval& float_bound = floats.steps[t].error_enclosure;
    out += "        {\"" + full_decimal(step.interval.lower, bits) + "\",\n         \"" +
           full_decimal(step.interval.upper, bits) + "\",\n         \"" + full_decimal(step.error_after, bits) +
           "\",\n         \"" + full_upper_bound(step.error_enclosure, bits) + "\",\n         \"" +
           full_upper_bound(float_bound, bits) + "\",\n         " + double_literal(step.interval.lower) + ", " +
           double_literal(step.interval.upper) + ", " + double_literal(step.error_after) + ", " +
           bound_literal(step.error_enclosure) + ", " + bound_literal(float_bound) + "},\n";
  }
  return out;
}

std::string design_inputs(const Schedule& schedule) {
  if (!schedule.design) return "{false, \"\", \"\", \"\", 0, \"\", \"\", \"\", \"\", 0}";
  const DesignOptions& d = *schedule.design;
  const unsigned bits = d.precision_bits;
  auto text = [&](const std::string& given, const Real& value) {
    return c_string_literal(given.empty() ? full_decimal(value, bits) : given);
  };
  return "{true, \"" + degree_list(d.degrees) + "\", " + text(d.lower_text, d.lower) + ", " +
         text(d.upper_text, d.upper) + ", " + std::to_string(d.steps.value_or(0)) + ", " +
         (d.target_error ? c_string_literal(to_decimal(*d.target_error, 17)) : std::string("\"\"")) + ", " +
         text(d.cushion_text, d.cushion) + ", " + text(d.safety_text, d.safety) + ", \"" +
         to_string(d.safety_mode) + "\", " + std::to_string(bits) + "}";
}

std::string degrees_of(const Schedule& schedule) {
  std::vector<int> degrees;
  for (const ScheduleStep& step : schedule.steps) degrees.push_back(step.degree());
  std::string out = degree_list(degrees);
  std::replace(out.begin(), out.end(), ',', ' ');
  return out;
}

}  // namespace

std::string cpp_header(const Schedule& source, const Schedule& doubles, const Schedule& floats,
                       const std::string& id) {
  const int q = max_coefficients(doubles);
  const unsigned bits = doubles.precision_bits;
  const Normalization& norm = doubles.normalization;
  return substitute(
      kCppHeaderTemplate,
      {{"FILE", id + ".hpp"},
       {"NAME", comment_text(doubles.name)},
       {"IDENT", id},
       {"GUARD", "POLAR_EXPRESS_SCHEDULES_" + id + "_HPP"},
       {"SOURCE_COMMENT", comment_text(doubles.source)},
       {"NORMALIZATION_COMMENT", comment_text(doubles.normalization_text)},
       {"AFTER_LIST_COMMENT", info(doubles.after_list).description},
       {"PRECISION", std::to_string(bits)},
       {"STEPS", std::to_string(doubles.steps.size())},
       {"DEGREES", degrees_of(doubles)},
       {"MAX_COEFFICIENTS", std::to_string(q)},
       {"DOUBLE_ROWS", step_rows(source, doubles, q, false)},
       {"FLOAT_ROWS", step_rows(source, floats, q, true)},
       {"NAME_LITERAL", c_string_literal(doubles.name)},
       {"SOURCE_LITERAL", c_string_literal(doubles.source)},
       {"NORMALIZATION_LITERAL", c_string_literal(doubles.normalization_text)},
       {"NORMALIZATION_KIND", to_string(norm.kind)},
       {"NORM_FACTOR", hex_literal(norm.factor)},
       {"NORM_FACTOR_DECIMAL", shortest_decimal(norm.factor)},
       {"NORM_EPS", hex_literal(norm.eps)},
       {"NORM_EPS_DECIMAL", shortest_decimal(norm.eps)},
       {"AFTER_LIST", to_string(doubles.after_list)},
       {"DESIGN", design_inputs(doubles)},
       {"INPUT_LOWER", full_decimal(doubles.input.lower, bits)},
       {"INPUT_UPPER", full_decimal(doubles.input.upper, bits)},
       // Rounded inwards: the doubles' interval lies inside the certified one.
       {"INPUT_LOWER_VALUE", hex_literal(to_double(doubles.input.lower, Rounding::kUp))},
       {"INPUT_UPPER_VALUE", hex_literal(to_double(doubles.input.upper, Rounding::kDown))},
       {"FINAL_ERROR", full_decimal(doubles.final_error, bits)},
       {"FINAL_ERROR_VALUE", double_literal(doubles.final_error)},
       {"FINAL_ERROR_BOUND", full_upper_bound(doubles.final_error_enclosure, bits)},
       {"FINAL_ERROR_BOUND_VALUE", bound_literal(doubles.final_error_enclosure)},
       {"FINAL_ERROR_BOUND_F32", full_upper_bound(floats.final_error_enclosure, bits)},
       {"FINAL_ERROR_BOUND_F32_VALUE", bound_literal(floats.final_error_enclosure)},
       {"CERTIFICATE_ROWS", certificate_rows(doubles, floats)}});
}

}  // namespace polar_express::codegen::detail
