#pragma once
// Rigorous ranges of a polynomial g(y) = g_0 + g_1 y + ... with rational
// coefficients over intervals of y >= 0, and bounds on how far g of a
// matrix moves when the matrix does (internal to the solver; the rounding
// model of rounding.hpp evaluates h(A) = c0 + c1 A + ... and its Horner
// partial sums over the spectrum of A = X X^T this way).
#include "polar_express/solver/polynomial.hpp"
#include "polar_express/solver/rational.hpp"

#include <vector>

namespace polar_express::detail {

class PolynomialRange {
 public:
  // The roots y >= 0 of g' are isolated once, exactly (real_roots.hpp), at
  // `working_bits`.
  PolynomialRange(std::vector<Rational> coefficients, unsigned working_bits);

  const std::vector<Rational>& coefficients() const { return coefficients_; }

  // Encloses { g(y) : y in domain } for finite 0 <= domain.lower <=
  // domain.upper: g at both ends and over every critical bracket that meets
  // the domain, outward.
  Interval range(const Interval& domain) const;

  // An upper bound of ||g(A + E) - g(A)||_2 over every symmetric k x k A
  // with spectrum in [center - radius, center + radius] and every E (any
  // k x k matrix) with ||E||_2 <= error: with g's Taylor coefficients d_i
  // at the center, g(A + E) - g(A) = sum_i d_i ((N + E)^i - N^i) for
  // N = A - center I, and ||(N + E)^i - N^i|| <= (radius + error)^i - radius^i.
  Real perturbation(const Real& center, const Real& radius, const Real& error) const;

 private:
  std::vector<Rational> coefficients_;
  unsigned working_bits_;
  std::vector<Interval> enclosed_, derivative_;
  std::vector<Interval> critical_;  // brackets of the roots y >= 0 of g'
};

}  // namespace polar_express::detail
