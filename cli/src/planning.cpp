#include "planning.hpp"

#include "common.hpp"
#include "format.hpp"

#include "polar_express/bridge/bridge.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"
#include "polar_express/solver/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

namespace polar_express::cli {
namespace {

runtime::Schedule of_degrees(const std::vector<int>& degrees) {
  runtime::Schedule s;
  s.name = "degrees";
  for (int d : degrees) s.steps.push_back({d, std::vector<double>(static_cast<std::size_t>((d + 1) / 2), 1.0)});
  return s;
}

runtime::BatchShape batch_shape(const Shape& s) { return {s.batch, s.rows, s.cols}; }

// The plan's shapes, equal matrices merged, and what each form charges per
// step of each degree (from the runtime's count of one- and two-step
// schedules), for the search's bounds.
class FlopModel {
 public:
  explicit FlopModel(const PlanRequest& request)
      : algorithm_(request.algorithm), bits_(significand_bits(request.dtype)) {
    std::map<std::pair<std::int64_t, std::int64_t>, std::size_t> index;
    for (const Shape& s : request.shapes) {
      const auto [at, inserted] = index.emplace(std::make_pair(s.rows, s.cols), shapes_.size());
      if (inserted) {
        shapes_.push_back({s, {}});
      } else {
        shapes_[at->second].shape.batch += s.batch;
      }
    }
    runtime::ProductPlan gram;
    gram.gram = true;
    for (Distinct& d : shapes_) {
      const runtime::BatchShape one{1, d.shape.rows, d.shape.cols};
      for (int degree : request.search.design.degrees) {
        // A standard step, or a Gram step that starts a segment, costs
        // `alone`; one that continues a segment, `continued`.
        const double alone = runtime::count_matmuls(one, of_degrees({degree}), 1, {}).flops;
        const double continued = runtime::count_matmuls(one, of_degrees({degree, degree}), 2, gram).flops -
                                 runtime::count_matmuls(one, of_degrees({degree}), 1, gram).flops;
        d.floors[degree] = {alone, std::min(alone, continued)};
      }
    }
  }

  ScheduleCost cost(const runtime::Schedule& schedule, int steps) const {
    ScheduleCost total;
    for (const Distinct& d : shapes_) {
      ShapeRun run = direct(d, schedule, steps);
      if (algorithm_ != Algorithm::kDirect) {
        ShapeRun with_gram = gram(d, schedule, steps);
        if (algorithm_ == Algorithm::kGram || with_gram.count.flops < run.count.flops) run = std::move(with_gram);
      }
      total.flops += run.count.flops;
      total.matmuls += run.count.products;
      total.any_gram = total.any_gram || run.gram;
      total.runs.push_back(std::move(run));
    }
    return total;
  }

  // What every schedule that runs `prefix` and then more steps pays for the
  // prefix at least: the runtime's count of the prefix run alone.  In the
  // Gram form the restarts among the prefix's steps are the same in every
  // such schedule (the runtime places them from the first step on, each
  // looking only at the steps before it) and each later step adds what a
  // step starting or continuing a segment costs; under auto, the cheaper
  // form's count of the prefix with the cheaper form's floors.
  double prefix_cost(const runtime::Schedule& prefix) const {
    const int steps = static_cast<int>(prefix.steps.size());
    double total = 0;
    for (const Distinct& d : shapes_) {
      const double standard = direct(d, prefix, steps).count.flops;
      if (algorithm_ == Algorithm::kDirect) {
        total += standard;
        continue;
      }
      const double with_gram = gram(d, prefix, steps).count.flops;
      total += algorithm_ == Algorithm::kGram ? with_gram : std::min(standard, with_gram);
    }
    return total;
  }

  // The least one more step of `degree` adds.
  double step_floor(int degree) const {
    double total = 0;
    for (const Distinct& d : shapes_) {
      const auto& [standard, with_gram] = d.floors.at(degree);
      total += static_cast<double>(d.shape.batch) * (algorithm_ == Algorithm::kDirect ? standard : with_gram);
    }
    return total;
  }

 private:
  struct Distinct {
    Shape shape;
    std::map<int, std::pair<double, double>> floors;  // per degree: standard form, Gram form
  };

  ShapeRun direct(const Distinct& d, const runtime::Schedule& schedule, int steps) const {
    return {d.shape, false, {}, runtime::count_matmuls(batch_shape(d.shape), schedule, steps, {})};
  }

  ShapeRun gram(const Distinct& d, const runtime::Schedule& schedule, int steps) const {
    runtime::PlanOptions options;
    options.gram = runtime::ProductMode::kOn;
    options.symmetric = runtime::ProductMode::kOff;
    const runtime::ProductPlan products = runtime::plan_products(batch_shape(d.shape), schedule, steps, options, bits_,
                                                                 std::numeric_limits<std::int64_t>::max());
    return {d.shape, true, products.restarts, runtime::count_matmuls(batch_shape(d.shape), schedule, steps, products)};
  }

  Algorithm algorithm_;
  int bits_;
  std::vector<Distinct> shapes_;
};

std::vector<OddPolynomial> polynomials_of(const std::vector<ScheduleStep>& steps, std::size_t count) {
  std::vector<OddPolynomial> result;
  for (std::size_t t = 0; t < count; ++t) result.push_back(steps[t].polynomial);
  return result;
}

Baseline baseline(const std::string& name, const PlanRequest& request, const FlopModel& model) {
  const DesignOptions& design = request.search.design;
  const Schedule schedule = builtin_schedule(name, design.precision_bits);
  Baseline b;
  b.name = name;
  b.steps = published_steps(schedule);
  std::vector<ScheduleStep> steps = expand_steps(schedule, std::max(b.steps, kBaselineHorizon));
  certify(steps, {design.lower, design.upper}, design.precision_bits);
  b.final_error = steps[static_cast<std::size_t>(b.steps) - 1].error_after;
  const auto count = static_cast<std::size_t>(b.steps);
  b.cost = model.cost(bridge::runtime_polynomials(polynomials_of(steps, count), name), b.steps);
  for (std::size_t t = 0; t < steps.size(); ++t) {
    if (steps[t].error_after <= *design.target_error) {
      b.steps_to_target = static_cast<int>(t + 1);
      b.cost_to_target = model.cost(bridge::runtime_polynomials(polynomials_of(steps, t + 1), name), static_cast<int>(t + 1));
      break;
    }
  }
  if (schedule.normalization.kind == NormalizationKind::kAol) {
    b.note = "normalises by AOL, not by the Frobenius norm: its singular values do not start in [lower, 1] as planned";
  }
  return b;
}

const char* form_name(bool gram) { return gram ? "gram" : "direct"; }

std::string restarts_text(const ShapeRun& run) {
  if (!run.gram) return "-";
  return run.restarts.empty() ? "none" : comma_list(run.restarts);
}

nlohmann::ordered_json runs_json(const ScheduleCost& cost) {
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (const ShapeRun& r : cost.runs) {
    runs.push_back({{"shape", shape_text(r.shape)},
                    {"algorithm", form_name(r.gram)},
                    {"restarts", r.restarts},
                    {"flops", r.count.flops},
                    {"matmuls", r.count.products}});
  }
  return runs;
}

}  // namespace

int published_steps(const Schedule& schedule) {
  // A list of one tuple runs as often as Muon runs Jordan's: 5 times.
  constexpr int kSingleTupleSteps = 5;
  return schedule.steps.size() == 1 ? kSingleTupleSteps : static_cast<int>(schedule.steps.size());
}

Algorithm parse_algorithm(const std::string& text) {
  if (text == "auto") return Algorithm::kAuto;
  if (text == "direct") return Algorithm::kDirect;
  if (text == "gram") return Algorithm::kGram;
  throw UsageError("--algorithm '" + text + "' is not auto, direct or gram");
}

std::string comma_list(const std::vector<int>& values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) text += ',';
    text += std::to_string(values[i]);
  }
  return text;
}

std::string flop_text(double flops) {
  if (flops >= 1e12) return fmt::format("{:.4g} TFLOP", flops / 1e12);
  if (flops >= 1e9) return fmt::format("{:.4g} GFLOP", flops / 1e9);
  if (flops >= 1e6) return fmt::format("{:.4g} MFLOP", flops / 1e6);
  return fmt::format("{:.4g} FLOP", flops);
}

Real rounding_aware_error(const PlanRequest& request, const std::vector<ScheduleStep>& steps) {
  const DesignOptions& design = request.search.design;
  // The bounds hold at any working precision; the search's candidates are
  // many, so they are certified at the smallest.
  constexpr unsigned kRoundingBits = kMinPrecisionBits;
  RoundingOptions options = *request.rounding;
  options.band = false;
  Real worst = 0;
  std::map<std::pair<std::int64_t, std::int64_t>, bool> seen;
  for (const Shape& s : request.shapes) {
    if (!seen.emplace(std::make_pair(s.rows, s.cols), true).second) continue;
    options.rows = s.rows;
    options.cols = s.cols;
    const RoundingCertificate c =
        certify_rounding(steps, design_normalization(design), {design.lower, design.upper}, options, kRoundingBits);
    if (!(c.final_error <= worst)) worst = c.final_error;
  }
  return worst;
}

ScheduleCost schedule_cost(const PlanRequest& request, const runtime::Schedule& schedule, int steps) {
  return FlopModel(request).cost(schedule, steps);
}

PlanReport make_plan(const PlanRequest& request) {
  if (request.shapes.empty()) throw UsageError("--shape names no shape");
  const DesignOptions& design = request.search.design;
  if (!design.target_error) throw UsageError("the plan needs --target-error");
  const Real roundoff = boost::multiprecision::ldexp(Real(1), -significand_bits(request.dtype));
  if (*design.target_error < roundoff) {
    throw UsageError("--target-error " + short_decimal(*design.target_error) + " is below what " + to_string(request.dtype) +
                     " can hold: storing the result rounds every entry by up to its unit roundoff 2^-" +
                     std::to_string(significand_bits(request.dtype)) + " = " + short_decimal(roundoff, 3) +
                     " relative; ask for at least that, or plan for a wider --dtype");
  }
  const FlopModel model(request);
  PlanCost cost;
  cost.of_schedule = [&](const std::vector<OddPolynomial>& steps) {
    return model.cost(bridge::runtime_polynomials(steps, "candidate"), static_cast<int>(steps.size())).flops;
  };
  cost.of_prefix = [&](const std::vector<OddPolynomial>& prefix) {
    return model.prefix_cost(bridge::runtime_polynomials(prefix, "prefix"));
  };
  cost.step_floor = [&](int degree) { return model.step_floor(degree); };
  PlanReport report;
  report.request = request;
  const auto start = std::chrono::steady_clock::now();
  PlanSearchOptions search = request.search;
  if (request.rounding) {
    search.certified_error = [&](const std::vector<ScheduleStep>& steps) { return rounding_aware_error(request, steps); };
  }
  report.plan = plan_schedule(search, cost);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Schedule& s = report.plan.schedule;
  if (request.rounding) report.rounding_error = rounding_aware_error(request, s.steps);
  report.cost = model.cost(bridge::runtime_polynomials(polynomials_of(s.steps, s.steps.size()), s.name),
                           static_cast<int>(s.steps.size()));
  for (const std::string& name : builtin_names()) report.baselines.push_back(baseline(name, request, model));
  return report;
}

nlohmann::ordered_json plan_json(const PlanReport& report) {
  const DesignOptions& design = report.request.search.design;
  const int digits = std::max(40, decimal_digits_for_bits(design.precision_bits));
  nlohmann::ordered_json doc;
  doc["schema"] = kPlanSchema;
  nlohmann::ordered_json shapes = nlohmann::ordered_json::array();
  for (const Shape& s : report.request.shapes) shapes.push_back(shape_text(s));
  doc["shape"] = shapes;
  doc["dtype"] = to_string(report.request.dtype);
  doc["lower"] = to_decimal(design.lower, digits);
  doc["upper"] = to_decimal(design.upper, digits);
  doc["target_error"] = to_decimal(*design.target_error, digits);
  doc["algorithm"] = form_name(report.cost.any_gram);
  doc["flops"] = report.cost.flops;
  doc["matmuls"] = report.cost.matmuls;
  doc["degrees"] = report.plan.degrees;
  doc["steps"] = report.plan.degrees.size();
  doc["final_error"] = to_decimal(report.plan.schedule.final_error, digits);
  if (report.request.rounding) {
    const RoundingOptions& r = *report.request.rounding;
    doc["rounding"] = {{"dtype", r.dtype},
                       {"form", to_string(r.form)},
                       {"bound", to_string(r.bound)},
                       {"failure_probability", r.bound == RoundingBound::kProbabilistic ? r.failure_probability : 0.0},
                       {"final_error", to_decimal(*report.rounding_error, 17, Rounding::kUp)}};
  }
  doc["per_shape"] = runs_json(report.cost);
  doc["schedule"] = nlohmann::ordered_json::parse(to_json(report.plan.schedule));
  nlohmann::ordered_json baselines = nlohmann::ordered_json::array();
  for (const Baseline& b : report.baselines) {
    nlohmann::ordered_json j;
    j["name"] = b.name;
    j["steps"] = b.steps;
    j["flops"] = b.cost.flops;
    j["matmuls"] = b.cost.matmuls;
    j["final_error"] = to_decimal(b.final_error, digits);
    j["algorithm"] = form_name(b.cost.any_gram);
    j["meets_target"] = b.final_error <= *design.target_error;
    j["steps_to_target"] = b.steps_to_target ? nlohmann::ordered_json(*b.steps_to_target) : nullptr;
    j["flops_to_target"] = b.cost_to_target ? nlohmann::ordered_json(b.cost_to_target->flops) : nullptr;
    if (!b.note.empty()) j["note"] = b.note;
    baselines.push_back(j);
  }
  doc["baselines"] = baselines;
  const PlanStatistics& st = report.plan.statistics;
  doc["search"] = {{"greedy_links", st.links},     {"candidates_certified", st.candidates},
                   {"expansions", st.expansions},  {"pruned", st.pruned},
                   {"bound_solves", st.bound_solves}, {"seconds", report.seconds}};
  return doc;
}

std::string plan_table(const PlanReport& report) {
  const DesignOptions& design = report.request.search.design;
  const Real& target = *design.target_error;
  std::string shapes;
  for (const Shape& s : report.request.shapes) {
    if (!shapes.empty()) shapes += ", ";
    shapes += shape_text(s);
  }
  std::string out = fmt::format("cheapest schedule with certified max |1 - f(x)| <= {} over [{}, {}] on {} ({}{})\n",
                                short_decimal(target), short_decimal(design.lower), short_decimal(design.upper),
                                shapes, to_string(report.request.dtype),
                                report.request.rounding ? ", its rounding included" : "");
  out += fmt::format("degrees {} ({} steps), {} in {} matrix products, certified error {}\n",
                     comma_list(report.plan.degrees), report.plan.degrees.size(), flop_text(report.cost.flops),
                     report.cost.matmuls, short_decimal(report.plan.schedule.final_error));
  if (report.rounding_error) {
    const RoundingOptions& r = *report.request.rounding;
    out += fmt::format("with rounding in {} ({} form; {}): certified error {} on the worst shape\n", r.dtype,
                       to_string(r.form),
                       r.bound == RoundingBound::kWorstCase ? std::string("worst case")
                                                            : fmt::format("probabilistic, 1 - {:g}", r.failure_probability),
                       short_decimal(*report.rounding_error));
  }
  out += "\n";
  out += fmt::format("{:<16} {:<7} {:<18} {:>14} {:>9}\n", "shape", "form", "restarts before", "cost", "products");
  for (const ShapeRun& r : report.cost.runs) {
    out += fmt::format("{:<16} {:<7} {:<18} {:>14} {:>9}\n", shape_text(r.shape), form_name(r.gram),
                       restarts_text(r), flop_text(r.count.flops), r.count.products);
  }
  out += "(restarts: the 0-based steps before which the Gram iteration re-forms X0 X0^T, placed by the runtime)\n\n";
  out += schedule_table(report.plan.schedule);
  out += fmt::format("\ncatalogue lists on the same shapes: certified error over [{}, {}] at the published step "
                     "count,\nand the fewest steps (up to {}) reaching {}\n",
                     short_decimal(design.lower), short_decimal(design.upper), kBaselineHorizon, short_decimal(target));
  out += fmt::format("{:<26} {:>5} {:>12} {:>14} {:>8} {:>9} {:>14}\n", "name", "steps", "error", "cost", "vs plan",
                     "to target", "cost then");
  for (const Baseline& b : report.baselines) {
    const std::string then = b.cost_to_target ? flop_text(b.cost_to_target->flops) : "-";
    out += fmt::format("{:<26} {:>5} {:>12} {:>14} {:>7.3f}x {:>9} {:>14}{}\n", b.name, b.steps,
                       short_decimal(b.final_error, 4), flop_text(b.cost.flops), b.cost.flops / report.cost.flops,
                       b.steps_to_target ? std::to_string(*b.steps_to_target) : "never", then,
                       b.note.empty() ? "" : "  (AOL)");
  }
  const PlanStatistics& st = report.plan.statistics;
  out += fmt::format("\nsearch: {} greedy links, {} schedules certified, {} prefixes extended, {} pruned by the error "
                     "bound ({} Remez solves), {:.2f} s\n",
                     st.links, st.candidates, st.expansions, st.pruned, st.bound_solves, report.seconds);
  return out;
}

}  // namespace polar_express::cli
