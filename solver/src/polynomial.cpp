#include "polar_express/solver/polynomial.hpp"

#include "bracketed_newton.hpp"

#include <algorithm>
#include <cassert>

namespace polar_express {
namespace {

// A dense polynomial in y, coefficients in increasing power.
using Dense = std::vector<Real>;

// Horner with in-place operations: no MPFR temporaries in the loop.
Real evaluate(const Dense& c, const Real& y) {
  Real result = c.back();
  for (std::size_t k = c.size() - 1; k-- > 0;) {
    result *= y;
    result += c[k];
  }
  return result;
}

Dense differentiate(const Dense& c) {
  Dense result;
  for (std::size_t k = 1; k < c.size(); ++k) result.push_back(c[k] * static_cast<unsigned>(k));
  return result;
}

// Roots of f in (a, b) at which f changes sign, increasing.
std::vector<Real> sign_changing_roots(const Dense& f, const Real& a, const Real& b, const Real& tiny) {
  std::size_t degree = f.size() - 1;
  while (degree > 0 && f[degree] == 0) --degree;
  if (degree == 0) return {};
  const Dense g(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(degree) + 1);
  const Dense dg = differentiate(g);
  // f is monotone between consecutive extrema, so each such piece holds at
  // most one sign change.
  std::vector<Real> breaks{a};
  for (Real& e : sign_changing_roots(dg, a, b, tiny)) breaks.push_back(std::move(e));
  breaks.push_back(b);
  std::vector<Real> roots;
  for (std::size_t i = 0; i + 1 < breaks.size(); ++i) {
    const int s0 = detail::sign(evaluate(g, breaks[i]));
    const int s1 = detail::sign(evaluate(g, breaks[i + 1]));
    if (s0 * s1 < 0) {
      roots.push_back(detail::bracketed_newton([&](const Real& y) { return evaluate(g, y); },
                                               [&](const Real& y) { return evaluate(dg, y); }, breaks[i],
                                               breaks[i + 1], tiny));
    } else if (s0 == 0 && i > 0) {
      // An extremum of f exactly at a root: a sign change iff the neighbours differ.
      const int before = detail::sign(evaluate(g, (breaks[i - 1] + breaks[i]) / 2));
      if (before * s1 < 0) roots.push_back(breaks[i]);
    }
  }
  return roots;
}

}  // namespace

Real OddPolynomial::operator()(const Real& x) const {
  const Real y = x * x;
  Real result = coefficients.back();
  for (std::size_t k = coefficients.size() - 1; k-- > 0;) {
    result *= y;
    result += coefficients[k];
  }
  result *= x;
  return result;
}

Real OddPolynomial::derivative(const Real& x) const {
  const Real y = x * x;
  const std::size_t q = coefficients.size();
  Real result = coefficients[q - 1] * static_cast<unsigned>(2 * q - 1);
  for (std::size_t k = q - 1; k-- > 0;) result = result * y + coefficients[k] * static_cast<unsigned>(2 * k + 1);
  return result;
}

Real OddPolynomial::second_derivative(const Real& x) const {
  // sum (2k+1)(2k) c_k x^(2k-1) = x * sum_{k>=1} (2k+1)(2k) c_k y^(k-1).
  const std::size_t q = coefficients.size();
  if (q < 2) return Real(0);
  const Real y = x * x;
  Real result = coefficients[q - 1] * static_cast<unsigned>((2 * q - 1) * (2 * q - 2));
  for (std::size_t k = q - 1; k-- > 1;) {
    result *= y;
    result += coefficients[k] * static_cast<unsigned>((2 * k + 1) * (2 * k));
  }
  result *= x;
  return result;
}

OddPolynomial OddPolynomial::with_argument_scaled_by(const Real& s) const {
  OddPolynomial result;
  const Real s2 = s * s;
  Real power = s;
  for (const Real& c : coefficients) {
    result.coefficients.push_back(c / power);
    power *= s2;
  }
  return result;
}

OddPolynomial OddPolynomial::scaled(const Real& factor) const {
  OddPolynomial result;
  for (const Real& c : coefficients) result.coefficients.push_back(c * factor);
  return result;
}

std::vector<Real> critical_points(const OddPolynomial& p, const Real& a, const Real& b) {
  assert(a >= 0 && a < b);
  // p'(x) = sum (2k+1) c_k y^k with y = x^2, increasing in x for x > 0.
  Dense derivative_in_y;
  for (std::size_t k = 0; k < p.coefficients.size(); ++k) {
    derivative_in_y.push_back(p.coefficients[k] * static_cast<unsigned>(2 * k + 1));
  }
  // Resolve roots to the precision of the data (a few bits short of it), not
  // to that of the working scope, where Newton would chase rounding noise.
  unsigned data_bits = std::min(precision_bits(a), precision_bits(b));
  for (const Real& c : p.coefficients) data_bits = std::min(data_bits, precision_bits(c));
  data_bits = std::min(data_bits, precision_bits(Real(0)));
  const Real tiny = boost::multiprecision::ldexp(Real(1), 8 - static_cast<int>(data_bits));
  std::vector<Real> points;
  for (const Real& y : sign_changing_roots(derivative_in_y, a * a, b * b, tiny)) {
    Real x = sqrt(y);
    if (x > a && x < b) points.push_back(std::move(x));
  }
  return points;
}

Interval image(const OddPolynomial& p, const Interval& domain) {
  if (domain.upper <= 0) {  // p is odd: p([a, b]) = -p([-b, -a])
    const Interval mirrored = image(p, {Real(-domain.upper), Real(-domain.lower)});
    return {Real(-mirrored.upper), Real(-mirrored.lower)};
  }
  if (domain.lower < 0) {
    const Interval left = image(p, {domain.lower, Real(0)});
    const Interval right = image(p, {Real(0), domain.upper});
    return {left.lower < right.lower ? left.lower : right.lower,
            left.upper > right.upper ? left.upper : right.upper};
  }
  Real lo = p(domain.lower);
  Real hi = lo;
  auto include = [&](const Real& x) {
    const Real v = p(x);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  };
  include(domain.upper);
  if (domain.lower < domain.upper) {
    for (const Real& x : critical_points(p, domain.lower, domain.upper)) include(x);
  }
  return {lo, hi};
}

Real distance_from_one(const Interval& range) {
  const Real below = 1 - range.lower;
  const Real above = range.upper - 1;
  return below > above ? below : above;
}

}  // namespace polar_express
