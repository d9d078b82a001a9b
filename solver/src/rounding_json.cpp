#include "rounding_json.hpp"

namespace polar_express::detail {
namespace {

// Bounds of the model: lower ends rounded down, upper ends up; 17 digits
// say more than any of them is worth.
constexpr int kDigits = 17;
std::string down(const Real& v) { return to_decimal(v, kDigits, Rounding::kDown); }
std::string up(const Real& v) { return to_decimal(v, kDigits, Rounding::kUp); }

Json optional_step(const std::optional<int>& step) { return step ? Json(*step) : Json(nullptr); }

}  // namespace

Json rounding_json(const RoundingCertificate& c) {
  const RoundingOptions& o = c.options;
  Json doc;
  doc["dtype"] = o.dtype;
  doc["shape"] = Json::array({o.rows, o.cols});
  doc["form"] = to_string(o.form);
  doc["bound"] = to_string(o.bound);
  if (o.bound == RoundingBound::kProbabilistic) {
    doc["failure_probability"] = o.failure_probability;
  } else {
    doc["failure_probability"] = 0;
  }
  const Arithmetic& a = c.arithmetic;
  doc["arithmetic"] = {{"storage", a.storage.name},
                       {"accumulation", a.accumulation.name},
                       {"side", a.side.name},
                       {"side_operands", a.side_operands.name},
                       {"coefficients", a.coefficients.name}};
  if (o.form == StepForm::kGram) doc["gram_restarts"] = o.gram_restarts;
  doc["input"] = {{"lower", down(c.input.lower)}, {"upper", up(c.input.upper)}};
  doc["normalised"] = {{"lower", down(c.normalised.lower)},
                       {"upper", up(c.normalised.upper)},
                       {"relative", up(c.normalisation_relative)},
                       {"absolute", up(c.normalisation_absolute)},
                       {"band", down(c.input_band)}};
  Json steps = Json::array();
  for (std::size_t t = 0; t < c.steps.size(); ++t) {
    const RoundedStep& s = c.steps[t];
    steps.push_back({{"step", t + 1},
                     {"lower", down(s.interval.lower)},
                     {"upper", up(s.interval.upper)},
                     {"error", up(s.error)},
                     {"exact_lower", down(s.exact.lower)},
                     {"exact_upper", up(s.exact.upper)},
                     {"relative", up(s.relative)},
                     {"perturbation", up(s.perturbation)},
                     {"absolute", up(s.absolute)},
                     {"band", down(s.band)},
                     {"overflow", s.overflow}});
  }
  doc["steps"] = steps;
  doc["final_error"] = up(c.final_error);
  doc["blow_up_step"] = optional_step(c.blow_up_step);
  doc["vanishing_step"] = optional_step(c.vanishing_step);
  return doc;
}

}  // namespace polar_express::detail

namespace polar_express {

std::string to_json(const RoundingCertificate& certificate) {
  return detail::rounding_json(certificate).dump(2) + "\n";
}

}  // namespace polar_express
