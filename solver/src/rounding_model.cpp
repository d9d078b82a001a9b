#include "rounding_model.hpp"

#include <mpfr.h>

#include <stdexcept>

namespace polar_express::detail::rounding {
namespace {

using Binary = int (*)(mpfr_ptr, mpfr_srcptr, mpfr_srcptr, mpfr_rnd_t);
using Unary = int (*)(mpfr_ptr, mpfr_srcptr, mpfr_rnd_t);

Real binary(Binary op, const Real& a, const Real& b, mpfr_rnd_t mode) {
  Real r;
  op(r.backend().data(), a.backend().data(), b.backend().data(), mode);
  return r;
}

Real unary(Unary op, const Real& a, mpfr_rnd_t mode) {
  Real r;
  op(r.backend().data(), a.backend().data(), mode);
  return r;
}

Real count(std::int64_t n) { return Real(static_cast<long long>(n)); }

Real power_of_two(long exponent) { return boost::multiprecision::ldexp(Real(1), static_cast<int>(exponent)); }

}  // namespace

Real add_up(const Real& a, const Real& b) { return binary(mpfr_add, a, b, MPFR_RNDU); }
Real mul_up(const Real& a, const Real& b) { return binary(mpfr_mul, a, b, MPFR_RNDU); }
Real div_up(const Real& a, const Real& b) { return binary(mpfr_div, a, b, MPFR_RNDU); }
Real sub_up(const Real& a, const Real& b) { return binary(mpfr_sub, a, b, MPFR_RNDU); }
Real sqrt_up(const Real& a) { return unary(mpfr_sqrt, a, MPFR_RNDU); }
Real add_down(const Real& a, const Real& b) { return binary(mpfr_add, a, b, MPFR_RNDD); }
Real mul_down(const Real& a, const Real& b) { return binary(mpfr_mul, a, b, MPFR_RNDD); }
Real div_down(const Real& a, const Real& b) { return binary(mpfr_div, a, b, MPFR_RNDD); }
Real sub_down(const Real& a, const Real& b) { return binary(mpfr_sub, a, b, MPFR_RNDD); }
Real sqrt_down(const Real& a) { return unary(mpfr_sqrt, a, MPFR_RNDD); }

Real infinity() {
  Real r;
  mpfr_set_inf(r.backend().data(), 1);
  return r;
}

const Real& larger(const Real& a, const Real& b) { return b > a ? b : a; }
const Real& smaller(const Real& a, const Real& b) { return b < a ? b : a; }

Unit unit_of(const FloatFormat& format) {
  Unit u;
  u.unit = power_of_two(-format.significand_bits);
  u.underflow = power_of_two(static_cast<long>(format.min_exponent) - format.significand_bits);
  // (2 - 2^(1-p)) 2^(emax - 1), exactly: 2^emax - 2^(emax - p).
  u.largest = power_of_two(format.max_exponent) - power_of_two(static_cast<long>(format.max_exponent) - format.significand_bits);
  return u;
}

Unit rounded_twice(const Unit& storage, const Unit& compute, bool same) {
  if (same) return storage;
  Unit u = storage;
  u.unit = add_up(add_up(storage.unit, compute.unit), mul_up(storage.unit, compute.unit));
  u.underflow = add_up(storage.underflow, mul_up(compute.underflow, add_up(Real(1), storage.unit)));
  return u;
}

void ErrorBound::add(const ErrorBound& other) {
  fixed = add_up(fixed, other.fixed);
  variance = add_up(variance, other.variance);
}

Model::Model(RoundingBound bound, const Real& event_failure) : bound_(bound), event_failure_(event_failure) {
  if (probabilistic() && !(event_failure_ > 0 && event_failure_ < 1)) {
    throw std::invalid_argument("a probabilistic bound needs a failure probability in (0, 1)");
  }
}

Real Model::tail(std::int64_t dimension) const {
  // ln(d / f) rounded up: ln d up, ln f down.
  const Real log_d = unary(mpfr_log, count(dimension), MPFR_RNDU);
  const Real log_f = unary(mpfr_log, event_failure_, MPFR_RNDD);
  return sqrt_up(mul_up(Real(2), sub_up(log_d, log_f)));
}

Real Model::norm(const ErrorBound& e, std::int64_t dimension) const {
  if (e.variance == 0) return e.fixed;
  ++events_;
  return add_up(e.fixed, mul_up(sqrt_up(e.variance), tail(dimension)));
}

Real Model::gamma(std::int64_t n, const Real& u) const {
  const Real nu = mul_up(count(n), u);
  if (!(nu < 1)) return infinity();
  return div_up(nu, sub_down(Real(1), nu));
}

Real Model::remainder(std::int64_t depth, const Real& leaves, const Real& u) const {
  ++events_;
  // lambda = sqrt(2 ln(2 leaves / f)); L = lambda sqrt(depth) u.
  const Real log_leaves = unary(mpfr_log, mul_up(Real(2), leaves), MPFR_RNDU);
  const Real log_f = unary(mpfr_log, event_failure_, MPFR_RNDD);
  const Real lambda = sqrt_up(mul_up(Real(2), sub_up(log_leaves, log_f)));
  const Real big_l = mul_up(mul_up(lambda, sqrt_up(count(depth))), u);
  const Real eps = div_up(mul_up(count(depth), mul_up(u, u)), mul_down(Real(2), sub_down(Real(1), u)));
  const Real exp_l = unary(mpfr_exp, big_l, MPFR_RNDU);
  // e^eps - 1 and e^L - 1 - L, each rounded up (expm1 keeps them accurate).
  const Real expm1_eps = unary(mpfr_expm1, eps, MPFR_RNDU);
  const Real expm1_l = unary(mpfr_expm1, big_l, MPFR_RNDU);
  const Real second = sub_up(expm1_l, big_l);
  return add_up(mul_up(exp_l, expm1_eps), second);
}

Real norm_of(const Square& m) { return add_up(abs(m.center), m.radius); }

Real abs_norm_of(const Square& m, std::int64_t k) {
  const Real root_k = sqrt_up(count(k));
  // |M| <= |center| I + |M - center I| entrywise, and || |N| ||_2 <= ||N||_F <= sqrt(k) ||N||_2.
  const Real centred = add_up(abs(m.center), mul_up(root_k, m.radius));
  const Real frobenius = mul_up(root_k, norm_of(m));
  return smaller(centred, frobenius);
}

Real abs_norm_of_rectangle(const Real& norm, std::int64_t k) { return mul_up(sqrt_up(count(k)), norm); }

ErrorBound round_square(const Model& model, const Square& m, const Unit& unit, std::int64_t k) {
  ErrorBound e;
  // Diagonal: |M_ii - center| <= radius, each rounded by at most u |M_ii| + eta.
  e.fixed = add_up(mul_up(unit.unit, norm_of(m)), unit.underflow);
  if (model.probabilistic()) {
    // Off-diagonal: every row of offdiag(M) = offdiag(M - center I) has norm <= radius.
    e.variance = add_up(mul_up(mul_up(unit.unit, m.radius), mul_up(unit.unit, m.radius)),
                        mul_up(count(k), mul_up(unit.underflow, unit.underflow)));
  } else {
    // ||offdiag(M)||_F <= ||M - center I||_F <= sqrt(k) radius; k^2 underflows.
    e.fixed = add_up(e.fixed, add_up(mul_up(mul_up(unit.unit, sqrt_up(count(k))), m.radius),
                                     mul_up(count(k), unit.underflow)));
  }
  return e;
}

ErrorBound round_rectangle(const Model& model, const Real& norm, const Unit& unit, std::int64_t k,
                           std::int64_t long_side) {
  ErrorBound e;
  if (model.probabilistic()) {
    // Rows and columns of a matrix have norms at most its spectral norm.
    e.variance = add_up(mul_up(mul_up(unit.unit, norm), mul_up(unit.unit, norm)),
                        mul_up(count(long_side), mul_up(unit.underflow, unit.underflow)));
  } else {
    e.fixed = add_up(mul_up(unit.unit, abs_norm_of_rectangle(norm, k)),
                     mul_up(sqrt_up(mul_up(count(k), count(long_side))), unit.underflow));
  }
  return e;
}

ErrorBound accumulate(const Model& model, std::int64_t n, const Real& alpha, const Operand& l, const Operand& r,
                      const Real& beta, const Operand& d, const Unit& unit, std::int64_t rows, std::int64_t cols) {
  const std::int64_t depth = n + 3;
  const Real a = abs(alpha);
  const Real b = abs(beta);
  const Real abs_sum = add_up(mul_up(a, mul_up(l.abs_norm, r.abs_norm)), mul_up(b, d.abs_norm));
  // Every entry meets at most `depth` underflows, each grown by at most 1 + gamma.
  const Real gamma = model.gamma(depth, unit.unit);
  const Real underflows = mul_up(mul_up(count(depth), unit.underflow), add_up(Real(1), gamma));
  ErrorBound e;
  e.fixed = mul_up(sqrt_up(mul_up(count(rows), count(cols))), underflows);
  if (!model.probabilistic()) {
    e.fixed = add_up(e.fixed, mul_up(gamma, abs_sum));
    return e;
  }
  const Real row = add_up(mul_up(a, mul_up(l.norm, r.norm)), mul_up(b, d.norm));
  e.variance = mul_up(count(depth), mul_up(mul_up(unit.unit, row), mul_up(unit.unit, row)));
  const Real leaves = mul_up(mul_up(count(rows), count(cols)), count(n + 1));
  e.fixed = add_up(e.fixed, mul_up(model.remainder(depth, leaves, unit.unit), abs_sum));
  return e;
}

}  // namespace polar_express::detail::rounding
