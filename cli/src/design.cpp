// polar-express design: the greedy minimax schedule for given degrees and interval.
#include "common.hpp"
#include "format.hpp"

#include "long_work.hpp"
#include "rounding_options.hpp"

#include "polar_express/solver/remez.hpp"
#include "polar_express/solver/rounding_design.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

namespace polar_express::cli {
namespace {

struct DesignArguments {
  std::string degree = "5";
  std::string lower;
  std::string upper = "1";
  std::optional<int> steps;
  std::string target_error;
  std::string cushion = "0";
  std::string safety = "0";
  std::string safety_mode = "inloop";
  unsigned precision = 256;
  std::string format = "table";
  std::string output;
  std::string name;
  std::string max_minutes = "10";
  RoundingArguments rounding;
  CLI::Option* cushion_option = nullptr;
  CLI::Option* safety_option = nullptr;
};

// Rough seconds of design_schedule(options) (long_work.hpp's per-solve
// estimates): the interval first widens from [l, u] to about [0, 2] in
// ~log(u/l)/log(degree) steps, each a Remez solve at about the requested
// precision; then each step narrows it around 1 by a power of about q, and
// the steps until the limit polynomial takes over (the interval below
// 2^-bits/q) solve at up to three times the precision.  Each solved step is
// certified at twice the precision; the target-error search recertifies the
// whole chain after every step.
double estimated_design_seconds(const DesignOptions& o) {
  const int degree = *std::max_element(o.degrees.begin(), o.degrees.end());
  const double q = (degree + 1) / 2.0;
  const unsigned bits = o.precision_bits;
  const double widening = std::ceil(static_cast<double>(log(o.upper / o.lower)) / std::log(degree)) + 1;
  const double narrowing = std::ceil(std::log2(std::max(2.0, bits / q)) / std::log2(q)) + 1;
  const double solved = o.steps ? std::min<double>(*o.steps, widening + narrowing) : widening + narrowing;
  const double wide = std::min(solved, widening);
  const double images = o.steps ? 2 * solved : solved * (solved + 1) / 2 + solved;
  return wide * estimated_remez_seconds(degree, remez_working_bits(degree, o.lower, o.upper, bits)) +
         (solved - wide) * estimated_remez_seconds(degree, 3 * bits + 64) +
         images * estimated_image_seconds(degree, certification_bits(bits));
}

std::string candidates_table(const PrecisionDesign& d) {
  std::string out = "candidates (cushion, the safety factor the model asks for, final error with rounding):\n";
  for (const PrecisionCandidate& c : d.candidates) {
    out += fmt::format("  steps {:>2}  cushion {:<8} safety {:<10} {}\n", c.steps, short_decimal(c.cushion, 4),
                       short_decimal(c.safety, 4),
                       c.blows_up ? std::string("blows up") : short_decimal(c.final_error, 4));
  }
  return out;
}

// design --dtype: the safety factor (and the cushion, unless given) chosen
// from the rounding model (solver/rounding_design.hpp).
int run_precision_design(const DesignArguments& args, DesignOptions options, const RoundingOptions& rounding,
                         LongWork& work) {
  PrecisionDesignOptions p;
  p.cushion_fixed = args.cushion_option->count() > 0;
  options.safety = 0;
  p.design = options;
  p.rounding = rounding;
  if (rounding.form == StepForm::kGram) {
    throw UsageError("design --dtype certifies the torch and direct forms; the Gram form's restarts depend on the design");
  }
  const int trials = static_cast<int>((p.cushion_fixed ? 1 : precision_design_cushions().size()) *
                                      (options.steps ? 1 : 8));
  constexpr int kDesignsPerTrial = 4;
  work.expect(trials * kDesignsPerTrial * 3 * estimated_design_seconds(options),
              fmt::format("up to {} designs with rounding certificates", trials * kDesignsPerTrial));
  PrecisionDesign d = [&] {
    ScopedWorkMonitor monitor(work);
    return design_for_precision(p);
  }();
  if (!args.name.empty()) d.schedule.name = args.name;
  std::string text;
  if (args.format == "json") {
    nlohmann::ordered_json doc = nlohmann::ordered_json::parse(to_json(d.schedule));
    doc["rounding"] = nlohmann::ordered_json::parse(to_json(d.certificate));
    nlohmann::ordered_json candidates = nlohmann::ordered_json::array();
    for (const PrecisionCandidate& c : d.candidates) {
      candidates.push_back({{"steps", c.steps},
                            {"cushion", to_decimal(c.cushion, 17)},
                            {"safety", to_decimal(c.safety, 17)},
                            {"final_error", c.blows_up ? nlohmann::ordered_json(nullptr)
                                                       : nlohmann::ordered_json(to_decimal(c.final_error, 17, Rounding::kUp))},
                            {"blows_up", c.blows_up}});
    }
    doc["precision_design"] = {{"candidates", candidates}};
    text = doc.dump(2) + "\n";
  } else if (args.format == "csv") {
    text = schedule_csv(d.schedule);
  } else {
    const DesignOptions& chosen = *d.schedule.design;
    text = schedule_table(d.schedule);
    text += fmt::format("\nchosen from the rounding model: cushion {}, safety {} ({})\n", short_decimal(chosen.cushion),
                        short_decimal(chosen.safety), to_string(chosen.safety_mode));
    text += candidates_table(d);
    text += "\nwith rounding, " + rounding_table(d.certificate);
  }
  write_output(args.output, text);
  return kExitOk;
}

int run_design(const DesignArguments& args) {
  if (args.format != "table" && args.format != "json" && args.format != "csv") {
    throw UsageError("unknown format '" + args.format + "' (expected table, json or csv)");
  }
  check_precision(args.precision);
  LongWork work("design", parse_minutes(args.max_minutes));
  DesignOptions options;
  options.degrees = parse_degree_list(args.degree);
  options.precision_bits = args.precision;
  // Inputs are read at the working precision of the chain so that no digit
  // the user typed is lost: that of the precision asked for, then again at
  // the one a tiny lower bound needs (required_precision_bits()).
  auto read_inputs = [&](unsigned bits) {
    options.lower = parse_number("--lower", args.lower, bits);
    options.upper = parse_number("--upper", args.upper, bits);
    options.cushion = parse_number("--cushion", args.cushion, bits);
    options.safety = parse_number("--safety", args.safety, bits);
    if (!args.target_error.empty()) options.target_error = parse_number("--target-error", args.target_error, bits);
  };
  read_inputs(certification_bits(args.precision));
  options.steps = args.steps;
  options.safety_mode = parse_safety_mode(args.safety_mode);
  validate(options);
  const int widest = *std::max_element(options.degrees.begin(), options.degrees.end());
  if (const unsigned needed = required_precision_bits(options); needed > options.precision_bits) {
    std::cerr << "polar-express: design: degree " << widest << " on [" << args.lower << ", " << args.upper
              << "] needs " << needed
              << " bits (log2(u/l) + 2q + 64: the rounded coefficients must keep the image of l positive), so the "
                 "schedule is designed and recorded at "
              << needed << " bits instead of " << args.precision << "\n";
    options.precision_bits = needed;
    read_inputs(certification_bits(needed));
  }
  options.lower_text = args.lower;
  options.upper_text = args.upper;
  options.cushion_text = args.cushion;
  options.safety_text = args.safety;

  const std::optional<RoundingOptions> rounding = parse_rounding(args.rounding);
  if (rounding) {
    if (args.safety_option->count() > 0) {
      throw UsageError("--safety and --dtype exclude each other: with --dtype the rounding model chooses the safety factor");
    }
    return run_precision_design(args, options, *rounding, work);
  }

  work.expect(estimated_design_seconds(options),
              fmt::format("degree {}{} at {} bits", widest,
                          options.steps ? fmt::format(" x {} steps", *options.steps) : std::string(" to the target error"),
                          options.precision_bits));
  Schedule schedule = [&] {
    ScopedWorkMonitor monitor(work);
    return design_schedule(options);
  }();
  if (!args.name.empty()) schedule.name = args.name;
  std::string text;
  if (args.format == "json") {
    text = to_json(schedule);
  } else if (args.format == "csv") {
    text = schedule_csv(schedule);
  } else {
    const Schedule doubles = rounded_to(schedule, ElementType::kF64);
    text = schedule_table(schedule, &doubles);
  }
  write_output(args.output, text);
  return kExitOk;
}

}  // namespace

Command add_design_command(CLI::App& root) {
  auto args = std::make_shared<DesignArguments>();
  CLI::App* app = root.add_subcommand(
      "design",
      "Design the greedy Polar Express schedule: at each step the minimax odd polynomial of the\n"
      "given degree on the current singular-value interval, computed in MPFR, with a rigorous\n"
      "enclosure of the worst-case error max |1 - f_t(x)| over [lower, upper] after every step\n"
      "(tables show its upper bound; JSON \"error_enclosure\": [lower, upper] next to the best\n"
      "estimate \"error_after\").\n"
      "With --dtype D --shape MxN the safety factor (and the cushion, unless --cushion is given) is\n"
      "chosen from the rounding model (solver/ROUNDING.md): the smallest s whose scaled steps tolerate\n"
      "the excess the model allows before each of them, with no blow-up; the design with the smallest\n"
      "final error with rounding wins (with --target-error: the fewest steps reaching it with rounding).\n"
      "JSON adds \"rounding\" (the certificate) and \"precision_design\" (the candidates tried).");
  app->add_option("--degree", args->degree,
                  "Odd degree >= 3, or a comma list with one degree per step (the last repeats)")
      ->capture_default_str();
  app->add_option("--lower", args->lower, "Lower bound l > 0 of the normalised singular values")->required();
  app->add_option("--upper", args->upper, "Upper bound u > l")->capture_default_str();
  auto* steps = app->add_option("--steps", args->steps, "Number of steps T (1..64)")->transform(integer_text<int>());
  auto* target = app->add_option("--target-error", args->target_error,
                                 "Use the fewest steps whose error's rigorous upper bound is at most E, 0 < E < 1");
  steps->excludes(target);
  args->cushion_option = app->add_option("--cushion", args->cushion,
                                         "Solve on [max(l, C*u), u] and recentre (the paper uses 0.02407327424182761), "
                                         "0 <= C < 1\n(with --dtype: when not given, chosen from the rounding model)")
                               ->capture_default_str();
  args->safety_option =
      app->add_option("--safety", args->safety, "Safety factor s >= 0: steps become p(x / (1 + s))")->capture_default_str();
  app->add_option("--safety-mode", args->safety_mode,
                  "inloop (nanochat, the maintained package) or posthoc (the paper's Algorithm 1)")
      ->capture_default_str();
  app->add_option("--precision", args->precision, "MPFR precision in bits of the results (64..65536)")
      ->transform(integer_text<unsigned>())
      ->capture_default_str();
  app->add_option("--format", args->format, "table, json (schema polar-express/schedule/v1) or csv")
      ->capture_default_str();
  app->add_option("--output", args->output,
                  "Write to FILE (only on success; - is standard output): a regular file is replaced atomically\n"
                  "keeping its mode, a symbolic link is written through, a device or FIFO is written directly")
      ->transform(path_text());
  app->add_option("--name", args->name, "Schedule name recorded in the output (default polar-express-d<D>)");
  app->add_option("--max-minutes", args->max_minutes,
                  "Stop (exit 2, nothing written) once the design runs this long; refused up front when\n"
                  "its estimate is longer.  Progress goes to stderr past a couple of seconds.  0: no limit")
      ->capture_default_str();
  add_rounding_options(*app, args->rounding, true, true);
  return {app, [args] { return run_design(*args); }};
}

}  // namespace polar_express::cli
