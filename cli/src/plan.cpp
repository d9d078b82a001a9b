// polar-express plan: the cheapest certified schedule for given shapes, lower
// bound and target error (planning.hpp, solver/plan.hpp).
#include "common.hpp"
#include "planning.hpp"
#include "rounding_options.hpp"

#include <memory>
#include <sstream>

namespace polar_express::cli {
namespace {

struct PlanArguments {
  std::string shapes;
  std::string lower;
  std::string target_error;
  std::string dtype = "bf16";
  std::string degrees = "3,5,7,9";
  int max_steps = 8;
  std::string algorithm = "auto";
  std::string cushion = "0";
  std::string safety = "0";
  std::string safety_mode = "inloop";
  unsigned precision = 256;
  std::string format = "table";
  std::string output;
  // --rounding: certify under the rounding model in --dtype (its own
  // options in `rounding`) instead of in exact arithmetic.
  bool with_rounding = false;
  RoundingArguments rounding;
};

std::vector<Shape> parse_shape_list(const std::string& text) {
  std::vector<Shape> shapes;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) shapes.push_back(parse_shape(item));
  if (shapes.empty() || text.back() == ',') throw UsageError("--shape '" + text + "' is not a comma list of BxMxN shapes");
  return shapes;
}

int run_plan(const PlanArguments& args) {
  if (args.format != "table" && args.format != "json") {
    throw UsageError("unknown format '" + args.format + "' (expected table or json)");
  }
  check_precision(args.precision);
  PlanRequest request;
  request.shapes = parse_shape_list(args.shapes);
  request.dtype = parse_dtype(args.dtype);
  request.algorithm = parse_algorithm(args.algorithm);
  if (args.max_steps < 1 || args.max_steps > kMaxDesignSteps) {
    throw UsageError("--max-steps " + std::to_string(args.max_steps) + " is outside [1, " +
                     std::to_string(kMaxDesignSteps) + "]");
  }
  request.search.max_steps = args.max_steps;
  DesignOptions& design = request.search.design;
  design.degrees = parse_degree_list(args.degrees);
  design.precision_bits = args.precision;
  const unsigned bits = certification_bits(args.precision);
  design.lower = parse_number("--lower", args.lower, bits);
  design.upper = Real(1);
  design.target_error = parse_number("--target-error", args.target_error, bits);
  design.cushion = parse_number("--cushion", args.cushion, bits);
  design.safety = parse_number("--safety", args.safety, bits);
  design.safety_mode = parse_safety_mode(args.safety_mode);
  design.lower_text = args.lower;
  design.upper_text = "1";
  design.cushion_text = args.cushion;
  design.safety_text = args.safety;
  validate(design);
  const RoundingArguments defaults;
  if (args.with_rounding) {
    RoundingArguments r = args.rounding;
    r.dtype = args.dtype;
    request.rounding = parse_rounding(r, false);
  } else if (args.rounding.form != defaults.form || args.rounding.bound != defaults.bound ||
             args.rounding.failure_probability != defaults.failure_probability) {
    throw UsageError("--form, --bound and --failure-probability need --rounding (the rounding-aware plan)");
  }

  const PlanReport report = make_plan(request);
  write_output(args.output, args.format == "json" ? plan_json(report).dump(2) + "\n" : plan_table(report));
  return kExitOk;
}

}  // namespace

Command add_plan_command(CLI::App& root) {
  auto args = std::make_shared<PlanArguments>();
  CLI::App* app = root.add_subcommand(
      "plan",
      "The cheapest schedule whose certified worst-case error max |1 - f(x)| over [lower, 1] is at\n"
      "most the target: per-step degrees, step count and form (standard or Gram iteration), found by\n"
      "an exact search over degree sequences (for a fixed sequence the greedy minimax chain is optimal):\n"
      "A* over degree prefixes, one Remez solve per prefix shared by its extensions, bounded and pruned\n"
      "only by the certified greedy recursion, so it equals exhaustive enumeration (ties: the smaller\n"
      "error).  Cost: matrix-multiply FLOPs, dense counting, as the runtime multiplies\n"
      "for a k x K matrix (k the short side): a standard step of degree 2q-1 costs\n"
      "4 k^2 K + 2 (q-2) k^3; the Gram form costs what the runtime's Gram iteration multiplies, its\n"
      "restarts placed by the runtime's rule for --dtype.  With several shapes the cost is summed (B counts).\n"
      "Also prints the catalogue lists on the same shapes.  Exit 1 when no schedule reaches the target.");
  app->add_option("--shape", args->shapes, "Shapes MxN or BxMxN, comma separated (e.g. a model's parameter list)")
      ->required();
  app->add_option("--lower", args->lower, "Lower bound l > 0 of the normalised singular values")->required();
  app->add_option("--target-error", args->target_error,
                  "Certified worst-case max |1 - f(x)| over [l, 1] to reach, at least the dtype's unit roundoff")
      ->required();
  app->add_option("--dtype", args->dtype,
                  "Element type of the iterate: bf16, f16, f32 or f64 (sets the Gram restarts and the smallest\n"
                  "target; with --rounding, the type the certificates are for)")
      ->capture_default_str();
  app->add_flag("--rounding", args->with_rounding,
                "Certify each schedule's error with rounding: its final error under the rounding model in --dtype\n"
                "(solver/ROUNDING.md) on the worst of the shapes, instead of in exact arithmetic");
  app->add_option("--degrees", args->degrees, "Odd degrees a step may have, comma separated")->capture_default_str();
  app->add_option("--max-steps", args->max_steps, "Most steps a schedule may have (1..64)")->capture_default_str();
  app->add_option("--algorithm", args->algorithm,
                  "direct (standard form), gram (Gram iteration on every shape) or auto (per shape the cheaper;\n"
                  "the JSON's \"algorithm\" is gram when any shape runs it, \"per_shape\" says which)")
      ->capture_default_str();
  app->add_option("--cushion", args->cushion, "Cushion C as design takes it, 0 <= C < 1")->capture_default_str();
  app->add_option("--safety", args->safety, "Safety factor s >= 0 as design takes it")->capture_default_str();
  app->add_option("--safety-mode", args->safety_mode, "inloop or posthoc, as design takes it")->capture_default_str();
  app->add_option("--precision", args->precision, "MPFR precision in bits of the schedule (64..65536)")
      ->capture_default_str();
  app->add_option("--format", args->format,
                  "table or json (schema polar-express/plan/v1; its \"schedule\" is a polar-express/schedule/v1\n"
                  "object, and the whole file is accepted by verify, emit and run)")
      ->capture_default_str();
  app->add_option("--output", args->output, "Write to FILE instead of standard output (only on success)");
  add_rounding_options(*app, args->rounding, false, false);
  return {app, [args] { return run_plan(*args); }};
}

}  // namespace polar_express::cli
