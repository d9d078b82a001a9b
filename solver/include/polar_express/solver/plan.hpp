#pragma once
// The cheapest schedule that reaches a target error: an exact search over
// per-step degree sequences.
//
// For a fixed sequence of degrees the greedy minimax chain is the optimal
// composition (Amsel et al. 2025, Theorem 4.1), and design_schedule builds
// it with the cushion and safety factor asked for.  The schedules to choose
// from are therefore one per degree sequence of at most max_steps steps, and
// the search finds the cheapest of them whose certified error is at most the
// target, by cost as the caller counts it (the CLI counts matrix-multiply
// FLOPs through the runtime, standard or Gram form).
//
// The search is A* over the tree of degree prefixes, each prefix one greedy
// link (one Remez solve, memoised: a prefix shared by many sequences is
// solved once).  Its queue holds complete schedules keyed by their exact
// cost and, per prefix, "its extensions" keyed by a lower bound on all their
// costs: what the prefix costs plus the least a chain of further steps can
// cost and still reach the target from the prefix's interval (ReachBound).
// An entry is taken off only when nothing left is cheaper, so the first
// schedule taken off that meets the target is the cheapest (ties: the
// smaller certified error, then fewer steps, then the lexicographically
// smaller sequence).  A prefix is dropped only when ReachBound certifies
// that no extension within the remaining steps meets the target, so the
// result equals exhaustive enumeration.
#include "polar_express/solver/schedule.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <vector>

namespace polar_express {

// The caller's cost model.  The functions see a schedule's polynomials as
// they run: every step but the last safety-scaled.  Contract: a schedule s
// that runs `prefix` (all scaled) and then r >= 1 more steps of degrees
// e_1 .. e_r costs of_schedule(s) >= of_prefix(prefix) + sum step_floor(e_i).
struct PlanCost {
  std::function<double(const std::vector<OddPolynomial>& steps)> of_schedule;
  std::function<double(const std::vector<OddPolynomial>& prefix)> of_prefix;
  std::function<double(int degree)> step_floor;
};

struct PlanSearchOptions {
  // degrees: the allowed per-step degrees; target_error: required; steps:
  // unset.  Cushion, safety and mode as design_schedule takes them.
  DesignOptions design;
  int max_steps = 8;
  // Greedy links (Remez solves) the search may build before it gives up.
  std::size_t max_links = 20000;
  // When set, a schedule's certified error is this function of its steps
  // (as they run: every step but the last safety-scaled) instead of the
  // exact-arithmetic one: e.g. the final error under the rounding model of
  // rounding.hpp.  It must be at least the exact-arithmetic error over
  // [lower, upper], so that the search's lower bounds stay lower bounds.
  std::function<Real(const std::vector<ScheduleStep>& steps)> certified_error;
};

struct PlanStatistics {
  std::size_t links = 0;         // greedy links built: prefixes of the tree
  std::size_t candidates = 0;    // complete schedules whose error was certified
  std::size_t expansions = 0;    // prefixes extended by every allowed degree
  std::size_t pruned = 0;        // prefixes certified unable to reach the target in the steps left
  std::size_t bound_solves = 0;  // Remez solves of the ReachBound
};

struct PlannedSchedule {
  std::vector<int> degrees;  // one per step
  double cost = 0;
  // design_schedule of `degrees` (steps = degrees.size()), certified: its
  // final_error is at most the target.
  Schedule schedule;
  PlanStatistics statistics;
};

// Throws std::invalid_argument for bad options and SolverError when no
// sequence of at most max_steps allowed degrees reaches the target (saying
// the best certified error found, or the certificate that rules all out) or
// when the search exceeds max_links.
PlannedSchedule plan_schedule(const PlanSearchOptions& options, const PlanCost& cost);

// Lower bounds on what it takes to bring an interval [a, b] (0 < a < b) to
// within `target` of 1 by composing odd polynomials of the given degrees:
// the fewest steps, and the least total of per-degree step costs.
//
// By Theorem 4.1 of Amsel et al., for a degree sequence the best
// composition is the greedy one, whose error follows
//   E_t = E*_d(rho_t),  rho_{t+1} = (1 - E_t) / (1 + E_t),  rho_1 = a / b,
// with E*_d(rho) the minimax error of degree d on [rho, 1], which falls as
// rho rises; the sequence reaches the target when the last rho_{t+1} is at
// least rho* = (1 - target) / (1 + target).  The bound runs this as a
// shortest-path recursion over ratios rounded up to a grid (uniform in
// log(rho / (1 - rho)), step kGridStep), with each E*_d bounded below by the
// smallest |1 - p(x_i)| at the alternation points of a Remez reference (de
// la Vallee Poussin; discounted by a relative 2^-32 for rounding): rounding
// ratios up and errors down only ever shortens the path, so the results are
// lower bounds for any composition, whatever cushion or safety factor its
// steps carry.  Memoised on the grid; not thread-safe.
class ReachBound {
 public:
  static constexpr double kGridStep = 0.05;

  ReachBound(std::vector<int> degrees, std::vector<double> step_costs, const Real& target);

  // At least this many steps are needed from an interval of ratio a / b
  // (0 for a ratio at or above rho*; a range reaching 0, which every odd
  // polynomial keeps at 0, can never reach a target below 1: INT_MAX).
  int fewest_steps(const Interval& range);
  // At least this much cost (sum of the degrees' step costs) is needed.
  double least_cost(const Interval& range);

  std::size_t remez_solves() const { return remez_solves_; }

 private:
  struct Entry {
    int steps;
    double cost;
  };
  long grid_index(const Real& ratio) const;  // the smallest grid point at or above ratio
  Real grid_ratio(long index) const;
  const Entry& at(long index);
  Entry from(const Interval& range);

  std::vector<int> degrees_;
  std::vector<double> step_costs_;
  Real target_ratio_;
  long target_index_ = 0;
  std::map<long, Entry> memo_;
  std::size_t remez_solves_ = 0;
};

}  // namespace polar_express
