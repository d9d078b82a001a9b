#pragma once
// Rigorous enclosures: bounds that are proofs rather than estimates, for the
// image of an interval under each step of a schedule and for the worst-case
// error max |1 - f_t(x)| after it.
//
// A step's coefficients are exact rationals.  The real roots of p' (a
// polynomial in y = x^2) are isolated exactly, by Descartes' rule of signs in
// GMP integers, and refined with brackets checked by exact signs; p is then
// evaluated over the endpoints and over each root's bracket in interval
// arithmetic with outward rounding (MPFR RNDD/RNDU).  The value set of f_t
// over the input is an interval [min, max]; it is carried from step to step
// as enclosures of min - 1 and max - 1, so that its accuracy is relative to
// the error as the chain converges to 1 (the paper's list reaches 1e-131
// after 10 steps), not to 1 itself.
#include "polar_express/solver/schedule.hpp"

#include <memory>
#include <vector>

namespace polar_express {

// One root x >= 0 of p', alone in its bracket.
struct CriticalBracket {
  Interval x;                // x.lower <= root <= x.upper; equal when the root is a dyadic met exactly
  bool sign_change = false;  // p' changes sign there: a local extremum of p
};

// The value set [min, max] of a continuous map over an interval, known
// through enclosures of min - 1 and max - 1.  Besides bounding the set,
// each end is *attained*: min itself lies in `low` + 1, so
// `low.upper` bounds an attained value from above.
struct RangeEnclosure {
  Interval low;   // contains min - 1
  Interval high;  // contains max - 1
};

// An odd polynomial with exact rational coefficients (of x, x^3, ...),
// prepared for enclosures at `working_bits`: the roots of p' isolated once.
class RigorousPolynomial {
 public:
  RigorousPolynomial(std::vector<Rational> coefficients, unsigned working_bits);

  const std::vector<Rational>& coefficients() const { return coefficients_; }
  unsigned working_bits() const { return working_bits_; }

  // Every distinct root of p' with x >= 0, increasing (p' is even, so the
  // roots with x < 0 are their mirror images).  Each bracket is at most
  // 2^-(working_bits/2 + 16) relative wide.
  const std::vector<CriticalBracket>& critical_points() const { return critical_points_; }

  // Encloses { p(1 + d) - 1 : d in deviation }.
  Interval deviation_image(const Interval& deviation) const;

  // Encloses the value set of p over the value set `domain`: the outer ends
  // from the minimum and maximum of p over [1 + low.lower, 1 + high.upper]
  // (its ends and the critical brackets inside), the inner ends from values
  // p certainly attains: at the domain's own min and max, and at critical
  // points certainly between them.
  RangeEnclosure image(const RangeEnclosure& domain) const;

 private:
  std::vector<Rational> coefficients_;
  unsigned working_bits_;
  std::vector<CriticalBracket> critical_points_;
  // Outward enclosures of the coefficients of p(x) and p'(x) in x, and of
  // q(d) = p(1 + d) - 1 and q'(d) in d = x - 1 (exact Taylor shift).
  std::vector<Interval> odd_, odd_derivative_, shifted_, shifted_derivative_;
  // The critical brackets as deviations x - 1, for x >= 0 and x <= 0, and
  // the enclosures of p - 1 over them.
  std::vector<Interval> critical_deviations_;
  std::vector<Interval> critical_values_;
};

// The value set of the identity on [l, u] with each end known only to
// within one unit in its last place (at its own MPFR precision): so a
// certificate on this range holds for the decimal interval the user wrote,
// whose correct rounding gave l and u.
RangeEnclosure input_range(const Interval& input, unsigned working_bits);

// Encloses max |1 - y| over the value set: [max(0, -low.upper, high.lower),
// max(-low.lower, high.upper)], ends rounded outward.  The lower end is
// attained: it is |1 - y| at the value set's min or max.
Interval error_enclosure(const RangeEnclosure& range);

// The steps of a schedule prepared for rigorous enclosures at
// certification_bits(precision_bits); equal polynomials are prepared once.
class RigorousChain {
 public:
  RigorousChain(const std::vector<ScheduleStep>& steps, unsigned precision_bits);

  unsigned working_bits() const { return working_bits_; }

  // ranges[t]: the value set of f_{t+1} = p_{t+1} o ... o p_1 over `input`.
  std::vector<RangeEnclosure> ranges(const Interval& input) const;

 private:
  unsigned working_bits_;
  std::vector<std::shared_ptr<const RigorousPolynomial>> steps_;
};

// Each step's interval (best estimate of the value set it maps),
// error_enclosure and error_after (the enclosure's midpoint) from `ranges`.
void record_enclosures(std::vector<ScheduleStep>& steps, const Interval& input, const std::vector<RangeEnclosure>& ranges,
                       unsigned working_bits);

}  // namespace polar_express
