#pragma once
// Interval arithmetic with outward rounding (internal to the solver): every
// result encloses the exact result of the operation on every pair of points
// of its operands.  Lower ends are rounded towards -infinity and upper ends
// towards +infinity (MPFR's RNDD / RNDU), at the precision of the caller's
// PrecisionScope.  An operation without a finite enclosure (an overflow,
// inf - inf) gives the whole line [-inf, +inf], never NaN.
#include "polar_express/solver/polynomial.hpp"
#include "polar_express/solver/rational.hpp"

#include <vector>

namespace polar_express::detail::outward {

// [x, x].
Interval point(const Real& x);
// [RD(q), RU(q)].
Interval enclose(const Rational& q);

Interval add(const Interval& a, const Interval& b);
Interval sub(const Interval& a, const Interval& b);
Interval mul(const Interval& a, const Interval& b);
// { x^2 : x in a }: [0, ...] when a contains 0, unlike mul(a, a).
Interval square(const Interval& a);
Interval negate(const Interval& a);
// [sqrt_RD(a.lower), sqrt_RU(a.upper)] for 0 <= a.lower.
Interval sqrt(const Interval& a);

Interval hull(const Interval& a, const Interval& b);
// The intersection of two enclosures of the same quantity (never empty for
// sound enclosures).
Interval intersect(const Interval& a, const Interval& b);
bool overlaps(const Interval& a, const Interval& b);
// a inside b.
bool within(const Interval& a, const Interval& b);
bool finite(const Interval& a);
Interval whole_line();

// sum_j c[j] t^j by Horner's rule.
Interval horner(const std::vector<Interval>& c, const Interval& t);

// A point of a (the rounded midpoint, which always lies in a).
Real midpoint(const Interval& a);

// Narrower than 2^-64 relative to its larger end.
bool narrow(const Interval& t);

// sum_j f[j] t^j for t in T, given the coefficient enclosures of f and of
// f': Horner over T intersected with the mean-value form
// f(m) + f'(T) (T - m), which over a narrow T (a critical bracket, an
// enclosure of an endpoint) is tight to second order where Horner alone is
// wide by the dependency problem.  Over a narrow T, Horner adds nothing to
// the mean-value form and is skipped.
Interval value_over(const std::vector<Interval>& f, const std::vector<Interval>& df, const Interval& t);

}  // namespace polar_express::detail::outward
