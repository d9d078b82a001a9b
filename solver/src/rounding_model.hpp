#pragma once
// The rounding of one operation as a bound on the spectral norm of its error
// matrix (internal to the solver; solver/ROUNDING.md, sections 2 and 3).
// Every number here is an upper bound computed in MPFR with upward rounding
// (lower bounds with downward rounding), at the caller's PrecisionScope.
#include "polar_express/solver/rounding.hpp"

#include <cstddef>
#include <cstdint>

namespace polar_express::detail::rounding {

// Bound arithmetic on non-negative operands: a + b, a * b, a / b, sqrt(a)
// rounded up (`up`) or down (`down`); a - b rounded up or down.
Real add_up(const Real& a, const Real& b);
Real mul_up(const Real& a, const Real& b);
Real div_up(const Real& a, const Real& b);
Real sqrt_up(const Real& a);
Real sub_up(const Real& a, const Real& b);
Real add_down(const Real& a, const Real& b);
Real mul_down(const Real& a, const Real& b);
Real div_down(const Real& a, const Real& b);
Real sqrt_down(const Real& a);
Real sub_down(const Real& a, const Real& b);
Real infinity();
const Real& larger(const Real& a, const Real& b);
const Real& smaller(const Real& a, const Real& b);

// One format's rounding to nearest: fl(x) = x (1 + delta) + eta with
// |delta| <= unit and |eta| <= underflow (half the subnormal spacing), for
// |x| below `largest` (the largest finite number).
struct Unit {
  Real unit;
  Real underflow;
  Real largest;
};
Unit unit_of(const FloatFormat& format);
// An operation computed in `compute` and its result rounded again to
// `storage` (a bf16 elementwise operation, done in fp32): the two roundings
// compose to unit us + uc + us uc.  `same`: one rounding only.
Unit rounded_twice(const Unit& storage, const Unit& compute, bool same);

// A bound ||E||_2 <= fixed + sqrt(variance) * tail: `fixed` holds the
// deterministic parts, `variance` the sum of the variance proxies of
// independent, mean-zero first-order parts (matrix Hoeffding), always 0
// under the worst-case bound.
struct ErrorBound {
  Real fixed = 0;
  Real variance = 0;
  void add(const ErrorBound& other);
};

// The bound kind and the failure budget of one event.  Every tail() used in
// a norm() and every remainder() is one event; each fails with probability
// at most event_failure (the caller divides the run's budget among them).
class Model {
 public:
  Model(RoundingBound bound, const Real& event_failure);
  bool probabilistic() const { return bound_ == RoundingBound::kProbabilistic; }

  // sqrt(2 ln(d / f)): the matrix Hoeffding factor for a matrix whose rows
  // and columns number d together (its Hermitian dilation has dimension d).
  Real tail(std::int64_t dimension) const;
  // fixed + sqrt(variance) tail(dimension).
  Real norm(const ErrorBound& e, std::int64_t dimension) const;
  // gamma_n = n u / (1 - n u) (infinite when n u >= 1).
  Real gamma(std::int64_t n, const Real& u) const;
  // The second-order remainder of an inner product whose terms each pass
  // at most `depth` roundings of unit u, with `leaves` terms in the whole
  // product: rho2 = e^L (e^eps - 1) + e^L - 1 - L, L = lambda sqrt(depth) u,
  // eps = depth u^2 / (2 (1 - u)), lambda = sqrt(2 ln(2 leaves / f)).
  Real remainder(std::int64_t depth, const Real& leaves, const Real& u) const;

  // Events used so far (a norm() with a probabilistic part, a remainder()).
  std::size_t events() const { return events_; }

 private:
  RoundingBound bound_;
  Real event_failure_;
  mutable std::size_t events_ = 0;
};

// A computed k x k matrix M known by ||M - center I||_2 <= radius.
struct Square {
  Real center;
  Real radius;
};
Real norm_of(const Square& m);                         // |center| + radius
Real abs_norm_of(const Square& m, std::int64_t k);     // a bound on || |M| ||_2
Real abs_norm_of_rectangle(const Real& norm, std::int64_t k);  // k x K: ||M||_F <= sqrt(k) ||M||_2

// A product's operand by its norm and its entrywise absolute value's norm.
struct Operand {
  Real norm;
  Real abs_norm;
};

// Rounding every entry of a computed k x k matrix M: the diagonal
// deterministically (|M_ii| <= |center| + radius), the off-diagonal part by
// its rows' norms (at most radius) or, worst case, its Frobenius norm
// (at most sqrt(k) radius).
ErrorBound round_square(const Model& model, const Square& m, const Unit& unit, std::int64_t k);
// Rounding every entry of a k x K matrix of norm at most `norm`.
ErrorBound round_rectangle(const Model& model, const Real& norm, const Unit& unit, std::int64_t k,
                           std::int64_t long_side);

// The accumulation error of C = alpha L R + beta D (inner length n, a rows x
// cols result, beta = 0 for none) in `unit` arithmetic, any summation order.
// Worst case: gamma_{n+3} (|alpha| |L| |R| + |beta| |D|).  Probabilistic:
// first order, every partial sum's row bounded by |alpha| ||L|| ||R|| +
// |beta| ||D|| over at most n + 3 roundings per entry, plus the remainder.
// The remainder is one event of its own (fixed part of the result).
ErrorBound accumulate(const Model& model, std::int64_t n, const Real& alpha, const Operand& l, const Operand& r,
                      const Real& beta, const Operand& d, const Unit& unit, std::int64_t rows, std::int64_t cols);

}  // namespace polar_express::detail::rounding
