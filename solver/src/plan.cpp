#include "polar_express/solver/plan.hpp"

#include "polar_express/solver/remez.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <stdexcept>
#include <string>

namespace polar_express {
namespace {

// The bound's Remez solves need few bits: its errors are discounted far
// beyond their rounding.  Ratios are carried at kRatioBits.
constexpr unsigned kBoundBits = kMinPrecisionBits;
constexpr unsigned kRatioBits = 128;
// The grid's ends: ratios below e^-50 count as e^-50 and ratios that round
// to 1 as reached; a target below 2^-100 is bounded as 2^-100 (asking less
// only lowers the bound), so that its ratio stays below 1 at kRatioBits.
constexpr long kBottomIndex = -1000;
constexpr long kTopIndex = 1000000;

std::string shown(const Real& v) { return to_decimal(v, 6); }

std::string sequence_text(const std::vector<int>& degrees) {
  std::string text;
  for (std::size_t i = 0; i < degrees.size(); ++i) {
    if (i) text += ',';
    text += std::to_string(degrees[i]);
  }
  return text;
}

// A prefix of degrees: the greedy link of its last degree and the image of
// the input through its safety-scaled steps (where the next step starts).
struct Node {
  std::size_t parent = 0;
  int depth = 0;
  int degree = 0;
  ScheduleStep raw;
  ScheduleStep safe;
  Real next_lower;
  Real next_upper;
  Interval safe_image;
};

enum class EntryKind { kCandidate, kExtensions };

struct Entry {
  double key;
  EntryKind kind;
  std::size_t node;
};

// Cheapest first; at equal keys complete schedules before extensions, then
// in creation order, so the search is deterministic.
struct Later {
  bool operator()(const Entry& a, const Entry& b) const {
    if (a.key != b.key) return a.key > b.key;
    if (a.kind != b.kind) return a.kind == EntryKind::kExtensions;
    return a.node > b.node;
  }
};

struct Found {
  std::size_t node;
  Real error;
  std::vector<int> degrees;
};

// Whether `a` is preferred to `b` among schedules of equal cost.
bool preferred(const Found& a, const Found& b) {
  if (a.error != b.error) return a.error < b.error;
  if (a.degrees.size() != b.degrees.size()) return a.degrees.size() < b.degrees.size();
  return a.degrees < b.degrees;
}

class Search {
 public:
  Search(const PlanSearchOptions& options, const PlanCost& cost)
      : options_(options), cost_(cost), reach_(options.design.degrees, step_floors(options, cost),
                                              *options.design.target_error) {
    const unsigned work = certification_bits(options.design.precision_bits);
    Node root;
    root.next_lower = at_precision(options.design.lower, work);
    root.next_upper = at_precision(options.design.upper, work);
    root.safe_image = {root.next_lower, root.next_upper};
    nodes_.push_back(std::move(root));
    target_ = at_precision(*options.design.target_error, work);
    cheapest_step_ = *std::min_element(reach_costs_.begin(), reach_costs_.end());
  }

  PlannedSchedule run() {
    const unsigned work = certification_bits(options_.design.precision_bits);
    PrecisionScope scope(work);
    const int fewest = reach_.fewest_steps(nodes_[0].safe_image);
    if (fewest > options_.max_steps) {
      throw SolverError("target error " + shown(target_) + " over [" + shown(nodes_[0].safe_image.lower) + ", " +
                        shown(nodes_[0].safe_image.upper) + "] is out of reach in " +
                        std::to_string(options_.max_steps) + " steps of degrees {" +
                        sequence_text(options_.design.degrees) + "}: even the optimal composition needs at least " +
                        std::to_string(fewest) + " (the greedy recursion, certified)");
    }
    expand(0);
    std::optional<double> best_cost;
    std::optional<Found> best;
    std::optional<Found> closest;  // the smallest error seen, for the failure message
    while (!queue_.empty()) {
      const Entry entry = queue_.top();
      if (best_cost && entry.key > *best_cost) break;
      queue_.pop();
      if (entry.kind == EntryKind::kExtensions) {
        expand(entry.node);
        continue;
      }
      ++statistics_.candidates;
      Found found{entry.node, candidate_error(entry.node), degrees_of(entry.node)};
      if (!closest || found.error < closest->error) closest = found;
      if (found.error > target_) continue;
      best_cost = entry.key;
      if (!best || preferred(found, *best)) best = std::move(found);
    }
    if (!best) {
      std::string message = "no schedule of at most " + std::to_string(options_.max_steps) + " steps of degrees {" +
                            sequence_text(options_.design.degrees) + "} reaches target error " + shown(target_);
      if (closest) {
        message += "; the best certified is " + shown(closest->error) + " (degrees " +
                   sequence_text(closest->degrees) + ")";
      }
      if (statistics_.pruned > 0) {
        message += "; " + std::to_string(statistics_.pruned) + " prefixes were certified unable to reach it";
      }
      throw SolverError(message);
    }
    statistics_.bound_solves = reach_.remez_solves();
    return finish(*best, *best_cost);
  }

 private:
  // The caller's floor per allowed degree, the costs the bound adds up.
  std::vector<double> step_floors(const PlanSearchOptions& options, const PlanCost& cost) {
    for (int degree : options.design.degrees) reach_costs_.push_back(cost.step_floor(degree));
    return reach_costs_;
  }

  std::vector<int> degrees_of(std::size_t node) const {
    std::vector<int> degrees;
    for (std::size_t n = node; n != 0; n = nodes_[n].parent) degrees.push_back(nodes_[n].degree);
    std::reverse(degrees.begin(), degrees.end());
    return degrees;
  }

  // The safety-scaled steps of the prefix ending at `node`.
  std::vector<OddPolynomial> safe_steps(std::size_t node) const {
    std::vector<OddPolynomial> steps;
    for (std::size_t n = node; n != 0; n = nodes_[n].parent) steps.push_back(nodes_[n].safe.polynomial);
    std::reverse(steps.begin(), steps.end());
    return steps;
  }

  // The schedule ending at `node`: its ancestors' scaled steps, its own raw one.
  std::vector<OddPolynomial> candidate_steps(std::size_t node) const {
    std::vector<OddPolynomial> steps = safe_steps(nodes_[node].parent);
    steps.push_back(nodes_[node].raw.polynomial);
    return steps;
  }

  // What certify() computes for the candidate: the image of the input
  // through the scaled prefix (kept by the parent), then the raw last step;
  // or the caller's certified error of those steps.
  Real candidate_error(std::size_t node) const {
    const Node& n = nodes_[node];
    if (options_.certified_error) return options_.certified_error(steps_of(candidate_steps(node)));
    return distance_from_one(image(n.raw.polynomial, nodes_[n.parent].safe_image));
  }

  static std::vector<ScheduleStep> steps_of(const std::vector<OddPolynomial>& polynomials) {
    std::vector<ScheduleStep> steps;
    for (const OddPolynomial& p : polynomials) {
      ScheduleStep step;
      step.polynomial = p;
      steps.push_back(std::move(step));
    }
    return steps;
  }

  // Queues the node's extensions unless none can reach the target in the
  // steps left, keyed by the prefix's cost plus the least the rest can cost.
  void queue_extensions(std::size_t id) {
    const Node& n = nodes_[id];
    if (n.depth >= options_.max_steps) return;
    if (reach_.fewest_steps(n.safe_image) > options_.max_steps - n.depth) {
      ++statistics_.pruned;
      return;
    }
    const double rest = std::max(cheapest_step_, reach_.least_cost(n.safe_image));
    queue_.push({cost_.of_prefix(safe_steps(id)) + rest, EntryKind::kExtensions, id});
  }

  void expand(std::size_t parent) {
    ++statistics_.expansions;
    for (int degree : options_.design.degrees) {
      if (statistics_.links >= options_.max_links) {
        throw SolverError("the plan search built " + std::to_string(statistics_.links) +
                          " greedy links without settling; allow fewer degrees or steps, or a larger target");
      }
      const Node& p = nodes_[parent];
      GreedyLink link = greedy_link(degree, p.next_lower, p.next_upper, options_.design);
      ++statistics_.links;
      Node child;
      child.parent = parent;
      child.depth = p.depth + 1;
      child.degree = degree;
      child.safe_image = image(link.safe.polynomial, p.safe_image);
      child.raw = std::move(link.raw);
      child.safe = std::move(link.safe);
      child.next_lower = std::move(link.next_lower);
      child.next_upper = std::move(link.next_upper);
      nodes_.push_back(std::move(child));
      const std::size_t id = nodes_.size() - 1;
      queue_.push({cost_.of_schedule(candidate_steps(id)), EntryKind::kCandidate, id});
      queue_extensions(id);
    }
  }

  // The chosen sequence through design_schedule, the one path every
  // schedule of this tool takes, certified there.
  PlannedSchedule finish(const Found& best, double cost) {
    PlannedSchedule plan;
    plan.degrees = best.degrees;
    plan.cost = cost;
    plan.statistics = statistics_;
    DesignOptions design = options_.design;
    design.degrees = best.degrees;
    design.steps = static_cast<int>(best.degrees.size());
    design.target_error.reset();
    plan.schedule = design_schedule(design);
    if (options_.certified_error) {
      const Real error = options_.certified_error(plan.schedule.steps);
      if (!(error <= target_)) {
        throw SolverError("the planned schedule (degrees " + sequence_text(best.degrees) + ") certifies at " +
                          shown(error) + ", above target " + shown(target_) + ", though the search found " +
                          shown(best.error));
      }
    } else if (!(plan.schedule.final_error <= target_)) {
      throw SolverError("the planned schedule (degrees " + sequence_text(best.degrees) + ") certifies at " +
                        shown(plan.schedule.final_error) + ", above target " + shown(target_) +
                        ", though the search found " + shown(best.error));
    }
    return plan;
  }

  const PlanSearchOptions& options_;
  const PlanCost& cost_;
  std::vector<double> reach_costs_;
  ReachBound reach_;
  double cheapest_step_ = 0;
  std::vector<Node> nodes_;
  std::priority_queue<Entry, std::vector<Entry>, Later> queue_;
  Real target_;
  PlanStatistics statistics_;
};

// The minimax error of `degree` on [ratio, 1] from below: the smallest
// |1 - p(x_i)| on a Remez reference (de la Vallee Poussin), discounted; 0
// where the solve fails (no claim).
Real minimax_error_floor(int degree, const Real& ratio, std::size_t& solves) {
  const Real discount = 1 - boost::multiprecision::ldexp(Real(1), -32);
  // Degree 3 in closed form: the optimal cubic's error is 1 - p(ratio).
  if (degree == 3) return abs(1 - optimal_cubic(ratio, Real(1))(ratio)) * discount;
  ++solves;
  try {
    const RemezResult r = remez(degree, ratio, Real(1), kBoundBits);
    Real floor = abs(r.errors.front());
    for (const Real& e : r.errors) {
      if (abs(e) < floor) floor = abs(e);
    }
    return floor * discount;
  } catch (const SolverError&) {
    return Real(0);
  }
}

}  // namespace

ReachBound::ReachBound(std::vector<int> degrees, std::vector<double> step_costs, const Real& target)
    : degrees_(std::move(degrees)), step_costs_(std::move(step_costs)) {
  PrecisionScope scope(kRatioBits);
  const Real smallest = boost::multiprecision::ldexp(Real(1), -100);
  const Real t = target < smallest ? smallest : at_precision(target, kRatioBits);
  target_ratio_ = (1 - t) / (1 + t);
  target_index_ = grid_index(target_ratio_);
}

Real ReachBound::grid_ratio(long index) const {
  PrecisionScope scope(kRatioBits);
  return 1 / (1 + exp(Real(-index * kGridStep)));
}

long ReachBound::grid_index(const Real& ratio) const {
  PrecisionScope scope(kRatioBits);
  const Real r = at_precision(ratio, kRatioBits);
  if (!(r < 1)) return kTopIndex;
  // Rounding a tiny ratio up to the grid's bottom only lowers the bound.
  if (!(r > grid_ratio(kBottomIndex))) return kBottomIndex;
  const double logit = static_cast<double>(log(r) - log(1 - r));
  long index = std::min(kTopIndex, static_cast<long>(std::ceil(logit / kGridStep)));
  while (index < kTopIndex && grid_ratio(index) < r) ++index;
  while (index > kBottomIndex && grid_ratio(index - 1) >= r) --index;
  return index;
}

const ReachBound::Entry& ReachBound::at(long index) {
  static const Entry kReached{0, 0.0};
  if (index >= target_index_) return kReached;
  if (const auto found = memo_.find(index); found != memo_.end()) return found->second;
  PrecisionScope scope(kRatioBits);
  const Real ratio = grid_ratio(index);
  Entry best{std::numeric_limits<int>::max(), std::numeric_limits<double>::infinity()};
  for (std::size_t k = 0; k < degrees_.size(); ++k) {
    const Real e = minimax_error_floor(degrees_[k], ratio, remez_solves_);
    // No progress proven: the ratio after the step is at least this one's,
    // and the bound is decreasing in the ratio, so the next grid point bounds it.
    const long next = std::max(index + 1, e > 0 ? grid_index((1 - e) / (1 + e)) : target_index_);
    const Entry& rest = at(next);
    best.steps = std::min(best.steps, 1 + rest.steps);
    best.cost = std::min(best.cost, step_costs_[k] + rest.cost);
  }
  return memo_.emplace(index, best).first->second;
}

ReachBound::Entry ReachBound::from(const Interval& range) {
  if (range.lower <= 0 && range.upper >= 0) {
    return {std::numeric_limits<int>::max(), std::numeric_limits<double>::infinity()};
  }
  if (!(range.lower > 0)) return {1, *std::min_element(step_costs_.begin(), step_costs_.end())};
  PrecisionScope scope(kRatioBits);
  return at(grid_index(range.lower / range.upper));
}

int ReachBound::fewest_steps(const Interval& range) { return from(range).steps; }

double ReachBound::least_cost(const Interval& range) { return from(range).cost; }

PlannedSchedule plan_schedule(const PlanSearchOptions& options, const PlanCost& cost) {
  validate(options.design);
  if (!options.design.target_error) throw std::invalid_argument("the plan needs a target error");
  if (options.max_steps < 1 || options.max_steps > kMaxDesignSteps) {
    throw std::invalid_argument("max steps " + std::to_string(options.max_steps) + " is outside [1, " +
                                std::to_string(kMaxDesignSteps) + "]");
  }
  if (!cost.of_schedule || !cost.of_prefix || !cost.step_floor) {
    throw std::invalid_argument("the plan needs all three cost functions");
  }
  PlanSearchOptions sorted = options;
  // As design_schedule does: enough bits that every allowed degree's rounded
  // coefficients keep the chain's lower end positive.
  sorted.design.precision_bits = std::max(options.design.precision_bits, required_precision_bits(options.design));
  std::sort(sorted.design.degrees.begin(), sorted.design.degrees.end());
  sorted.design.degrees.erase(std::unique(sorted.design.degrees.begin(), sorted.design.degrees.end()),
                              sorted.design.degrees.end());
  return Search(sorted, cost).run();
}

}  // namespace polar_express
