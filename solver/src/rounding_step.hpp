#pragma once
// One step X' = c0 X + P(A) X, A = X X^T, under the rounding model, in the
// torch and direct forms (internal; solver/ROUNDING.md, section 4): the
// computed step is X' = (H + dH) X + F with H = h(A) exact, and the model
// bounds ||dH|| (every rounding of the k x k side, carried through the
// polynomial) and ||F|| (the rounding of the k x K products).
#include "polynomial_range.hpp"
#include "rounding_model.hpp"

#include "polar_express/solver/enclosure.hpp"

#include <memory>
#include <vector>

namespace polar_express::detail::rounding {

// A step's polynomial prepared once: p (for the exact image), h(y) = c0 +
// c1 y + ..., P = h - c0, and the partial sums of both forms' Horner
// evaluations, all as polynomials in y (the eigenvalues of A).
class StepPolynomial {
 public:
  StepPolynomial(std::vector<Rational> coefficients, unsigned working_bits);

  const std::vector<Rational>& coefficients() const { return coefficients_; }
  std::size_t size() const { return coefficients_.size(); }  // q
  const RigorousPolynomial& odd() const { return odd_; }
  const PolynomialRange& h() const { return *h_; }
  const PolynomialRange& tail() const { return *tail_; }  // P
  const PolynomialRange& identity() const { return *identity_; }  // y
  // torch: scaled[j] = c_j y (j = 1 .. q-1); stage j (q-2 down to 1):
  // times_y[j] = B_{j+1} y and sums[j] = c_j y + B_{j+1} y = B_j, with
  // B_{q-1} = c_{q-1} y.
  const PolynomialRange& scaled(std::size_t j) const { return *scaled_.at(j); }
  const PolynomialRange& times_y(std::size_t j) const { return *times_y_.at(j); }
  const PolynomialRange& torch_sum(std::size_t j) const { return *torch_sums_.at(j); }
  // direct: stage j (q-2 down to 1): P_j = alpha y P_{j+1} + c_j y with
  // P_{q-1} = y, alpha = c_{q-1} on the first stage and 1 after it.
  const PolynomialRange& direct_partial(std::size_t j) const { return *direct_.at(j); }
  // The Gram form's T = H A: y h(y).
  const PolynomialRange& h_times_y() const { return *h_times_y_; }

 private:
  std::vector<Rational> coefficients_;
  RigorousPolynomial odd_;
  std::unique_ptr<PolynomialRange> h_, tail_, identity_, h_times_y_;
  std::vector<std::unique_ptr<PolynomialRange>> scaled_, times_y_, torch_sums_, direct_;
};

// What the model says of one step from singular values in [lo, hi].
struct StepTerms {
  Real perturbation;  // ||dH|| <= perturbation
  Real min_h;         // min |h| over [lo^2, hi^2] >= min_h (0 when h may vanish there)
  Real absolute;      // ||F|| <= absolute
  bool overflow = false;
};

// The eigenvalues of A = X X^T (y in [lo^2, hi^2]) about a centre, and a
// bound on the computed A's error.
struct Spectrum {
  Interval y;
  Real center;
  Real radius;
  Real error;
};
Spectrum spectrum_of(const Interval& singular);  // error 0

// v(A_hat) + D with ||D|| <= error, as a centre and radius.
Square square_of(const PolynomialRange& v, const Spectrum& s, const Real& error);
Operand operand_of(const Square& m, std::int64_t k);
// |c| rounded up at the current precision.
Real abs_upper(const Rational& c);
// min |g| over a range (0 when it contains 0), rounded down.
Real min_abs(const Interval& range);
// Whether a stored matrix of this norm may hold an entry beyond the largest
// finite number (an entry is at most the spectral norm).
bool may_overflow(const Real& norm, const Unit& unit);

// How the k x k products of a Horner evaluation round.
struct SquareArithmetic {
  Unit stored;            // each product's result
  Unit accumulation;
  bool stored_is_accumulation = false;
  bool operands_rounded = false;  // each operand first rounded to `operands` (TF32)
  Unit operands;
  Real coefficient;
  std::int64_t k = 0;
};

// The runtime's Horner evaluation of P(A_hat) = alpha * poly: the computed
// matrix is alpha (poly(A_hat) + D) with ||D|| <= error; alpha is c1 for a
// cubic (a coefficient the apply rounds) and 1 otherwise.
struct Horner {
  const PolynomialRange* poly = nullptr;
  Real alpha;
  bool alpha_rounded = false;
  Real error;
  bool overflow = false;
};
Horner direct_horner(const Model& model, const SquareArithmetic& a, const StepPolynomial& p, const Spectrum& s);

// The formats of a step as units, and its shape.
struct StepArithmetic {
  Unit storage;
  Unit accumulation;
  Unit elementwise;         // an elementwise operation: computed in accumulation, stored in storage
  bool storage_is_accumulation = false;
  Real coefficient;         // relative rounding of a coefficient as the products receive it
  std::int64_t k = 0;
  std::int64_t long_side = 0;
};
StepArithmetic step_arithmetic(const Arithmetic& arithmetic, std::int64_t k, std::int64_t long_side);

// The computed A = fl(X X^T) for singular values of X up to `x.norm`:
// ||A_hat - A|| <= the result (accumulation over K, then the rounding to
// `stored` unless that is the accumulation format).
Real gram_error(const Model& model, const Unit& accumulation, const Unit& stored, bool stored_is_accumulation,
                const Operand& x, const Spectrum& s, std::int64_t k, std::int64_t long_side);

// The upper bound of the events (norm() and remainder() calls) one step of
// degree 2q-1 uses, in every form (the certificate checks it).
int events_per_step(std::size_t q);

// The terms of one step from singular values in `singular`, whose images
// through |p| lie in `image` (the exact step, for ||(H + dH) X||).
StepTerms torch_step(const Model& model, const StepArithmetic& a, const StepPolynomial& p, const Interval& singular,
                     const Interval& image);
StepTerms direct_step(const Model& model, const StepArithmetic& a, const StepPolynomial& p, const Interval& singular,
                      const Interval& image);

// The singular values of the computed step from those of H X (`exact`,
// non-negative) and the terms: the better of the relative bound
// sigma (1 +- rho), rho = ||dH|| / min |h| (Ostrowski: (I + dH H^-1) H X),
// and the absolute one sigma +- ||dH|| hi (Weyl), each then +- ||F||; the
// lower end at least 0, ends rounded outward.
Interval widen(const Interval& exact, const StepTerms& terms, const Real& hi);
// The singular values of H X: |p| over [lo, hi] (lo >= 0), ends outward.
Interval singular_image(const RigorousPolynomial& p, const Interval& singular);

// rho, or infinity when min_h is 0.
Real relative_of(const StepTerms& terms);

// A step's record from the singular values of H X (`exact`) and its terms,
// taken on singular values up to `hi` before the step (widen).
RoundedStep rounded_step(const Interval& exact, const StepTerms& terms, const Real& hi);

}  // namespace polar_express::detail::rounding
