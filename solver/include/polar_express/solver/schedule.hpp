#pragma once
// Schedules: chains of odd polynomials, designed greedily (Polar Express) or
// taken from a published list, with the certified error after every step.
#include "polar_express/solver/polynomial.hpp"

#include <optional>
#include <string>
#include <vector>

namespace polar_express {

enum class SafetyMode {
  kInLoop,   // scale inside the greedy loop: the next l comes from the scaled step
  kPostHoc,  // design the chain without it, then scale (the paper's Algorithm 1)
};

// "inloop" / "posthoc"; parse throws std::invalid_argument on anything else.
std::string to_string(SafetyMode mode);
SafetyMode parse_safety_mode(const std::string& text);

struct DesignOptions {
  std::vector<int> degrees{5};     // one per step, the last repeated
  Real lower;                      // of the input singular values
  Real upper = 1;
  std::optional<int> steps;        // exactly one of steps / target_error
  std::optional<Real> target_error;
  Real cushion = 0;                // in [0, 1)
  Real safety = 0;                 // >= 0
  SafetyMode safety_mode = SafetyMode::kInLoop;
  unsigned precision_bits = 256;
  // The decimal text the user gave, kept for the schedule's metadata.
  std::string lower_text, upper_text, cushion_text, safety_text;
};

// Throws std::invalid_argument, with a message naming the bad value.
void validate(const DesignOptions& options);

struct ScheduleStep {
  OddPolynomial polynomial;  // coefficients rounded to the schedule's precision
  Interval interval;         // the image of the input interval before this step
  Real error_after;          // certified max |1 - f_t(x)| over the input interval
  bool osculating = false;   // interval narrower than the precision: the limit polynomial
  int degree() const { return polynomial.degree(); }
};

// How the input is scaled before the first step: X / (factor ||X||_F + eps).
struct Normalization {
  double factor = 1.0;
  double eps = 0.0;
  std::string text;  // as its source prints it
};

enum class AfterList { kRepeatLast, kCycle };

struct Schedule {
  std::string name;
  std::string source;
  std::optional<DesignOptions> design;  // present when this tool designed it
  Normalization normalization;
  AfterList after_list = AfterList::kRepeatLast;
  unsigned precision_bits = 256;
  Interval input;                      // the interval the errors are certified on
  std::vector<ScheduleStep> steps;
  Real final_error;
};

// One link of the greedy chain, from the design interval [lower, upper] of
// a step: the minimax step of `degree` there (cushioned and recentred),
// coefficients rounded to options.precision_bits; the same step
// safety-scaled, p(x / (1 + safety)), which every step of a schedule but its
// last uses; and the design interval of the next step, [l', max(2 - l', top)]
// with [l', top] the image of [lower, upper] under the scaled step (inloop)
// or the raw one (posthoc).  design_schedule is a chain of these links, so a
// search over degree sequences that extends prefixes link by link builds
// exactly the schedules design_schedule returns.  Computed at
// certification_bits(options.precision_bits).
struct GreedyLink {
  ScheduleStep raw;
  ScheduleStep safe;
  Real next_lower;
  Real next_upper;
};
GreedyLink greedy_link(int degree, const Real& lower, const Real& upper, const DesignOptions& options);

// How a designed schedule's input is scaled: the published conventions of
// the two modes (posthoc: the paper's X / (1.01 ||X||_F + 1e-7); inloop:
// nanochat's X / (1.02 ||X||_F + 1e-6)), the factor following the safety
// margin when there is one.
Normalization design_normalization(const DesignOptions& options);

// The greedy Polar Express chain for `options` (validated first).  Each step
// is the minimax polynomial of its degree on the current interval (cushioned
// and recentred, safety-scaled per the mode); coefficients are rounded to
// options.precision_bits and the chain continues from the rounded step, so
// the reported errors certify exactly the returned polynomials.
// Throws SolverError when a step cannot be certified or the target error is
// not reached within kMaxDesignSteps.
Schedule design_schedule(const DesignOptions& options);
inline constexpr int kMaxDesignSteps = 64;

// The working precision of certification: errors down to 2^-precision_bits
// keep 64 or more correct bits.
unsigned certification_bits(unsigned precision_bits);

// The images of `input` through the chain and the certified error after
// each step, at `precision_bits` (computed at certification_bits()).
void certify(std::vector<ScheduleStep>& steps, const Interval& input, unsigned precision_bits);

}  // namespace polar_express
