// polar-express design: the greedy minimax schedule for given degrees and interval.
#include "common.hpp"
#include "format.hpp"

#include "long_work.hpp"

#include "polar_express/solver/remez.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <fmt/format.h>

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
      "estimate \"error_after\").");
  app->add_option("--degree", args->degree,
                  "Odd degree >= 3, or a comma list with one degree per step (the last repeats)")
      ->capture_default_str();
  app->add_option("--lower", args->lower, "Lower bound l > 0 of the normalised singular values")->required();
  app->add_option("--upper", args->upper, "Upper bound u > l")->capture_default_str();
  auto* steps = app->add_option("--steps", args->steps, "Number of steps T (1..64)")->transform(integer_text<int>());
  auto* target = app->add_option("--target-error", args->target_error,
                                 "Use the fewest steps whose error's rigorous upper bound is at most E, 0 < E < 1");
  steps->excludes(target);
  app->add_option("--cushion", args->cushion,
                  "Solve on [max(l, C*u), u] and recentre (the paper uses 0.02407327424182761), 0 <= C < 1")
      ->capture_default_str();
  app->add_option("--safety", args->safety, "Safety factor s >= 0: steps become p(x / (1 + s))")
      ->capture_default_str();
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
  return {app, [args] { return run_design(*args); }};
}

}  // namespace polar_express::cli
