#pragma once
// Safeguarded Newton on a bracket (internal to the solver).
#include "polar_express/solver/real.hpp"
#include "polar_express/solver/work.hpp"

namespace polar_express::detail {

inline int sign(const Real& v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }

// A root of f in [lo, hi], where f(lo) and f(hi) have opposite signs: Newton
// steps kept inside the shrinking bracket; a step that would leave it, or
// that fails to halve the step before it, is replaced by bisection.  Stops
// once a Newton step is below `tiny` relative (the precision of the data), or
// stalls at f's rounding noise after passing sqrt(tiny).
// `start` (inside the bracket) is the first iterate.
template <class F, class DF>
Real bracketed_newton(const F& f, const DF& df, Real lo, Real hi, const Real& tiny, Real start) {
  const int sign_lo = sign(f(lo));
  const Real half_tiny = sqrt(tiny);
  Real x = std::move(start);
  Real previous_step = hi - lo;
  for (int iteration = 0; iteration < 100000; ++iteration) {
    work_checkpoint();
    const Real fx = f(x);
    const int s = sign(fx);
    if (s == 0) return x;
    if (s == sign_lo) lo = x; else hi = x;
    const Real slope = df(x);
    Real step = slope != 0 ? Real(fx / slope) : Real(hi - lo);
    if (abs(step) <= tiny * abs(x)) return x;
    // Past half the precision a step that stops shrinking is rounding noise
    // of f (large coefficients cancel): x is as good as f can tell.
    if (abs(step) * 2 > abs(previous_step) && abs(previous_step) <= half_tiny * abs(x)) return x;
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

template <class F, class DF>
Real bracketed_newton(const F& f, const DF& df, const Real& lo, const Real& hi, const Real& tiny) {
  return bracketed_newton(f, df, lo, hi, tiny, Real((lo + hi) / 2));
}

}  // namespace polar_express::detail
