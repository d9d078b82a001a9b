#pragma once
// Exact real-root isolation for integer polynomials (internal to the solver):
// Descartes' rule of signs on bisected intervals (the Vincent-Collins-Akritas
// method) in GMP integers, then refinement by Newton in MPFR whose every
// bracket is checked by exact signs.  Nothing in the isolation depends on a
// rounding.
#include "polar_express/solver/rational.hpp"

#include <vector>

namespace polar_express::detail {

// Coefficients in increasing power; the zero polynomial is empty.
using IntegerPolynomial = std::vector<Integer>;

// The primitive integer polynomial with a positive leading coefficient that
// is a rational multiple of sum c[j] y^j (empty when every c[j] is 0).
IntegerPolynomial primitive_integer_polynomial(const std::vector<Rational>& c);

// p / gcd(p, p'): the same roots, each simple.
IntegerPolynomial squarefree_part(const IntegerPolynomial& p);

// The sign of p(y), exactly, for a finite MPFR value y.
int exact_sign(const IntegerPolynomial& p, const Real& y);

// One distinct real root of p.
struct RootBracket {
  Real lower;  // dyadic ends with lower <= root <= upper; equal when the root is exactly `lower`
  Real upper;
  bool odd_multiplicity = false;  // p changes sign at the root
};

// Every distinct root y >= 0 of p (not the zero polynomial), increasing,
// each in a bracket that holds no other root of p and is at most
// 2^-width_bits * upper wide (a root met exactly has a zero-width bracket).
// Working precision of the Newton steps: the caller's PrecisionScope.
std::vector<RootBracket> nonnegative_roots(const IntegerPolynomial& p, unsigned width_bits);

}  // namespace polar_express::detail
