#include "polar_express/solver/rounding_design.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace polar_express {
namespace {

// Safety factors beyond this are not searched: a step scaled by 1 + s
// reaches its interval's bottom (1 + s) times later, and past s = 1 the
// design would rather need another form or element type.
constexpr double kLargestSafety = 1;
// The safety factor is the requirement plus this relative margin, so that
// the requirement of the design it produces (which moves little with s)
// falls below it.
constexpr double kSafetyMargin = 0.05;
constexpr int kSafetyIterations = 12;
// Where the search starts doubling when s = 0 leaves the chain lost.
constexpr double kFirstSafety = 0.01;
// The search certifies at this schedule precision (the bounds hold at any);
// the chosen design is certified again at the schedule's own.
constexpr unsigned kSearchBits = kMinPrecisionBits;


// The requirement the certificate sets on the safety factor: before each
// scaled step t (every step but the last) the singular values reach hi_t
// under the model, and the step tolerates up to (1 + s) times the top of its
// design interval, at least max(u_t, 2 - l_t) for the exact interval
// [l_t, u_t] it maps (the first step: the design's upper bound).
Real required_safety(const Schedule& schedule, const RoundingCertificate& cert, const Real& upper) {
  Real need = 0;
  for (std::size_t t = 0; t + 1 < schedule.steps.size(); ++t) {
    const Real& reached = t == 0 ? cert.normalised.upper : cert.steps[t - 1].interval.upper;
    const Interval& exact = schedule.steps[t].interval;
    Real top = t == 0 ? upper : std::max(exact.upper, Real(2 - exact.lower));
    if (!(top > 0)) continue;
    const Real excess = reached / top - 1;
    if (excess > need) need = excess;
  }
  return need;
}

struct Attempt {
  Schedule schedule;
  RoundingCertificate certificate;
  Real safety;
  bool settled = false;  // the safety factor meets its own requirement and nothing blows up
};

RoundingCertificate certify(const Schedule& s, const RoundingOptions& rounding, unsigned bits) {
  return certify_rounding(s.steps, s.normalization, s.input, rounding, bits);
}

Attempt attempt(const PrecisionDesignOptions& options, const Real& cushion, int steps) {
  DesignOptions d = options.design;
  d.cushion = cushion;
  d.cushion_text = to_decimal(cushion, 17);
  d.steps = steps;
  d.target_error.reset();
  d.precision_bits = kSearchBits;
  RoundingOptions rounding = options.rounding;
  rounding.band = false;
  Attempt a;
  Real safety = 0;
  for (int i = 0; i < kSafetyIterations; ++i) {
    d.safety = safety;
    d.safety_text = to_decimal(safety, 17);
    a.schedule = design_schedule(d);
    a.certificate = certify(a.schedule, rounding, kSearchBits);
    a.safety = safety;
    const Real need = required_safety(a.schedule, a.certificate, d.upper);
    if (need <= safety && !a.certificate.blow_up_step) {
      a.settled = true;
      break;
    }
    // A requirement out of range (the chain lost under the model) or one
    // met while the chain still blows up: double the factor instead.
    const bool usable = need < kLargestSafety && need > safety;
    Real next = usable ? Real(need * (1 + kSafetyMargin)) : Real(safety > 0 ? Real(2 * safety) : Real(kFirstSafety));
    if (!(next < kLargestSafety)) break;
    safety = std::move(next);
  }
  return a;
}

// A final error smaller by less than this relative amount does not make a
// candidate better (the smaller cushion, tried first, is kept).
constexpr double kDistinctError = 1e-3;

bool better(const Attempt& a, const Attempt& b) {
  if (a.settled != b.settled) return a.settled;
  return a.certificate.final_error < b.certificate.final_error * (1 - kDistinctError);
}

}  // namespace

const std::vector<double>& precision_design_cushions() {
  static const std::vector<double> cushions{0, 0.02, 0.05, 0.1};
  return cushions;
}

PrecisionDesign design_for_precision(const PrecisionDesignOptions& options) {
  validate(options.design);
  validate(options.rounding);
  if (options.design.safety != 0) {
    throw std::invalid_argument("the precision design chooses the safety factor; give none");
  }
  std::vector<Real> cushions;
  if (options.cushion_fixed) {
    cushions.push_back(options.design.cushion);
  } else {
    for (double c : precision_design_cushions()) cushions.push_back(Real(c));
  }
  // The step counts to try: the requested one, or from the exact design's
  // count for the target error onwards.
  std::vector<int> step_counts;
  if (options.design.steps) {
    step_counts.push_back(*options.design.steps);
  } else {
    if (!options.design.target_error) throw std::invalid_argument("the design needs steps or a target error");
    DesignOptions exact = options.design;
    exact.precision_bits = kSearchBits;
    const int fewest = static_cast<int>(design_schedule(exact).steps.size());
    for (int t = fewest; t <= kMaxDesignSteps && t < fewest + 8; ++t) step_counts.push_back(t);
  }

  PrecisionDesign result;
  std::optional<Attempt> best;
  for (int steps : step_counts) {
    for (const Real& cushion : cushions) {
      Attempt a = attempt(options, cushion, steps);
      result.candidates.push_back({cushion, a.safety, a.certificate.final_error, steps,
                                   a.certificate.blow_up_step.has_value()});
      if (!a.settled) continue;
      if (!best || better(a, *best)) best = std::move(a);
    }
    if (best && options.design.target_error && best->certificate.final_error <= *options.design.target_error) break;
    if (options.design.target_error) best.reset();
  }
  if (!best) {
    std::string message = "no cushion in {";
    for (std::size_t i = 0; i < cushions.size(); ++i) message += (i ? ", " : "") + to_decimal(cushions[i], 6);
    message += "} with a safety factor below " + to_decimal(Real(kLargestSafety), 6) + " keeps every singular value in the safe band";
    if (options.design.target_error) message += " and reaches target error " + to_decimal(*options.design.target_error, 6);
    Real closest = -1;
    for (const PrecisionCandidate& c : result.candidates) {
      if (!c.blows_up && (closest < 0 || c.final_error < closest)) closest = c.final_error;
    }
    if (closest >= 0) message += " (the best final error under the model is " + to_decimal(closest, 6) + ")";
    message += " in " + options.rounding.dtype + " on " + std::to_string(options.rounding.rows) + "x" +
               std::to_string(options.rounding.cols);
    throw SolverError(message);
  }
  // The chosen design at the requested precision, certified there.
  DesignOptions chosen = options.design;
  chosen.cushion = best->schedule.design->cushion;
  chosen.cushion_text = best->schedule.design->cushion_text;
  chosen.safety = best->safety;
  chosen.safety_text = best->schedule.design->safety_text;
  chosen.steps = static_cast<int>(best->schedule.steps.size());
  chosen.target_error.reset();
  result.schedule = design_schedule(chosen);
  result.certificate = certify(result.schedule, options.rounding, result.schedule.precision_bits);
  if (result.certificate.blow_up_step) {
    throw SolverError("the chosen design (cushion " + to_decimal(chosen.cushion, 6) + ", safety " + to_decimal(chosen.safety, 6) +
                      ") leaves the safe band at " + std::to_string(result.schedule.precision_bits) +
                      " bits though it kept it in the search");
  }
  return result;
}

}  // namespace polar_express
