#include "rounding_options.hpp"

#include "common.hpp"
#include "format.hpp"

#include "polar_express/runtime/gram.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace polar_express::cli {

void add_rounding_options(CLI::App& app, RoundingArguments& args, bool with_dtype, bool with_shape) {
  if (with_dtype) {
    app.add_option("--dtype", args.dtype,
                   "Also certify the precision the schedule runs in: f64, f32, bf16 or f16 (16-bit types with\n"
                   "fp32 accumulation), for a matrix of --shape (solver/ROUNDING.md)");
  }
  if (with_shape) {
    app.add_option("--shape", args.shape, "The matrix shape MxN the rounding certificate is for (with --dtype)");
  }
  app.add_option("--form", args.form,
                 "Operations of a step: direct (the runtime's standard form), torch (the published PyTorch\n"
                 "code, emit --target torch) or gram (the runtime's Gram iteration, its restarts as the runtime\n"
                 "places them)")
      ->capture_default_str();
  app.add_option("--bound", args.bound,
                 "probabilistic (rounding errors independent and mean zero; every bound of the run holds\n"
                 "together with probability >= 1 - --failure-probability) or worst-case (rigorous, looser)")
      ->capture_default_str();
  app.add_option("--failure-probability", args.failure_probability,
                 "Probability that the probabilistic certificate fails, 0 < P < 1")
      ->capture_default_str();
}

std::optional<RoundingOptions> parse_rounding(const RoundingArguments& args, bool shape_needed) {
  if (args.dtype.empty()) {
    if (shape_needed && !args.shape.empty()) throw UsageError("--shape needs --dtype (the precision to certify)");
    return std::nullopt;
  }
  RoundingOptions o;
  o.dtype = to_string(parse_dtype(args.dtype));
  if (shape_needed) {
    if (args.shape.empty()) throw UsageError("--dtype needs --shape MxN (the matrix the certificate is for)");
    const Shape s = parse_shape(args.shape);
    if (s.batch != 1) throw UsageError("--shape '" + args.shape + "' is not MxN (the certificate is per matrix)");
    o.rows = s.rows;
    o.cols = s.cols;
  }
  try {
    o.form = parse_step_form(args.form);
  } catch (const std::invalid_argument&) {
    throw UsageError("--form '" + args.form + "' is not direct, torch or gram");
  }
  try {
    o.bound = parse_rounding_bound(args.bound);
  } catch (const std::invalid_argument&) {
    throw UsageError("--bound '" + args.bound + "' is not probabilistic or worst-case");
  }
  char* end = nullptr;
  const double p = std::strtod(args.failure_probability.c_str(), &end);
  if (args.failure_probability.empty() || end != args.failure_probability.c_str() + args.failure_probability.size() ||
      !(p > 0 && p < 1)) {
    throw UsageError("--failure-probability '" + args.failure_probability + "' is not a number in (0, 1)");
  }
  o.failure_probability = p;
  return o;
}

RoundingOptions for_shape(const RoundingOptions& options, const Shape& shape) {
  RoundingOptions o = options;
  o.rows = shape.rows;
  o.cols = shape.cols;
  return o;
}

void place_gram_restarts(RoundingOptions& options, const runtime::Schedule& schedule, int steps) {
  options.gram_restarts.clear();
  if (options.form != StepForm::kGram) return;
  const int bits = float_format(options.dtype).significand_bits;
  const std::int64_t k = std::min(options.rows, options.cols);
  options.gram_restarts = runtime::gram_restart_steps(schedule, steps, runtime::gram_growth_budget(bits, k));
}

std::string bound_text(const RoundingOptions& options) {
  if (options.bound == RoundingBound::kWorstCase) return "worst case";
  return fmt::format("probabilistic, holds with probability >= 1 - {:g}", options.failure_probability);
}

std::string rounding_table(const RoundingCertificate& c) {
  const RoundingOptions& o = c.options;
  const Arithmetic& a = c.arithmetic;
  std::string out = fmt::format("in {} on {}x{} ({} form; {}), accumulation {}", o.dtype, o.rows, o.cols,
                                to_string(o.form), bound_text(o), a.accumulation.name);
  if (o.form == StepForm::kGram) {
    out += fmt::format(", k x k side {} ({} operands), restarts before {}", a.side.name, a.side_operands.name,
                       o.gram_restarts.empty() ? std::string("none") : [&] {
                         std::string r;
                         for (int t : o.gram_restarts) r += (r.empty() ? "" : ",") + std::to_string(t + 1);
                         return r;
                       }());
  }
  out += ":\n";
  out += fmt::format("normalised: [{}, {}] -> [{}, {}] (scale within 1 +- {}, entries +- {})\n",
                     short_decimal(c.input.lower), short_decimal(c.input.upper), short_decimal(c.normalised.lower),
                     short_decimal(c.normalised.upper), short_decimal(c.normalisation_relative, 3),
                     short_decimal(c.normalisation_absolute, 3));
  out += fmt::format("{:>4} {:>12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}\n", "step", "lower", "upper", "error",
                     "relative", "||dH||", "absolute", "band");
  for (std::size_t t = 0; t < c.steps.size(); ++t) {
    const RoundedStep& s = c.steps[t];
    out += fmt::format("{:>4} {:>12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}{}\n", t + 1,
                       short_decimal(s.interval.lower, 6), short_decimal(s.interval.upper, 6),
                       short_decimal(s.error, 6), short_decimal(s.relative, 3), short_decimal(s.perturbation, 3),
                       short_decimal(s.absolute, 3), short_decimal(s.band, 4), s.overflow ? "  overflow" : "");
  }
  out += fmt::format("final error with rounding: {}\n", short_decimal(c.final_error, 6));
  if (c.blow_up_step) {
    out += fmt::format("BLOWS UP: a singular value can leave the safe band {}, and end above {}\n",
                       *c.blow_up_step == 0 ? std::string("already at the normalisation")
                                            : "after step " + std::to_string(*c.blow_up_step),
                       kBlowUpTop);
  } else {
    out += fmt::format("no blow-up: every singular value stays below {} (band before step 1: {})\n", kBlowUpTop,
                       short_decimal(c.input_band, 4));
  }
  if (c.vanishing_step) {
    out += fmt::format("from step {} the lower end is 0: rounding may have destroyed the smallest singular values\n",
                       *c.vanishing_step);
  }
  return out;
}

}  // namespace polar_express::cli
