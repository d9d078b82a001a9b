#include "outward.hpp"

#include <mpfr.h>

namespace polar_express::detail::outward {
namespace {

using Binary = int (*)(mpfr_ptr, mpfr_srcptr, mpfr_srcptr, mpfr_rnd_t);

Real rounded(Binary op, const Real& a, const Real& b, mpfr_rnd_t mode) {
  Real r;
  op(r.backend().data(), a.backend().data(), b.backend().data(), mode);
  return r;
}

// NaN ends (inf - inf, 0 * inf) widen to the whole line.
Interval checked(Real lower, Real upper) {
  if (mpfr_nan_p(lower.backend().data()) || mpfr_nan_p(upper.backend().data())) return whole_line();
  return {std::move(lower), std::move(upper)};
}

const Real& min_of(const Real& a, const Real& b) { return b < a ? b : a; }
const Real& max_of(const Real& a, const Real& b) { return b > a ? b : a; }

}  // namespace

Interval whole_line() {
  Real lower;
  Real upper;
  mpfr_set_inf(lower.backend().data(), -1);
  mpfr_set_inf(upper.backend().data(), 1);
  return {std::move(lower), std::move(upper)};
}

Interval point(const Real& x) { return {x, x}; }

Interval enclose(const Rational& q) {
  const unsigned bits = precision_bits(Real());
  return {round_rational(q, bits, Rounding::kDown), round_rational(q, bits, Rounding::kUp)};
}

Interval add(const Interval& a, const Interval& b) {
  return checked(rounded(mpfr_add, a.lower, b.lower, MPFR_RNDD), rounded(mpfr_add, a.upper, b.upper, MPFR_RNDU));
}

Interval sub(const Interval& a, const Interval& b) {
  return checked(rounded(mpfr_sub, a.lower, b.upper, MPFR_RNDD), rounded(mpfr_sub, a.upper, b.lower, MPFR_RNDU));
}

Interval mul(const Interval& a, const Interval& b) {
  // Which corners give the extremes follows from the operands' signs: two
  // products, four only when both straddle 0.
  const bool a_nonnegative = a.lower >= 0, a_nonpositive = a.upper <= 0;
  const bool b_nonnegative = b.lower >= 0, b_nonpositive = b.upper <= 0;
  const Real* low[2];   // the factors of the lower end
  const Real* high[2];  // and of the upper end
  if (a_nonnegative) {
    if (b_nonnegative) {
      low[0] = &a.lower, low[1] = &b.lower, high[0] = &a.upper, high[1] = &b.upper;
    } else if (b_nonpositive) {
      low[0] = &a.upper, low[1] = &b.lower, high[0] = &a.lower, high[1] = &b.upper;
    } else {
      low[0] = &a.upper, low[1] = &b.lower, high[0] = &a.upper, high[1] = &b.upper;
    }
  } else if (a_nonpositive) {
    if (b_nonnegative) {
      low[0] = &a.lower, low[1] = &b.upper, high[0] = &a.upper, high[1] = &b.lower;
    } else if (b_nonpositive) {
      low[0] = &a.upper, low[1] = &b.upper, high[0] = &a.lower, high[1] = &b.lower;
    } else {
      low[0] = &a.lower, low[1] = &b.upper, high[0] = &a.lower, high[1] = &b.lower;
    }
  } else if (b_nonnegative) {
    low[0] = &a.lower, low[1] = &b.upper, high[0] = &a.upper, high[1] = &b.upper;
  } else if (b_nonpositive) {
    low[0] = &a.upper, low[1] = &b.lower, high[0] = &a.lower, high[1] = &b.lower;
  } else {
    // Both straddle 0: the lower end is the more negative of the two
    // mixed-sign products, the upper the larger of the two same-sign ones.
    Real lower = rounded(mpfr_mul, a.lower, b.upper, MPFR_RNDD);
    Real upper = rounded(mpfr_mul, a.lower, b.lower, MPFR_RNDU);
    Real other_lower = rounded(mpfr_mul, a.upper, b.lower, MPFR_RNDD);
    Real other_upper = rounded(mpfr_mul, a.upper, b.upper, MPFR_RNDU);
    if (mpfr_nan_p(other_lower.backend().data()) || mpfr_nan_p(other_upper.backend().data())) return whole_line();
    if (other_lower < lower) lower = std::move(other_lower);
    if (other_upper > upper) upper = std::move(other_upper);
    return checked(std::move(lower), std::move(upper));
  }
  return checked(rounded(mpfr_mul, *low[0], *low[1], MPFR_RNDD), rounded(mpfr_mul, *high[0], *high[1], MPFR_RNDU));
}

Interval square(const Interval& a) {
  const bool straddles = a.lower < 0 && a.upper > 0;
  const Real& small = a.lower >= 0 ? a.lower : (a.upper <= 0 ? a.upper : a.lower);
  const Real& large = a.lower >= 0 ? a.upper : (a.upper <= 0 ? a.lower : (-a.lower > a.upper ? a.lower : a.upper));
  Real lower;
  if (straddles) {
    lower = 0;
  } else {
    mpfr_sqr(lower.backend().data(), small.backend().data(), MPFR_RNDD);
  }
  Real upper;
  mpfr_sqr(upper.backend().data(), large.backend().data(), MPFR_RNDU);
  return checked(std::move(lower), std::move(upper));
}

Interval negate(const Interval& a) { return {Real(-a.upper), Real(-a.lower)}; }

Interval sqrt(const Interval& a) {
  Real lower;
  Real upper;
  mpfr_sqrt(lower.backend().data(), a.lower.backend().data(), MPFR_RNDD);
  mpfr_sqrt(upper.backend().data(), a.upper.backend().data(), MPFR_RNDU);
  return checked(std::move(lower), std::move(upper));
}

Interval hull(const Interval& a, const Interval& b) { return {min_of(a.lower, b.lower), max_of(a.upper, b.upper)}; }

Interval intersect(const Interval& a, const Interval& b) {
  return {max_of(a.lower, b.lower), min_of(a.upper, b.upper)};
}

bool overlaps(const Interval& a, const Interval& b) { return a.lower <= b.upper && b.lower <= a.upper; }

bool within(const Interval& a, const Interval& b) { return b.lower <= a.lower && a.upper <= b.upper; }

bool finite(const Interval& a) {
  return mpfr_number_p(a.lower.backend().data()) && mpfr_number_p(a.upper.backend().data());
}

Interval horner(const std::vector<Interval>& c, const Interval& t) {
  Interval result = c.back();
  for (std::size_t k = c.size() - 1; k-- > 0;) result = add(mul(result, t), c[k]);
  return result;
}

Real midpoint(const Interval& a) {
  if (a.lower == a.upper) return a.lower;
  Real sum;
  mpfr_add(sum.backend().data(), a.lower.backend().data(), a.upper.backend().data(), MPFR_RNDN);
  mpfr_div_2ui(sum.backend().data(), sum.backend().data(), 1, MPFR_RNDN);
  // Rounding can only push the midpoint onto an end, never past it; an
  // overflowing sum (ends near the top of the exponent range) is not.
  if (!(sum >= a.lower && sum <= a.upper)) return a.lower;
  return sum;
}

bool narrow(const Interval& t) {
  const Real& larger = -t.lower > t.upper ? t.lower : t.upper;
  return t.upper - t.lower <= boost::multiprecision::ldexp(abs(larger), -64);
}

Interval value_over(const std::vector<Interval>& f, const std::vector<Interval>& df, const Interval& t) {
  if (t.lower == t.upper) return horner(f, t);
  const Interval m = point(midpoint(t));
  const Interval mean_value = add(horner(f, m), mul(horner(df, t), sub(t, m)));
  return narrow(t) ? mean_value : intersect(horner(f, t), mean_value);
}

}  // namespace polar_express::detail::outward
