#pragma once
// The minimax odd polynomial approximation of 1 on [l, u]:
//   p* = argmin over odd p of degree d of  max_{x in [l, u]} |1 - p(x)|.
#include "polar_express/solver/polynomial.hpp"

#include <vector>

namespace polar_express {

struct RemezResult {
  OddPolynomial polynomial;             // at the working precision
  std::vector<Real> alternation_points; // q + 1 points, l = x_0 < ... < x_q = u
  std::vector<Real> errors;             // 1 - p(x_i), alternating in sign
  Real levelled_error;                  // |E| of the last reference
  Real max_error;                       // max |1 - p| on [l, u] (endpoints and critical points)
  int iterations = 0;
  unsigned working_bits = 0;
};

// Remez exchange for odd degree `degree` >= 3 on 0 < lower < upper.
// The working precision is `precision_bits` plus a margin that grows with the
// digits the monomial basis loses on a narrow interval (~ (2q-1) log2(u/(u-l))),
// so the result carries `precision_bits` correct bits however narrow the
// interval.  Converges when the |error| at the q+1 reference points agree to
// 2^-precision_bits relative and the certified maximum equals them; throws
// SolverError otherwise (never returns an uncertified polynomial).
RemezResult remez(int degree, const Real& lower, const Real& upper, unsigned precision_bits);

// Degree 3 in closed form: p(x) = a x + b x^3 equioscillating at l, sqrt(s/3)
// and u, with s = l^2 + l u + u^2, b = -a / s and
// a = 2 / (l - l^3 / s + (2/3) sqrt(s/3)).  (Derived from p(l) = p(u) and
// p(l) + p(x*) = 2; agrees with Chen & Chow and the Polar Express paper.)
OddPolynomial optimal_cubic(const Real& lower, const Real& upper);

// The limit of the minimax polynomial as [l, u] shrinks to its centre m:
// p(m) = 1 and p^(j)(m) = 0 for j = 1 .. q-1 (for m = 1 and degree 5 this is
// the classical (15x - 10x^3 + 3x^5)/8).
OddPolynomial osculating_polynomial(int degree, const Real& centre);

// Bits the monomial solve of `degree` on [lower, upper] needs to deliver
// `precision_bits` correct bits.
unsigned remez_working_bits(int degree, const Real& lower, const Real& upper, unsigned precision_bits);

}  // namespace polar_express
