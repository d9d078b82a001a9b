#pragma once
// Odd polynomials p(x) = c0 x + c1 x^3 + ... + c_{q-1} x^{2q-1}, their
// critical points and the exact image of an interval under them.
#include "polar_express/solver/real.hpp"

#include <vector>

namespace polar_express {

struct OddPolynomial {
  // Coefficients of x, x^3, x^5, ... (increasing power).
  std::vector<Real> coefficients;

  // 2q - 1 for q coefficients.
  int degree() const { return 2 * static_cast<int>(coefficients.size()) - 1; }

  Real operator()(const Real& x) const;
  Real derivative(const Real& x) const;
  Real second_derivative(const Real& x) const;

  // p(x / s): coefficient k divided by s^(2k+1) (the safety factor).
  OddPolynomial with_argument_scaled_by(const Real& s) const;
  // factor * p(x).
  OddPolynomial scaled(const Real& factor) const;
};

// A closed interval [lower, upper].
struct Interval {
  Real lower;
  Real upper;
};

// Points of (a, b), increasing, where p' changes sign: the interior local
// extrema of p.  Found by isolating the real roots of p' as a polynomial in
// y = x^2 through its derivative cascade (each root of a polynomial lies
// between consecutive roots of its derivative, where it is monotone) and
// refining each with safeguarded Newton; no sampling.  Requires 0 <= a < b.
std::vector<Real> critical_points(const OddPolynomial& p, const Real& a, const Real& b);

// { p(x) : x in [a, b] } for any a <= b: the min and max of p over the
// endpoints and the critical points inside.
Interval image(const OddPolynomial& p, const Interval& domain);

// max |1 - y| over y in `range`.
Real distance_from_one(const Interval& range);

}  // namespace polar_express
