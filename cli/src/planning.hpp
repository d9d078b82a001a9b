#pragma once
// The plan `plan` and `analyze` share: DESIGN.md's cost model (matrix-multiply
// FLOPs, dense counting, as the runtime counts them), the exact search of
// solver/plan.hpp under it, the catalogue baselines on the same shapes, and
// the plan's JSON (schema polar-express/plan/v1) and table.
#include "shape.hpp"

#include "polar_express/solver/rounding.hpp"

#include "polar_express/runtime/cost.hpp"
#include "polar_express/solver/plan.hpp"
#include "polar_express/solver/schedule_io.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace polar_express::cli {

// Which form the plan may run on each shape: the standard one, the Gram
// iteration with the runtime's restarts (runtime/gram.hpp), or per shape
// whichever of the two costs less.
enum class Algorithm { kAuto, kDirect, kGram };
Algorithm parse_algorithm(const std::string& text);  // UsageError naming the text

struct PlanRequest {
  std::vector<Shape> shapes;
  // What the runtime stores the iterate in: its unit roundoff
  // 2^-significand_bits is the smallest worst-case error a result stored in
  // it can claim, and its precision sets the Gram restart budget.
  ElementType dtype = ElementType::kBF16;
  Algorithm algorithm = Algorithm::kAuto;
  // design: the allowed degrees, lower, upper, target error, cushion, safety
  // and mode, precision (and the texts the user typed, for the schedule's metadata).
  PlanSearchOptions search;
  // When set (plan --dtype given): a schedule's certified error is its final
  // error under the rounding model on the worst of the shapes
  // (rounding_aware_error); rows and cols are set per shape.
  std::optional<RoundingOptions> rounding;
};

// How one distinct shape (batches of equal matrices merged) runs a schedule.
struct ShapeRun {
  Shape shape;
  bool gram = false;
  std::vector<int> restarts;  // steps (0-based) before which the Gram iteration restarts
  runtime::MatmulCount count;
};

struct ScheduleCost {
  std::vector<ShapeRun> runs;
  double flops = 0;
  std::int64_t matmuls = 0;
  bool any_gram = false;
};

// A catalogue list on the plan's shapes, at its published step count (a list
// of one tuple runs 5 times, Muon's default), certified over the plan's
// interval; and the fewest steps (following its after_list rule, up to
// kBaselineHorizon) that reach the plan's target.
inline constexpr int kBaselineHorizon = 30;
int published_steps(const Schedule& schedule);
struct Baseline {
  std::string name;
  int steps = 0;
  Real final_error;
  ScheduleCost cost;
  std::optional<int> steps_to_target;
  std::optional<ScheduleCost> cost_to_target;
  std::string note;
};

// The final error of `steps` (as they run) under the request's rounding
// model: the largest over its distinct shapes, from [lower, upper] under the
// normalisation its design options give.
Real rounding_aware_error(const PlanRequest& request, const std::vector<ScheduleStep>& steps);

struct PlanReport {
  PlanRequest request;
  PlannedSchedule plan;
  std::optional<Real> rounding_error;  // the plan's, with request.rounding
  ScheduleCost cost;
  std::vector<Baseline> baselines;
  double seconds = 0;
};

// UsageError for a target below what the dtype holds or bad shapes;
// SolverError when no schedule reaches the target.
PlanReport make_plan(const PlanRequest& request);

// The cost of running `schedule` for `steps` steps on the request's shapes
// under its algorithm.
ScheduleCost schedule_cost(const PlanRequest& request, const runtime::Schedule& schedule, int steps);

nlohmann::ordered_json plan_json(const PlanReport& report);
std::string plan_table(const PlanReport& report);

// "7,5,5" for {7, 5, 5}.
std::string comma_list(const std::vector<int>& values);

// "4.19 GFLOP"-style amounts for tables.
std::string flop_text(double flops);

}  // namespace polar_express::cli
