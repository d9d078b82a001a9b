// The plan search (solver/plan.hpp) against exhaustive enumeration through
// design_schedule, under costs that depend on the degrees only and on the
// polynomials themselves; the greedy links against design_schedule; and
// ReachBound against the fewest steps and least cost enumeration finds.
#include "polar_express/solver/plan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <limits>

using namespace polar_express;

namespace {

// At least what design_schedule raises every design here to
// (required_precision_bits), so that plans and designs agree bit for bit.
constexpr unsigned kBits = 128;

DesignOptions options(double lower, double cushion, double safety, SafetyMode mode) {
  DesignOptions o;
  o.degrees = {3, 5, 7};
  o.lower = Real(lower);
  o.cushion = Real(cushion);
  o.safety = Real(safety);
  o.safety_mode = mode;
  o.precision_bits = kBits;
  return o;
}

// Every sequence of `degrees` of 1..max_steps steps.
std::vector<std::vector<int>> all_sequences(const std::vector<int>& degrees, int max_steps) {
  std::vector<std::vector<int>> all{{}};
  std::vector<std::vector<int>> result;
  for (int n = 1; n <= max_steps; ++n) {
    std::vector<std::vector<int>> longer;
    for (const auto& prefix : all) {
      for (int d : degrees) {
        longer.push_back(prefix);
        longer.back().push_back(d);
        result.push_back(longer.back());
      }
    }
    all = std::move(longer);
  }
  return result;
}

struct Designed {
  std::vector<int> degrees;
  Schedule schedule;
};

// design_schedule of every sequence: the exhaustive reference.
std::vector<Designed> enumerate(const DesignOptions& base, int max_steps) {
  std::vector<Designed> all;
  for (const std::vector<int>& degrees : all_sequences(base.degrees, max_steps)) {
    DesignOptions o = base;
    o.degrees = degrees;
    o.steps = static_cast<int>(degrees.size());
    all.push_back({degrees, design_schedule(o)});
  }
  return all;
}

std::vector<OddPolynomial> polynomials(const Schedule& s) {
  std::vector<OddPolynomial> p;
  for (const ScheduleStep& step : s.steps) p.push_back(step.polynomial);
  return p;
}

// The cheapest meeting the target, ties by error, length, then sequence.
const Designed* brute_force(const std::vector<Designed>& all, const Real& target,
                            const std::function<double(const std::vector<OddPolynomial>&)>& cost) {
  const Designed* best = nullptr;
  double best_cost = 0;
  for (const Designed& d : all) {
    if (d.schedule.final_error > target) continue;
    const double c = cost(polynomials(d.schedule));
    const bool better = !best || c < best_cost ||
                        (c == best_cost && (d.schedule.final_error < best->schedule.final_error ||
                                            (d.schedule.final_error == best->schedule.final_error &&
                                             (d.degrees.size() < best->degrees.size() ||
                                              (d.degrees.size() == best->degrees.size() && d.degrees < best->degrees)))));
    if (better) {
      best = &d;
      best_cost = c;
    }
  }
  return best;
}

// Targets strictly between consecutive distinct errors of the enumeration,
// at several ranks, so that no schedule sits on a target.
std::vector<Real> targets_between(const std::vector<Designed>& all, const std::vector<double>& ranks) {
  std::vector<Real> errors;
  for (const Designed& d : all) errors.push_back(d.schedule.final_error);
  std::sort(errors.begin(), errors.end());
  errors.erase(std::unique(errors.begin(), errors.end()), errors.end());
  std::vector<Real> targets;
  for (double r : ranks) {
    const auto i = static_cast<std::size_t>(r * static_cast<double>(errors.size() - 2));
    targets.push_back(sqrt(errors[i] * errors[i + 1]));
  }
  return targets;
}

// Degree-only cost: a standard-form step of degree 2q-1 on a k x K matrix.
double standard_cost(const std::vector<OddPolynomial>& steps) {
  double c = 0;
  for (const OddPolynomial& p : steps) c += 4.0 * 3 + 2.0 * (static_cast<double>(p.coefficients.size()) - 2);
  return c;
}

// A cost that depends on the polynomials and on their order: a step whose
// slope at 0 (c0) exceeds 3 costs 2 more, unless it comes first.
double order_cost(const std::vector<OddPolynomial>& steps) {
  double c = 0;
  for (std::size_t t = 0; t < steps.size(); ++t) {
    c += static_cast<double>(steps[t].coefficients.size());
    if (t > 0 && steps[t].coefficients[0] > 3) c += 2;
  }
  return c;
}

// Both costs are sums over steps in which a step's part does not depend on
// later steps: a prefix costs what it costs alone, and a step adds at least
// its degree's floor.
PlanCost plan_cost(const std::function<double(const std::vector<OddPolynomial>&)>& cost,
                   const std::function<double(int)>& floor) {
  return {cost, cost, floor};
}

double standard_floor(int degree) { return 12 + 2.0 * ((degree + 1) / 2 - 2); }
double order_floor(int degree) { return (degree + 1) / 2; }

}  // namespace

TEST_CASE("greedy links chained as a search chains them are design_schedule's steps", "[plan]") {
  for (const SafetyMode mode : {SafetyMode::kInLoop, SafetyMode::kPostHoc}) {
    const DesignOptions base = options(1e-3, 0.02, 0.02, mode);
    for (const std::vector<int>& degrees : {std::vector<int>{5, 5, 5}, {3, 7, 5, 3}, {7}, {9, 3, 11}}) {
      DesignOptions o = base;
      o.degrees = degrees;
      o.steps = static_cast<int>(degrees.size());
      const Schedule designed = design_schedule(o);
      PrecisionScope scope(certification_bits(kBits));
      Real l = designed.input.lower, u = designed.input.upper;
      for (std::size_t t = 0; t < degrees.size(); ++t) {
        GreedyLink link = greedy_link(degrees[t], l, u, base);
        const ScheduleStep& expected = t + 1 < degrees.size() ? link.safe : link.raw;
        INFO(to_string(mode) << " step " << t + 1);
        CHECK(expected.polynomial.coefficients == designed.steps[t].polynomial.coefficients);
        l = link.next_lower;
        u = link.next_upper;
      }
    }
  }
}

TEST_CASE("plan equals exhaustive enumeration: degrees {3,5,7}, up to 4 steps", "[plan]") {
  struct Case {
    const char* name;
    DesignOptions design;
  };
  const std::vector<Case> cases{
      {"pure greedy, l = 1e-3", options(1e-3, 0, 0, SafetyMode::kInLoop)},
      {"nanochat's devices, l = 1e-3", options(1e-3, 0.02, 0.02, SafetyMode::kInLoop)},
      {"the paper's devices, l = 1e-2", options(1e-2, 0.02407327424182761, 0.01, SafetyMode::kPostHoc)},
  };
  for (const Case& c : cases) {
    const std::vector<Designed> all = enumerate(c.design, 4);
    REQUIRE(all.size() == 3 + 9 + 27 + 81);
    for (const auto& [cost_name, cost, floor] :
         {std::make_tuple("standard", std::function(standard_cost), std::function(standard_floor)),
          std::make_tuple("order-dependent", std::function(order_cost), std::function(order_floor))}) {
      for (const Real& target : targets_between(all, {0.05, 0.3, 0.6, 0.9})) {
        INFO(c.name << ", " << cost_name << " cost, target " << to_decimal(target, 8));
        const Designed* expected = brute_force(all, target, cost);
        REQUIRE(expected != nullptr);
        PlanSearchOptions search;
        search.design = c.design;
        search.design.target_error = target;
        search.max_steps = 4;
        const PlannedSchedule plan = plan_schedule(search, plan_cost(cost, floor));
        CHECK(plan.degrees == expected->degrees);
        CHECK(plan.cost == cost(polynomials(expected->schedule)));
        CHECK(plan.schedule.final_error == expected->schedule.final_error);
        CHECK(plan.schedule.final_error <= target);
        // Memoised prefixes: never more links than the tree has prefixes.
        CHECK(plan.statistics.links <= all.size());
      }
    }
  }
}

TEST_CASE("ReachBound: never above the fewest steps and least cost that reach a target", "[plan]") {
  // Without cushion and safety factor each sequence's greedy chain is the
  // optimal composition, so the enumeration is the exact answer the bound
  // approaches from below.
  for (const double lower : {1e-3, 0.05}) {
    const DesignOptions base = options(lower, 0, 0, SafetyMode::kInLoop);
    const std::vector<Designed> all = enumerate(base, 4);
    for (const Real& target : targets_between(all, {0.1, 0.4, 0.7, 0.95})) {
      int fewest = std::numeric_limits<int>::max();
      double least = std::numeric_limits<double>::infinity();
      for (const Designed& d : all) {
        if (d.schedule.final_error > target) continue;
        fewest = std::min(fewest, static_cast<int>(d.degrees.size()));
        double cost = 0;
        for (int degree : d.degrees) cost += standard_floor(degree);
        least = std::min(least, cost);
      }
      ReachBound bound({3, 5, 7}, {standard_floor(3), standard_floor(5), standard_floor(7)}, target);
      const Interval input{Real(lower), Real(1)};
      INFO("lower " << lower << ", target " << to_decimal(target, 8) << ": fewest " << fewest << ", least " << least);
      CHECK(bound.fewest_steps(input) <= fewest);
      CHECK(bound.fewest_steps(input) >= fewest - 1);
      CHECK(bound.least_cost(input) <= least);
      CHECK(bound.least_cost(input) >= least - standard_floor(7));
      // Scale does not matter, only the ratio.
      CHECK(bound.fewest_steps({Real(lower) * 3, Real(3)}) == bound.fewest_steps(input));
    }
  }
  ReachBound bound({5}, {1.0}, Real("1e-2"));
  CHECK(bound.fewest_steps({Real("0.999"), Real(1)}) == 0);
  // An odd polynomial maps 0 to 0: a range reaching 0 never gets within 1e-2 of 1.
  CHECK(bound.fewest_steps({Real(-0.5), Real(1)}) == std::numeric_limits<int>::max());
}

TEST_CASE("plan: an unreachable target and a search past its budget fail with SolverError", "[plan]") {
  PlanSearchOptions search;
  search.design = options(1e-3, 0, 0, SafetyMode::kInLoop);
  search.design.target_error = Real("1e-6");
  search.max_steps = 3;
  // Three septic steps from 1e-3 cannot reach 1e-6: certified at the root.
  try {
    plan_schedule(search, plan_cost(standard_cost, standard_floor));
    FAIL("expected SolverError");
  } catch (const SolverError& e) {
    CHECK_THAT(e.what(), Catch::Contains("out of reach") && Catch::Contains("{3,5,7}"));
  }
  search.max_steps = 8;
  search.max_links = 5;
  CHECK_THROWS_AS(plan_schedule(search, plan_cost(standard_cost, standard_floor)), SolverError);
  search.design.target_error.reset();
  CHECK_THROWS_AS(plan_schedule(search, plan_cost(standard_cost, standard_floor)), std::invalid_argument);
}
