#pragma once
// Schedules: chains of odd polynomials, designed greedily (Polar Express) or
// taken from a published list, with the certified error after every step.
#include "polar_express/solver/polynomial.hpp"
#include "polar_express/solver/rational.hpp"
#include "polar_express/runtime/vocabulary.hpp"

#include <limits>
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
  // The exact coefficients when `polynomial` holds only their rounding (a
  // decimal read from a file, a published list scaled by its safety factor);
  // empty when the MPFR coefficients are the step (a design).
  std::vector<Rational> exact_coefficients;
  Interval interval;         // the image of the input interval before this step (best estimate)
  Real error_after;          // max |1 - f_t(x)| over the input interval (best estimate)
  // Rigorous: error_enclosure.lower <= max |1 - f_t(x)| <= error_enclosure.upper.
  Interval error_enclosure;
  bool osculating = false;   // interval narrower than the precision: the limit polynomial
  int degree() const { return polynomial.degree(); }
  // The coefficients the certificates are about: exact_coefficients, else
  // the MPFR ones (dyadic rationals) exactly.
  std::vector<Rational> exact() const;
};

// The normalisations every consumer can hold, the float kernels included:
// the factor a positive normal float, eps in [0, the largest float].
// (The kinds, their parameters and the after-list rule are the shared
// vocabulary, runtime/vocabulary.hpp.)
inline constexpr double kMinNormalizationFactor = std::numeric_limits<float>::min();
inline constexpr double kMaxNormalizationValue = std::numeric_limits<float>::max();

struct Schedule {
  std::string name;
  std::string source;
  std::optional<DesignOptions> design;  // present when this tool designed it
  Normalization normalization;
  std::string normalization_text;  // the normalisation as its source prints it
  AfterList after_list = AfterList::kRepeatLast;
  unsigned precision_bits = 256;
  Interval input;                      // the interval the errors are certified on
  std::vector<ScheduleStep> steps;
  Real final_error;             // the last step's error_after
  Interval final_error_enclosure;  // the last step's error_enclosure
};

// The precision the design of `options` needs at least, whatever it asks
// for: the coefficients, rounded to it, must keep the image of the lower
// bound positive (log2(upper / lower) bits, plus 2q for the size of degree
// 2q-1 coefficients, plus 64).  validate() refuses options that need more
// than kMaxPrecisionBits.
unsigned required_precision_bits(const DesignOptions& options);

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
// margin when there is one; and that normalisation as text.
Normalization design_normalization(const DesignOptions& options);
std::string design_normalization_text(const DesignOptions& options);

// The greedy Polar Express chain for `options` (validated first), at
// max(options.precision_bits, required_precision_bits(options)) bits, which
// the schedule and its design options record.  Each step
// is the minimax polynomial of its degree on the current interval (cushioned
// and recentred, safety-scaled per the mode); coefficients are rounded to
// options.precision_bits and the chain continues from the rounded step, so
// the reported errors certify exactly the returned polynomials.
// Throws SolverError when a step cannot be certified or the target error is
// not reached within kMaxDesignSteps.
Schedule design_schedule(const DesignOptions& options);

// The one check of a schedule that every consumer relies on (the readers
// and the catalogue run it; so do emit and run on what they are given):
// at least one step, no empty step, every coefficient finite, an input
// interval 0 < lower < upper, both finite, and a normalisation inside the
// limits above.  Throws std::invalid_argument naming the schedule and the
// offending field and value.
void validate(const Schedule& schedule);

// Throws std::invalid_argument unless the schedule normalises by
// X / (factor ||X||_F + eps), naming its convention and `consumer` (e.g.
// "the runtime"), which implements only that one.
void require_frobenius_normalization(const Schedule& schedule, const std::string& consumer);
inline constexpr int kMaxDesignSteps = 64;

// The schedule as the runtime holds it in `type`, certified: for kF64 each
// coefficient is the double nearest its exact value (ScheduleStep::exact),
// for kF32 that double's nearest float (the number every float path
// multiplies by).  The steps' coefficients are those numbers exactly, and
// their intervals and errors are certified on the schedule's input interval
// (certify()), final_error set.  Throws std::invalid_argument naming the
// schedule, step and coefficient when one is not finite in `type`, and for
// types other than f64 and f32.
Schedule rounded_to(const Schedule& schedule, ElementType type);

// The working precision of certification: errors down to 2^-precision_bits
// keep 64 or more correct bits.
unsigned certification_bits(unsigned precision_bits);

// The images of `input` through the chain and the error after each step:
// its rigorous enclosure and best estimate (enclosure.hpp), at
// certification_bits(precision_bits).
void certify(std::vector<ScheduleStep>& steps, const Interval& input, unsigned precision_bits);

}  // namespace polar_express
