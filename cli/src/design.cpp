// polar-express design: the greedy minimax schedule for given degrees and interval.
#include "common.hpp"
#include "format.hpp"

#include "polar_express/solver/schedule_io.hpp"

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
};

int run_design(const DesignArguments& args) {
  if (args.format != "table" && args.format != "json" && args.format != "csv") {
    throw UsageError("unknown format '" + args.format + "' (expected table, json or csv)");
  }
  check_precision(args.precision);
  DesignOptions options;
  options.degrees = parse_degree_list(args.degree);
  options.precision_bits = args.precision;
  // Inputs are read at the working precision of the chain so that no digit
  // the user typed is lost.
  const unsigned bits = certification_bits(args.precision);
  options.lower = parse_number("--lower", args.lower, bits);
  options.upper = parse_number("--upper", args.upper, bits);
  options.cushion = parse_number("--cushion", args.cushion, bits);
  options.safety = parse_number("--safety", args.safety, bits);
  options.lower_text = args.lower;
  options.upper_text = args.upper;
  options.cushion_text = args.cushion;
  options.safety_text = args.safety;
  options.safety_mode = parse_safety_mode(args.safety_mode);
  options.steps = args.steps;
  if (!args.target_error.empty()) options.target_error = parse_number("--target-error", args.target_error, bits);
  validate(options);

  Schedule schedule = design_schedule(options);
  if (!args.name.empty()) schedule.name = args.name;
  std::string text;
  if (args.format == "json") {
    text = to_json(schedule);
  } else if (args.format == "csv") {
    text = schedule_csv(schedule);
  } else {
    text = schedule_table(schedule);
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
  auto* steps = app->add_option("--steps", args->steps, "Number of steps T (1..64)");
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
      ->capture_default_str();
  app->add_option("--format", args->format, "table, json (schema polar-express/schedule/v1) or csv")
      ->capture_default_str();
  app->add_option("--output", args->output, "Write to FILE instead of standard output (only on success)");
  app->add_option("--name", args->name, "Schedule name recorded in the output (default polar-express-d<D>)");
  return {app, [args] { return run_design(*args); }};
}

}  // namespace polar_express::cli
