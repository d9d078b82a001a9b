#include "polar_express/solver/enclosure.hpp"

#include "outward.hpp"
#include "real_roots.hpp"

#include <mpfr.h>

#include <algorithm>

namespace polar_express {
namespace {

namespace iv = detail::outward;

std::vector<Interval> enclosed(const std::vector<Rational>& values) {
  std::vector<Interval> result;
  for (const Rational& v : values) result.push_back(iv::enclose(v));
  return result;
}

// Coefficients of q(d) = p(1 + d) - 1 for p = sum c_k x^(2k+1):
// q_j = sum_k c_k binomial(2k+1, j), minus 1 for j = 0.
std::vector<Rational> shifted_coefficients(const std::vector<Rational>& c) {
  std::vector<Rational> q(2 * c.size(), Rational(0));
  for (std::size_t k = 0; k < c.size(); ++k) {
    const std::size_t power = 2 * k + 1;
    Integer binomial = 1;
    for (std::size_t j = 0; j <= power; ++j) {
      q[j] += c[k] * Rational(binomial);
      binomial = binomial * static_cast<unsigned>(power - j) / static_cast<unsigned>(j + 1);
    }
  }
  q[0] -= 1;
  return q;
}

std::vector<Rational> derivative_coefficients(const std::vector<Rational>& q) {
  std::vector<Rational> result;
  for (std::size_t j = 1; j < q.size(); ++j) result.push_back(q[j] * static_cast<unsigned>(j));
  if (result.empty()) result.push_back(Rational(0));
  return result;
}

// iv::value_over for odd p given by its coefficients in y = x^2:
// p(x) = x h(x^2), p'(x) = h_1(x^2).
Interval odd_value_over(const std::vector<Interval>& h, const std::vector<Interval>& dh, const Interval& x) {
  if (x.lower == x.upper) return iv::mul(x, iv::horner(h, iv::square(x)));
  const Interval m = iv::point(iv::midpoint(x));
  const Interval at_m = iv::mul(m, iv::horner(h, iv::square(m)));
  const Interval mean_value = iv::add(at_m, iv::mul(iv::horner(dh, iv::square(x)), iv::sub(x, m)));
  return iv::narrow(x) ? mean_value : iv::intersect(iv::mul(x, iv::horner(h, iv::square(x))), mean_value);
}

const Real& min_of(const Real& a, const Real& b) { return b < a ? b : a; }
const Real& max_of(const Real& a, const Real& b) { return b > a ? b : a; }

}  // namespace

RigorousPolynomial::RigorousPolynomial(std::vector<Rational> coefficients, unsigned working_bits)
    : coefficients_(std::move(coefficients)), working_bits_(working_bits) {
  if (coefficients_.empty()) throw std::invalid_argument("a polynomial needs at least one coefficient");
  PrecisionScope scope(working_bits_);
  std::vector<Rational> derivative_in_y;
  for (std::size_t k = 0; k < coefficients_.size(); ++k) {
    derivative_in_y.push_back(coefficients_[k] * static_cast<unsigned>(2 * k + 1));
  }
  odd_ = enclosed(coefficients_);
  odd_derivative_ = enclosed(derivative_in_y);
  const std::vector<Rational> shifted = shifted_coefficients(coefficients_);
  shifted_ = enclosed(shifted);
  shifted_derivative_ = enclosed(derivative_coefficients(shifted));

  // Brackets of y are at most 2^-(bits/2 + 16) wide relative; p over the
  // bracket of x is then tight to about 2^-bits (p' vanishes in it, so the
  // mean-value form's width is second order in the bracket's).
  const detail::IntegerPolynomial derivative = detail::primitive_integer_polynomial(derivative_in_y);
  if (derivative.size() > 1) {
    for (const detail::RootBracket& root : detail::nonnegative_roots(derivative, working_bits_ / 2 + 16)) {
      critical_points_.push_back({iv::sqrt({root.lower, root.upper}), root.odd_multiplicity});
    }
  }
  const Interval one = iv::point(Real(1));
  for (const CriticalBracket& c : critical_points_) {
    critical_deviations_.push_back(iv::sub(c.x, one));
    if (c.x.upper > 0) critical_deviations_.push_back(iv::sub(iv::negate(c.x), one));
  }
  for (const Interval& d : critical_deviations_) critical_values_.push_back(deviation_image(d));
}

Interval RigorousPolynomial::deviation_image(const Interval& deviation) const {
  PrecisionScope scope(working_bits_);
  if (!iv::finite(deviation)) return iv::whole_line();
  // Near x = 1 the shifted form keeps the accuracy relative to d; elsewhere
  // (x near 0, x < 0, x large) p in x keeps it relative to x.  The shifted
  // coefficients sum binomials (|q_j| up to sum |c_k| 2^(2k+1)), so the
  // shifted form is kept to |d| <= 1/4, where its rounding stays within
  // 1.25^(2q-1) of the terms' size.
  const Real quarter = Real(1) / 4;
  if (deviation.lower >= -quarter && deviation.upper <= quarter) {
    return iv::value_over(shifted_, shifted_derivative_, deviation);
  }
  const Interval one = iv::point(Real(1));
  return iv::sub(odd_value_over(odd_, odd_derivative_, iv::add(deviation, one)), one);
}

RangeEnclosure RigorousPolynomial::image(const RangeEnclosure& domain) const {
  PrecisionScope scope(working_bits_);
  if (!iv::finite(domain.low) || !iv::finite(domain.high)) return {iv::whole_line(), iv::whole_line()};
  // Every value of the domain lies in `outer`; its min and max, and so every
  // point between them, are attained: `inner` (when not empty) is attained.
  const Interval outer{domain.low.lower, domain.high.upper};
  const Interval inner{domain.low.upper, domain.high.lower};
  const Interval at_lower = deviation_image(iv::point(outer.lower));
  const Interval at_upper = deviation_image(iv::point(outer.upper));
  Real outer_min = min_of(at_lower.lower, at_upper.lower);
  Real outer_max = max_of(at_lower.upper, at_upper.upper);
  const Interval from_min = deviation_image(domain.low);
  const Interval from_max = deviation_image(domain.high);
  Real attained_below = min_of(from_min.upper, from_max.upper);
  Real attained_above = max_of(from_min.lower, from_max.lower);
  for (std::size_t i = 0; i < critical_deviations_.size(); ++i) {
    const Interval& critical = critical_deviations_[i];
    if (!iv::overlaps(critical, outer)) continue;
    const Interval value = iv::within(critical, outer) ? critical_values_[i]
                                                        : deviation_image(iv::intersect(critical, outer));
    if (value.lower < outer_min) outer_min = value.lower;
    if (value.upper > outer_max) outer_max = value.upper;
    if (inner.lower <= inner.upper && iv::within(critical, inner)) {
      if (value.upper < attained_below) attained_below = value.upper;
      if (value.lower > attained_above) attained_above = value.lower;
    }
  }
  return {{std::move(outer_min), std::move(attained_below)}, {std::move(attained_above), std::move(outer_max)}};
}

RangeEnclosure input_range(const Interval& input, unsigned working_bits) {
  PrecisionScope scope(working_bits);
  auto within_an_ulp = [](const Real& value) {
    // Copies keep the precision of their source, so the neighbours are
    // those at the value's own precision.
    Real below = value;
    Real above = value;
    mpfr_nextbelow(below.backend().data());
    mpfr_nextabove(above.backend().data());
    return iv::sub(Interval{below, above}, iv::point(Real(1)));
  };
  return {within_an_ulp(input.lower), within_an_ulp(input.upper)};
}

Interval error_enclosure(const RangeEnclosure& range) {
  // |1 - y| over [min, max] is max(1 - min, max - 1) (never below 0).
  Real lower = 0;
  const Real below_one = -range.low.upper;
  if (below_one > lower) lower = below_one;
  if (range.high.lower > lower) lower = range.high.lower;
  const Real lowest_gap = -range.low.lower;
  Real upper = max_of(lowest_gap, range.high.upper);
  if (mpfr_nan_p(upper.backend().data())) mpfr_set_inf(upper.backend().data(), 1);
  return {std::move(lower), std::move(upper)};
}

RigorousChain::RigorousChain(const std::vector<ScheduleStep>& steps, unsigned precision_bits)
    : working_bits_(certification_bits(precision_bits)) {
  // Lists repeat their tuples (repeat_last, cycle): prepare each once.
  std::vector<std::shared_ptr<const RigorousPolynomial>> distinct;
  for (const ScheduleStep& step : steps) {
    std::vector<Rational> exact = step.exact();
    const auto same = std::find_if(distinct.begin(), distinct.end(),
                                   [&](const auto& p) { return p->coefficients() == exact; });
    if (same != distinct.end()) {
      steps_.push_back(*same);
    } else {
      distinct.push_back(std::make_shared<const RigorousPolynomial>(std::move(exact), working_bits_));
      steps_.push_back(distinct.back());
    }
  }
}

std::vector<RangeEnclosure> RigorousChain::ranges(const Interval& input) const {
  std::vector<RangeEnclosure> result;
  RangeEnclosure current = input_range(input, working_bits_);
  for (const auto& step : steps_) {
    current = step->image(current);
    result.push_back(current);
  }
  return result;
}

void record_enclosures(std::vector<ScheduleStep>& steps, const Interval& input, const std::vector<RangeEnclosure>& ranges,
                       unsigned working_bits) {
  PrecisionScope scope(working_bits);
  Interval mapped{at_precision(input.lower, working_bits), at_precision(input.upper, working_bits)};
  for (std::size_t t = 0; t < steps.size(); ++t) {
    steps[t].interval = mapped;
    steps[t].error_enclosure = error_enclosure(ranges[t]);
    steps[t].error_after = iv::midpoint(steps[t].error_enclosure);
    mapped = {1 + iv::midpoint(ranges[t].low), 1 + iv::midpoint(ranges[t].high)};
  }
}

}  // namespace polar_express
