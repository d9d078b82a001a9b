#include "polar_express/solver/schedule.hpp"

#include "polar_express/solver/enclosure.hpp"
#include "polar_express/solver/remez.hpp"

#include "polar_express/solver/work.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace polar_express {
namespace {

OddPolynomial rounded(const OddPolynomial& p, unsigned bits) {
  OddPolynomial result;
  for (const Real& c : p.coefficients) result.coefficients.push_back(at_precision(c, bits));
  return result;
}

std::string text_of(const Real& v) { return to_decimal(v, 17); }

int degree_at(const std::vector<int>& degrees, std::size_t step) {
  return degrees[std::min(step, degrees.size() - 1)];
}

// One greedy step on [l, u] before any safety scaling: the minimax polynomial
// on the cushioned interval, recentred so that the image of [l, u] is
// symmetric about 1 (for degree 5 the recentring factor is the paper's
// 2 / (p(l) + p(u))).  When even the limit polynomial is already within
// 2^-precision of 1 on [l, u], no minimax refinement is representable in the
// output precision: the limit polynomial is the step.
ScheduleStep greedy_step(int degree, const Real& l, const Real& u, const DesignOptions& options) {
  const unsigned bits = options.precision_bits;
  const Real cushioned = options.cushion * u;
  const Real lo = l > cushioned ? l : cushioned;
  ScheduleStep step;
  const Real resolution = boost::multiprecision::ldexp(Real(1), -static_cast<int>(bits));
  OddPolynomial limit = osculating_polynomial(degree, (lo + u) / 2);
  // The limit's derivative is c (x^2 - m^2)^(q-1): it is monotone on x > 0,
  // so its image of [lo, u] is [limit(lo), limit(u)].
  if (distance_from_one({limit(lo), limit(u)}) < resolution) {
    step.polynomial = std::move(limit);
    step.osculating = true;
  } else if (degree == 3) {
    step.polynomial = optimal_cubic(lo, u);
  } else {
    step.polynomial = remez(degree, lo, u, bits).polynomial;
  }
  if (lo > l) {
    const Interval range = image(step.polynomial, {l, u});
    step.polynomial = step.polynomial.scaled(2 / (range.lower + range.upper));
  }
  return step;
}

void apply_safety(ScheduleStep& step, const Real& safety, unsigned bits) {
  step.polynomial = rounded(step.polynomial.with_argument_scaled_by(1 + safety), bits);
}

}  // namespace

GreedyLink greedy_link(int degree, const Real& lower, const Real& upper, const DesignOptions& options) {
  PrecisionScope scope(certification_bits(options.precision_bits));
  GreedyLink link;
  link.raw = greedy_step(degree, lower, upper, options);
  link.raw.polynomial = rounded(link.raw.polynomial, options.precision_bits);
  link.safe = link.raw;
  if (options.safety > 0) apply_safety(link.safe, options.safety, options.precision_bits);
  const bool in_loop = options.safety_mode == SafetyMode::kInLoop;
  const Interval range = image(in_loop ? link.safe.polynomial : link.raw.polynomial, {lower, upper});
  link.next_lower = range.lower;
  link.next_upper = 2 - link.next_lower;
  if (range.upper > link.next_upper) link.next_upper = range.upper;
  return link;
}

Normalization design_normalization(const DesignOptions& options) {
  const bool in_loop = options.safety_mode == SafetyMode::kInLoop;
  const double safety = static_cast<double>(options.safety);
  Normalization n;
  n.factor = safety > 0 ? 1 + safety : 1.01;
  n.eps = in_loop ? 1e-6 : 1e-7;
  return n;
}

std::string design_normalization_text(const DesignOptions& options) {
  const bool in_loop = options.safety_mode == SafetyMode::kInLoop;
  return "X / (" + to_decimal(Real(design_normalization(options).factor), 17) + " * ||X||_F + " +
         (in_loop ? "1e-6" : "1e-7") + ")";
}

unsigned certification_bits(unsigned precision_bits) { return 2 * precision_bits + 64; }

std::string to_string(SafetyMode mode) { return mode == SafetyMode::kInLoop ? "inloop" : "posthoc"; }

SafetyMode parse_safety_mode(const std::string& text) {
  if (text == "inloop") return SafetyMode::kInLoop;
  if (text == "posthoc") return SafetyMode::kPostHoc;
  throw std::invalid_argument("unknown safety mode '" + text + "' (expected inloop or posthoc)");
}

void validate(const DesignOptions& o) {
  if (o.degrees.empty()) throw std::invalid_argument("no degree given");
  for (int d : o.degrees) {
    if (d < 3 || d % 2 == 0 || d > 255) {
      throw std::invalid_argument("degree " + std::to_string(d) + " is not an odd integer in [3, 255]");
    }
  }
  if (o.precision_bits < kMinPrecisionBits || o.precision_bits > kMaxPrecisionBits) {
    throw std::invalid_argument("precision " + std::to_string(o.precision_bits) + " bits is outside [" +
                                std::to_string(kMinPrecisionBits) + ", " + std::to_string(kMaxPrecisionBits) + "]");
  }
  auto finite = [](const Real& v) { return boost::multiprecision::isfinite(v); };
  if (!finite(o.lower) || o.lower <= 0) throw std::invalid_argument("lower bound " + text_of(o.lower) + " is not a positive finite number");
  if (!finite(o.upper) || o.upper <= o.lower) {
    throw std::invalid_argument("upper bound " + text_of(o.upper) + " is not a finite number above the lower bound " + text_of(o.lower));
  }
  if (!finite(o.cushion) || o.cushion < 0 || o.cushion >= 1) throw std::invalid_argument("cushion " + text_of(o.cushion) + " is outside [0, 1)");
  if (!finite(o.safety) || o.safety < 0) throw std::invalid_argument("safety " + text_of(o.safety) + " is not a finite number >= 0");
  if (const unsigned needed = required_precision_bits(o); needed > kMaxPrecisionBits) {
    throw std::invalid_argument("lower bound " + text_of(o.lower) + " needs " + std::to_string(needed) +
                                " bits of precision, above the limit of " + std::to_string(kMaxPrecisionBits));
  }
  if (o.steps.has_value() == o.target_error.has_value()) throw std::invalid_argument("give exactly one of --steps and --target-error");
  if (o.steps && (*o.steps <= 0 || *o.steps > kMaxDesignSteps)) {
    throw std::invalid_argument("steps " + std::to_string(*o.steps) + " is outside [1, " + std::to_string(kMaxDesignSteps) + "]");
  }
  if (o.target_error && !(finite(*o.target_error) && *o.target_error > 0 && *o.target_error < 1)) {
    throw std::invalid_argument("target error " + text_of(*o.target_error) + " is outside (0, 1)");
  }
}

std::vector<Rational> ScheduleStep::exact() const {
  if (!exact_coefficients.empty()) return exact_coefficients;
  std::vector<Rational> result;
  for (const Real& c : polynomial.coefficients) result.push_back(exact_rational(c));
  return result;
}

void validate(const Schedule& s) {
  const std::string who = "schedule '" + s.name + "'";
  if (s.steps.empty()) throw std::invalid_argument(who + " has no steps");
  for (std::size_t t = 0; t < s.steps.size(); ++t) {
    const std::vector<Real>& c = s.steps[t].polynomial.coefficients;
    const std::string step = who + " step " + std::to_string(t + 1);
    if (c.empty()) throw std::invalid_argument(step + " has no coefficients");
    for (std::size_t k = 0; k < c.size(); ++k) {
      if (!boost::multiprecision::isfinite(c[k])) {
        throw std::invalid_argument(step + " coefficient " + std::to_string(k + 1) + " is " + text_of(c[k]));
      }
    }
  }
  const Interval& in = s.input;
  if (!boost::multiprecision::isfinite(in.lower) || !(in.lower > 0)) {
    throw std::invalid_argument(who + " input lower bound " + text_of(in.lower) + " is not a positive finite number");
  }
  if (!boost::multiprecision::isfinite(in.upper) || !(in.upper > in.lower)) {
    throw std::invalid_argument(who + " input upper bound " + text_of(in.upper) +
                                " is not a finite number above the lower bound " + text_of(in.lower));
  }
  const Normalization& n = s.normalization;
  if (!(n.factor >= kMinNormalizationFactor && n.factor <= kMaxNormalizationValue)) {
    throw std::invalid_argument(who + " normalization factor " + text_of(Real(n.factor)) + " is outside [" +
                                text_of(Real(kMinNormalizationFactor)) + ", " + text_of(Real(kMaxNormalizationValue)) +
                                "] (a positive normal float)");
  }
  if (!(n.eps >= 0 && n.eps <= kMaxNormalizationValue)) {
    throw std::invalid_argument(who + " normalization eps " + text_of(Real(n.eps)) + " is outside [0, " +
                                text_of(Real(kMaxNormalizationValue)) + "]");
  }
}

void require_frobenius_normalization(const Schedule& s, const std::string& consumer) {
  if (s.normalization.kind != NormalizationKind::kFrobenius) {
    throw std::invalid_argument("schedule '" + s.name + "' normalises by '" + s.normalization_text + "', which " +
                                consumer + " does not implement (only X / (factor * ||X||_F + eps))");
  }
}

void certify(std::vector<ScheduleStep>& steps, const Interval& input, unsigned precision_bits) {
  const RigorousChain chain(steps, precision_bits);
  record_enclosures(steps, input, chain.ranges(input), chain.working_bits());
}

unsigned required_precision_bits(const DesignOptions& o) {
  PrecisionScope scope(std::max(precision_bits(o.lower), precision_bits(o.upper)));
  const double range_bits = static_cast<double>(log2(o.upper / o.lower));
  const int widest = *std::max_element(o.degrees.begin(), o.degrees.end());
  // Coefficients of a minimax polynomial of degree 2q-1 on [l, u] reach
  // about 2^(2q) (as Chebyshev polynomials do), and the chain must keep the
  // image of l, about c0 l, positive through their rounding.
  return static_cast<unsigned>(std::ceil(std::max(0.0, range_bits))) + static_cast<unsigned>(widest + 1) + 64;
}

Schedule design_schedule(const DesignOptions& requested) {
  validate(requested);
  DesignOptions options = requested;
  options.precision_bits = std::max(requested.precision_bits, required_precision_bits(requested));
  const unsigned bits = options.precision_bits;
  const unsigned work = certification_bits(bits);
  PrecisionScope scope(work);

  Schedule schedule;
  schedule.name = "polar-express-d";
  for (std::size_t i = 0; i < options.degrees.size(); ++i) {
    schedule.name += (i ? "-" : "") + std::to_string(options.degrees[i]);
  }
  schedule.normalization = design_normalization(options);
  schedule.normalization_text = design_normalization_text(options);
  schedule.source = "designed by polar-express (greedy minimax chain, Amsel et al. 2025)";
  schedule.design = options;
  schedule.precision_bits = bits;
  schedule.input = {at_precision(options.lower, work), at_precision(options.upper, work)};

  // The greedy chain is prefix-stable, so steps are added one at a time.  The
  // safety factor scales every step of a candidate but its last (in both
  // modes, as the paper's list and nanochat's show); in the inloop mode the
  // chain continues from the scaled step, in the posthoc mode from the raw one.
  std::vector<ScheduleStep> raw;
  std::vector<ScheduleStep> safe;
  Real l = schedule.input.lower;
  Real u = schedule.input.upper;
  std::vector<Real> history;
  const int limit = options.steps.value_or(kMaxDesignSteps);
  for (int t = 0; t < limit; ++t) {
    GreedyLink link = greedy_link(degree_at(options.degrees, static_cast<std::size_t>(t)), l, u, options);
    if (!(link.next_lower > 0)) {
      throw SolverError("step " + std::to_string(t + 1) + " maps the interval [" + text_of(l) + ", " + text_of(u) +
                        "] to a lower end of " + text_of(link.next_lower) + ": its coefficients at " +
                        std::to_string(bits) + " bits do not resolve it (raise --precision)");
    }
    l = std::move(link.next_lower);
    u = std::move(link.next_upper);
    raw.push_back(std::move(link.raw));
    safe.push_back(std::move(link.safe));
    work_progress(t + 1, options.steps.value_or(0));
    if (options.steps && t + 1 < *options.steps) continue;

    std::vector<ScheduleStep> candidate(safe.begin(), safe.end() - 1);
    candidate.push_back(raw.back());
    certify(candidate, schedule.input, bits);
    // The target is met when the rigorous upper bound meets it.
    const Real& error = candidate.back().error_enclosure.upper;
    if (options.steps || error <= *options.target_error) {
      schedule.steps = std::move(candidate);
      schedule.final_error = schedule.steps.back().error_after;
      schedule.final_error_enclosure = schedule.steps.back().error_enclosure;
      return schedule;
    }
    // Stop early once the error no longer falls (a safety factor sets a floor).
    history.push_back(error);
    const std::size_t n = history.size();
    if (n >= 4 && !(history[n - 1] < history[n - 4] * Real(0.999))) {
      throw SolverError("the schedule cannot reach target error " + text_of(*options.target_error) +
                        ": its error stalls at " + text_of(error) + " after " + std::to_string(t + 1) + " steps");
    }
  }
  throw SolverError("the schedule does not reach target error " + text_of(*options.target_error) + " within " +
                    std::to_string(kMaxDesignSteps) + " steps");
}

}  // namespace polar_express
