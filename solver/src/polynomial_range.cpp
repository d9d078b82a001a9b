#include "polynomial_range.hpp"

#include "outward.hpp"
#include "real_roots.hpp"

#include <mpfr.h>

#include <stdexcept>

namespace polar_express::detail {
namespace {

namespace iv = outward;

std::vector<Interval> enclosed(const std::vector<Rational>& values) {
  std::vector<Interval> result;
  for (const Rational& v : values) result.push_back(iv::enclose(v));
  return result;
}

Real upper_abs(const Interval& a) { return -a.lower > a.upper ? Real(-a.lower) : a.upper; }

}  // namespace

PolynomialRange::PolynomialRange(std::vector<Rational> coefficients, unsigned working_bits)
    : coefficients_(std::move(coefficients)), working_bits_(working_bits) {
  if (coefficients_.empty()) throw std::invalid_argument("a polynomial needs at least one coefficient");
  PrecisionScope scope(working_bits_);
  std::vector<Rational> derivative;
  for (std::size_t j = 1; j < coefficients_.size(); ++j) derivative.push_back(coefficients_[j] * static_cast<unsigned>(j));
  if (derivative.empty()) derivative.push_back(Rational(0));
  enclosed_ = enclosed(coefficients_);
  derivative_ = enclosed(derivative);
  const IntegerPolynomial integer = primitive_integer_polynomial(derivative);
  if (integer.size() > 1) {
    for (const RootBracket& root : nonnegative_roots(integer, working_bits_ / 2 + 16)) {
      critical_.push_back({root.lower, root.upper});
    }
  }
}

Interval PolynomialRange::range(const Interval& domain) const {
  PrecisionScope scope(working_bits_);
  if (!iv::finite(domain) || domain.lower < 0 || domain.upper < domain.lower) {
    throw std::invalid_argument("a polynomial range needs a finite interval of y >= 0");
  }
  Interval result = iv::hull(iv::value_over(enclosed_, derivative_, iv::point(domain.lower)),
                             iv::value_over(enclosed_, derivative_, iv::point(domain.upper)));
  for (const Interval& bracket : critical_) {
    if (!iv::overlaps(bracket, domain)) continue;
    result = iv::hull(result, iv::value_over(enclosed_, derivative_, iv::intersect(bracket, domain)));
  }
  return result;
}

Real PolynomialRange::perturbation(const Real& center, const Real& radius, const Real& error) const {
  PrecisionScope scope(working_bits_);
  // Taylor coefficients at the center by repeated synthetic division, in
  // interval arithmetic: d_i = sum_{j >= i} binomial(j, i) g_j center^j-i.
  std::vector<Interval> d = enclosed_;
  const Interval m = iv::point(center);
  for (std::size_t i = 0; i + 1 < d.size(); ++i) {
    for (std::size_t j = d.size() - 1; j > i; --j) d[j - 1] = iv::add(d[j - 1], iv::mul(d[j], m));
  }
  const Interval r = iv::point(radius);
  const Interval widened = iv::add(r, iv::point(error));
  Interval r_power = iv::point(Real(1));
  Interval widened_power = r_power;
  Real total = 0;
  for (std::size_t i = 1; i < d.size(); ++i) {
    r_power = iv::mul(r_power, r);
    widened_power = iv::mul(widened_power, widened);
    const Interval growth = iv::sub(widened_power, r_power);
    const Interval term = iv::mul(iv::point(upper_abs(d[i])), iv::point(growth.upper));
    mpfr_add(total.backend().data(), total.backend().data(), term.upper.backend().data(), MPFR_RNDU);
  }
  return total;
}

}  // namespace polar_express::detail
