#include "polar_express/solver/polynomial.hpp"

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

int sign(const Real& v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }

// The root of f in [lo, hi], where f is monotone and f(lo), f(hi) have
// opposite signs.  Newton steps, kept inside the shrinking bracket; a step
// that would leave it, or that fails to halve the step before it, is replaced
// by bisection.  Stops once a Newton step is below `tiny` relative: the
// precision of the data, below which f's values are rounding noise.
Real refine_root(const Dense& f, const Dense& df, Real lo, Real hi, const Real& tiny) {
  const int sign_lo = sign(evaluate(f, lo));
  Real x = (lo + hi) / 2;
  Real previous_step = hi - lo;
  for (int iteration = 0; iteration < 100000; ++iteration) {
    const Real fx = evaluate(f, x);
    const int s = sign(fx);
    if (s == 0) return x;
    if (s == sign_lo) lo = x; else hi = x;
    const Real slope = evaluate(df, x);
    Real step = slope != 0 ? Real(fx / slope) : Real(hi - lo);
    if (abs(step) <= tiny * abs(x)) return x;
    Real next = x - step;
    if (!(next > lo && next < hi) || abs(step) * 2 > abs(previous_step)) {
      next = (lo + hi) / 2;
      step = x - next;
    }
    if (next == x || hi - lo <= tiny * abs(x)) return next;
    previous_step = step;
    x = next;
  }
  return x;
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
    const int s0 = sign(evaluate(g, breaks[i]));
    const int s1 = sign(evaluate(g, breaks[i + 1]));
    if (s0 * s1 < 0) {
      roots.push_back(refine_root(g, dg, breaks[i], breaks[i + 1], tiny));
    } else if (s0 == 0 && i > 0) {
      // An extremum of f exactly at a root: a sign change iff the neighbours differ.
      const int before = sign(evaluate(g, (breaks[i - 1] + breaks[i]) / 2));
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
