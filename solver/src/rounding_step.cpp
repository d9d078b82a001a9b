#include "rounding_step.hpp"

#include "outward.hpp"

#include <stdexcept>

namespace polar_express::detail::rounding {
namespace {

namespace iv = outward;

using Coefficients = std::vector<Rational>;

const Operand kNoOperand{Real(0), Real(0)};

Coefficients multiplied_by_y(const Coefficients& v) {
  Coefficients r(v.size() + 1, Rational(0));
  for (std::size_t j = 0; j < v.size(); ++j) r[j + 1] = v[j];
  return r;
}

Coefficients sum(const Coefficients& a, const Coefficients& b) {
  Coefficients r(std::max(a.size(), b.size()), Rational(0));
  for (std::size_t j = 0; j < a.size(); ++j) r[j] += a[j];
  for (std::size_t j = 0; j < b.size(); ++j) r[j] += b[j];
  return r;
}

Coefficients multiplied_by(const Coefficients& v, const Rational& c) {
  Coefficients r = v;
  for (Rational& x : r) x *= c;
  return r;
}

Coefficients monomial(const Rational& c) { return {Rational(0), c}; }  // c y

std::unique_ptr<PolynomialRange> range_of(Coefficients c, unsigned bits) {
  return std::make_unique<PolynomialRange>(std::move(c), bits);
}

// The step's ||(H + dH) X||: at most the exact image's top widened by dH.
// A step from an interval the model has already lost (an infinite end).
StepTerms lost() {
  StepTerms t;
  t.perturbation = infinity();
  t.min_h = 0;
  t.absolute = infinity();
  t.overflow = true;
  return t;
}


Real top_of(const StepTerms& t, const Interval& image, const Real& hi) {
  const Real relative = mul_up(image.upper, add_up(Real(1), relative_of(t)));
  const Real absolute = add_up(image.upper, mul_up(t.perturbation, hi));
  return smaller(relative, absolute);
}

}  // namespace

Spectrum spectrum_of(const Interval& singular) {
  Spectrum s;
  s.y = iv::square(singular);
  s.center = iv::midpoint(s.y);
  s.radius = larger(sub_up(s.y.upper, s.center), sub_up(s.center, s.y.lower));
  s.error = 0;
  return s;
}

Square square_of(const PolynomialRange& v, const Spectrum& s, const Real& error) {
  const Interval r = v.range(s.y);
  Square sq;
  sq.center = iv::midpoint(r);
  const Real half = larger(sub_up(r.upper, sq.center), sub_up(sq.center, r.lower));
  sq.radius = add_up(add_up(half, v.perturbation(s.center, s.radius, s.error)), error);
  return sq;
}

Operand operand_of(const Square& m, std::int64_t k) { return {norm_of(m), abs_norm_of(m, k)}; }

Real abs_upper(const Rational& c) { return round_rational(abs(c), precision_bits(Real()), Rounding::kUp); }

Real min_abs(const Interval& range) {
  if (range.lower > 0) return range.lower;
  if (range.upper < 0) return Real(-range.upper);
  return Real(0);
}

Real gram_error(const Model& model, const Unit& accumulation, const Unit& stored, bool stored_is_accumulation,
                const Operand& x, const Spectrum& s, std::int64_t k, std::int64_t long_side) {
  const Operand none{Real(0), Real(0)};
  Real e = model.norm(accumulate(model, long_side, Real(1), x, x, Real(0), none, accumulation, k, k), 2 * k);
  if (!stored_is_accumulation) {
    e = add_up(e, model.norm(round_square(model, {s.center, add_up(s.radius, e)}, stored, k), 2 * k));
  }
  return e;
}

bool may_overflow(const Real& norm, const Unit& unit) { return !(norm < unit.largest); }

StepPolynomial::StepPolynomial(std::vector<Rational> coefficients, unsigned working_bits)
    : coefficients_(std::move(coefficients)), odd_(coefficients_, working_bits) {
  const std::size_t q = coefficients_.size();
  if (q < 2) throw std::invalid_argument("the rounding model needs a step of degree 3 or more");
  const unsigned bits = working_bits;
  h_ = range_of(coefficients_, bits);
  Coefficients tail = coefficients_;
  tail[0] = 0;
  tail_ = range_of(tail, bits);
  identity_ = range_of(monomial(Rational(1)), bits);
  h_times_y_ = range_of(multiplied_by_y(coefficients_), bits);
  scaled_.resize(q);
  times_y_.resize(q);
  torch_sums_.resize(q);
  direct_.resize(q);
  for (std::size_t j = 1; j < q; ++j) scaled_[j] = range_of(monomial(coefficients_[j]), bits);
  Coefficients b = monomial(coefficients_[q - 1]);
  Coefficients partial = monomial(Rational(1));
  Rational alpha = coefficients_[q - 1];
  for (std::size_t j = q - 1; j-- > 1;) {
    const Coefficients by = multiplied_by_y(b);
    times_y_[j] = range_of(by, bits);
    b = sum(monomial(coefficients_[j]), by);
    torch_sums_[j] = range_of(b, bits);
    partial = sum(multiplied_by(multiplied_by_y(partial), alpha), monomial(coefficients_[j]));
    direct_[j] = range_of(partial, bits);
    alpha = 1;
  }
}

StepArithmetic step_arithmetic(const Arithmetic& arithmetic, std::int64_t k, std::int64_t long_side) {
  StepArithmetic a;
  a.storage = unit_of(arithmetic.storage);
  a.accumulation = unit_of(arithmetic.accumulation);
  a.storage_is_accumulation = arithmetic.storage.significand_bits == arithmetic.accumulation.significand_bits;
  a.elementwise = rounded_twice(a.storage, a.accumulation, a.storage_is_accumulation);
  // A coefficient is the double nearest its exact value, then (16-bit and
  // f32 products) rounded to fp32.
  const Real double_unit = unit_of(float_format("f64")).unit;
  const Real coefficient_unit = unit_of(arithmetic.coefficients).unit;
  a.coefficient = arithmetic.coefficients.significand_bits >= 53
                      ? double_unit
                      : add_up(add_up(coefficient_unit, double_unit), mul_up(coefficient_unit, double_unit));
  a.k = k;
  a.long_side = long_side;
  return a;
}

int events_per_step(std::size_t q) { return 6 * static_cast<int>(q) + 16; }

Real relative_of(const StepTerms& terms) {
  if (!(terms.min_h > 0)) return infinity();
  return div_up(terms.perturbation, terms.min_h);
}

RoundedStep rounded_step(const Interval& exact, const StepTerms& terms, const Real& hi) {
  RoundedStep r;
  r.exact = exact;
  r.interval = widen(exact, terms, hi);
  r.relative = relative_of(terms);
  r.perturbation = terms.perturbation;
  r.absolute = terms.absolute;
  r.overflow = terms.overflow;
  return r;
}

StepTerms torch_step(const Model& model, const StepArithmetic& a, const StepPolynomial& p, const Interval& singular,
                     const Interval& image) {
  if (!iv::finite(singular) || !iv::finite(image)) return lost();
  const std::int64_t k = a.k, big = a.long_side;
  const Real& hi = singular.upper;
  Spectrum s = spectrum_of(singular);
  const Operand x{hi, abs_norm_of_rectangle(hi, k)};
  s.error = gram_error(model, a.accumulation, a.storage, a.storage_is_accumulation, x, s, k, big);
  StepTerms t;
  const Square a_square{s.center, add_up(s.radius, s.error)};
  const Operand a_operand = operand_of(a_square, k);
  t.overflow = may_overflow(a_operand.norm, a.storage);
  const std::size_t q = p.size();

  // fl(c_j A): the coefficient's own rounding, then the product's.
  auto scaled_error = [&](std::size_t j) {
    const Real coefficient_error = mul_up(mul_up(a.coefficient, abs_upper(p.coefficients()[j])), a_operand.norm);
    const Square m = square_of(p.scaled(j), s, coefficient_error);
    t.overflow = t.overflow || may_overflow(norm_of(m), a.storage);
    return add_up(coefficient_error, model.norm(round_square(model, m, a.elementwise, k), 2 * k));
  };

  // B = c_{q-1} A, then B = c_j A + B @ A: ||B_hat - B(A_hat)|| <= b_error.
  Real b_error = scaled_error(q - 1);
  const PolynomialRange* b_poly = &p.scaled(q - 1);
  for (std::size_t j = q - 1; j-- > 1;) {
    const Real ca_error = scaled_error(j);
    const Square b_square = square_of(*b_poly, s, b_error);
    Real ba_error = mul_up(b_error, a_operand.norm);
    ba_error = add_up(ba_error, model.norm(accumulate(model, k, Real(1), operand_of(b_square, k), a_operand, Real(0),
                                                      kNoOperand, a.accumulation, k, k),
                                           2 * k));
    if (!a.storage_is_accumulation) {
      const Square ba = square_of(p.times_y(j), s, ba_error);
      t.overflow = t.overflow || may_overflow(norm_of(ba), a.storage);
      ba_error = add_up(ba_error, model.norm(round_square(model, ba, a.storage, k), 2 * k));
    }
    const Real in = add_up(ca_error, ba_error);
    const Square sum_square = square_of(p.torch_sum(j), s, in);
    t.overflow = t.overflow || may_overflow(norm_of(sum_square), a.storage);
    b_error = add_up(in, model.norm(round_square(model, sum_square, a.elementwise, k), 2 * k));
    b_poly = &p.torch_sum(j);
  }
  const Real c0 = abs_upper(p.coefficients()[0]);
  t.perturbation = add_up(add_up(p.tail().perturbation(s.center, s.radius, s.error), b_error), mul_up(a.coefficient, c0));
  t.min_h = min_abs(p.h().range(s.y));

  // X' = fl(fl(c0 X) + fl(B @ X)) = (H + dH) X + F.
  const Square b_square = square_of(p.tail(), s, b_error);
  const Operand b_operand = operand_of(b_square, k);
  const Real top = top_of(t, image, hi);
  const Real scaled_x = mul_up(mul_up(c0, add_up(Real(1), a.coefficient)), hi);
  const Real bx_acc = model.norm(
      accumulate(model, k, Real(1), b_operand, x, Real(0), kNoOperand, a.accumulation, k, big), k + big);
  const Real bx = add_up(mul_up(b_operand.norm, hi), bx_acc);
  const Real pre = add_up(top, bx_acc);
  const ErrorBound r1 = round_rectangle(model, scaled_x, a.elementwise, k, big);
  const ErrorBound r2 = a.storage_is_accumulation ? ErrorBound{} : round_rectangle(model, bx, a.storage, k, big);
  t.overflow = t.overflow || may_overflow(scaled_x, a.storage) || may_overflow(bx, a.storage) ||
               may_overflow(pre, a.storage);
  if (model.probabilistic()) {
    // The roundings of c0 X, of B @ X and of their sum are independent given
    // B and the product's accumulation; the sum's rounding of the first two
    // roundings' errors is second order, bounded on its own.
    ErrorBound joint = r1;
    joint.add(r2);
    ErrorBound first_two = joint;
    joint.add(round_rectangle(model, pre, a.elementwise, k, big));
    const Real both = model.norm(first_two, k + big);
    const Real second_order = model.norm(round_rectangle(model, both, a.elementwise, k, big), k + big);
    t.absolute = add_up(add_up(bx_acc, model.norm(joint, k + big)), second_order);
  } else {
    const Real e1 = r1.fixed, e2 = r2.fixed;
    const Real e3 = round_rectangle(model, add_up(pre, add_up(e1, e2)), a.elementwise, k, big).fixed;
    t.absolute = add_up(add_up(bx_acc, e1), add_up(e2, e3));
  }
  return t;
}

Horner direct_horner(const Model& model, const SquareArithmetic& a, const StepPolynomial& p, const Spectrum& s) {
  const std::int64_t k = a.k;
  const Square a_square{s.center, add_up(s.radius, s.error)};
  const Operand a_operand = operand_of(a_square, k);
  // A operand as the multiplier reads it: ||A~ - A_hat|| <= a_rounding.
  const Real a_rounding =
      a.operands_rounded ? model.norm(round_square(model, a_square, a.operands, k), 2 * k) : Real(0);
  const std::size_t q = p.size();
  Horner h;
  h.poly = &p.identity();
  h.error = 0;
  h.alpha = abs_upper(p.coefficients()[q - 1]);
  h.alpha_rounded = true;
  // P = alpha A P + c_j A, one fused product each (none for a cubic, whose
  // apply multiplies A itself by alpha = c1).
  for (std::size_t j = q - 1; j-- > 1;) {
    const Square previous = square_of(*h.poly, s, h.error);
    const Operand previous_operand = operand_of(previous, k);
    const Real cj = abs_upper(p.coefficients()[j]);
    Real e = mul_up(mul_up(h.alpha, a_operand.norm), h.error);
    const Real coefficients =
        add_up(mul_up(h.alpha, mul_up(a_operand.norm, previous_operand.norm)), mul_up(cj, a_operand.norm));
    e = add_up(e, mul_up(a.coefficient, coefficients));
    if (a.operands_rounded) {
      // alpha (A + E1)(P + E2) - alpha A P = alpha (E1 P + (A + E1) E2).
      const Real p_rounding = model.norm(round_square(model, previous, a.operands, k), 2 * k);
      const Real both = add_up(mul_up(a_rounding, previous_operand.norm),
                               mul_up(add_up(a_operand.norm, a_rounding), p_rounding));
      e = add_up(e, mul_up(h.alpha, both));
    }
    e = add_up(e, model.norm(accumulate(model, k, h.alpha, a_operand, previous_operand, cj, a_operand, a.accumulation,
                                        k, k),
                             2 * k));
    if (!a.stored_is_accumulation) {
      const Square stored = square_of(p.direct_partial(j), s, e);
      h.overflow = h.overflow || may_overflow(norm_of(stored), a.stored);
      e = add_up(e, model.norm(round_square(model, stored, a.stored, k), 2 * k));
    }
    h.poly = &p.direct_partial(j);
    h.error = e;
    h.alpha = 1;
    h.alpha_rounded = false;
  }
  return h;
}

StepTerms direct_step(const Model& model, const StepArithmetic& a, const StepPolynomial& p, const Interval& singular,
                      const Interval& image) {
  if (!iv::finite(singular) || !iv::finite(image)) return lost();
  const std::int64_t k = a.k, big = a.long_side;
  const Real& hi = singular.upper;
  Spectrum s = spectrum_of(singular);
  const Operand x{hi, abs_norm_of_rectangle(hi, k)};
  s.error = gram_error(model, a.accumulation, a.storage, a.storage_is_accumulation, x, s, k, big);
  StepTerms t;
  const Square a_square{s.center, add_up(s.radius, s.error)};
  const Operand a_operand = operand_of(a_square, k);
  t.overflow = may_overflow(a_operand.norm, a.storage);

  SquareArithmetic square;
  square.stored = a.storage;
  square.accumulation = a.accumulation;
  square.stored_is_accumulation = a.storage_is_accumulation;
  square.coefficient = a.coefficient;
  square.k = k;
  const Horner horner = direct_horner(model, square, p, s);
  t.overflow = t.overflow || horner.overflow;
  const PolynomialRange* poly = horner.poly;
  const Real& error = horner.error;
  const Real& alpha = horner.alpha;
  const bool alpha_rounded = horner.alpha_rounded;
  const Square b_square = square_of(*poly, s, error);
  const Operand b_operand = operand_of(b_square, k);
  const Real c0 = abs_upper(p.coefficients()[0]);
  Real perturbation = add_up(p.tail().perturbation(s.center, s.radius, s.error), mul_up(alpha, error));
  Real coefficient_terms = c0;
  if (alpha_rounded) coefficient_terms = add_up(coefficient_terms, mul_up(alpha, b_operand.norm));
  t.perturbation = add_up(perturbation, mul_up(a.coefficient, coefficient_terms));
  t.min_h = min_abs(p.h().range(s.y));

  // X' = fl(alpha P X + c0 X), one fused product.
  const Real top = top_of(t, image, hi);
  const Real acc = model.norm(accumulate(model, k, alpha, b_operand, x, c0, x, a.accumulation, k, big), k + big);
  Real absolute = acc;
  if (!a.storage_is_accumulation) {
    absolute = add_up(absolute, model.norm(round_rectangle(model, add_up(top, acc), a.storage, k, big), k + big));
  }
  t.overflow = t.overflow || may_overflow(add_up(top, acc), a.storage);
  t.absolute = absolute;
  return t;
}

// The singular values of H X: |p| over [lo, hi] (lo >= 0), ends outward.
Interval singular_image(const RigorousPolynomial& p, const Interval& singular) {
  const Interval one = iv::point(Real(1));
  const RangeEnclosure domain{iv::sub(iv::point(singular.lower), one), iv::sub(iv::point(singular.upper), one)};
  const RangeEnclosure image = p.image(domain);
  const Interval values{iv::add(iv::point(image.low.lower), one).lower, iv::add(iv::point(image.high.upper), one).upper};
  if (!iv::finite(values)) return {Real(0), infinity()};
  if (values.lower >= 0) return values;
  if (values.upper <= 0) return {Real(-values.upper), Real(-values.lower)};
  return {Real(0), larger(Real(-values.lower), values.upper)};
}

Interval widen(const Interval& exact, const StepTerms& terms, const Real& hi) {
  const Real rho = relative_of(terms);
  const Real spread = mul_up(terms.perturbation, hi);
  Real top = smaller(mul_up(exact.upper, add_up(Real(1), rho)), add_up(exact.upper, spread));
  top = add_up(top, terms.absolute);
  if (terms.overflow) top = infinity();
  Real bottom = sub_down(exact.lower, spread);
  if (rho < 1) bottom = larger(bottom, mul_down(exact.lower, sub_down(Real(1), rho)));
  bottom = sub_down(bottom, terms.absolute);
  if (!(bottom > 0)) bottom = 0;
  return {std::move(bottom), std::move(top)};
}

}  // namespace polar_express::detail::rounding
