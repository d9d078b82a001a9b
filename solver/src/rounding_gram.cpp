#include "rounding_gram.hpp"

#include <algorithm>

namespace polar_express::detail::rounding {
namespace {

// A k x k matrix known only by its norm (Q): ||Q - 0 I|| <= norm.
Square by_norm(const Real& norm) { return {Real(0), norm}; }

}  // namespace

std::vector<RoundedStep> gram_chain(const Model& model, const Arithmetic& arithmetic, const StepArithmetic& a,
                                    const std::vector<std::shared_ptr<const StepPolynomial>>& chain,
                                    const Interval& normalised, const std::vector<int>& restarts) {
  const std::int64_t k = a.k, big = a.long_side;
  SquareArithmetic side;
  side.stored = unit_of(arithmetic.side);
  side.accumulation = a.accumulation;
  side.stored_is_accumulation = arithmetic.side.significand_bits == arithmetic.accumulation.significand_bits;
  side.operands_rounded = arithmetic.side_operands.significand_bits < arithmetic.side.significand_bits;
  side.operands = unit_of(arithmetic.side_operands);
  side.coefficient = a.coefficient;
  side.k = k;
  // H = alpha P + c0 I: a multiply and an add in the side format.
  const Unit add_identity = rounded_twice(side.stored, side.stored, false);
  const bool side_is_storage = arithmetic.side.significand_bits == arithmetic.storage.significand_bits;
  const std::size_t steps = chain.size();
  std::vector<char> restart_before(steps + 1, 0);
  for (int t : restarts) restart_before[static_cast<std::size_t>(t)] = 1;

  // Operand rounding of a k x k matrix (TF32), or none.
  auto operand_rounding = [&](const Square& m) {
    return side.operands_rounded ? model.norm(round_square(model, m, side.operands, k), 2 * k) : Real(0);
  };
  // The accumulation error of a k x k product L R.
  auto product = [&](const Operand& l, const Operand& r) {
    return model.norm(accumulate(model, k, Real(1), l, r, Real(0), {Real(0), Real(0)}, side.accumulation, k, k),
                      2 * k);
  };

  std::vector<RoundedStep> result;
  Interval current = normalised;  // the virtual iterate's singular values
  Interval x0 = normalised;       // the stored iterate's, at the segment's start
  Real a_error = 0;               // ||A_hat - X X^T|| of the virtual iterate
  Real q_norm = 1;
  for (std::size_t t = 0; t < steps; ++t) {
    const StepPolynomial& p = *chain[t];
    const bool first = t == 0 || restart_before[t];
    const bool last = t + 1 == steps || restart_before[t + 1];
    if (!(current.upper < infinity())) {
      // Lost: every later step stays lost.
      RoundedStep r;
      r.exact = {Real(0), infinity()};
      r.interval = r.exact;
      r.relative = r.perturbation = r.absolute = infinity();
      r.overflow = true;
      result.push_back(std::move(r));
      continue;
    }
    Spectrum s = spectrum_of(current);
    if (first) {
      x0 = current;
      s.error = gram_error(model, side.accumulation, side.stored, side.stored_is_accumulation,
                           {x0.upper, abs_norm_of_rectangle(x0.upper, k)}, s, k, big);
      q_norm = 1;
    } else {
      s.error = a_error;
    }
    StepTerms terms;
    const Horner horner = direct_horner(model, side, p, s);
    terms.overflow = horner.overflow;
    // H = alpha P + c0 I, in the side format.
    const Real c0 = abs_upper(p.coefficients()[0]);
    const Square p_square = square_of(*horner.poly, s, horner.error);
    Real h_error = mul_up(horner.alpha, horner.error);
    Real coefficient_terms = c0;
    if (horner.alpha_rounded) coefficient_terms = add_up(coefficient_terms, mul_up(horner.alpha, norm_of(p_square)));
    h_error = add_up(h_error, mul_up(a.coefficient, coefficient_terms));
    h_error = add_up(h_error, model.norm(round_square(model, square_of(p.h(), s, h_error), add_identity, k), 2 * k));
    const Square h_square = square_of(p.h(), s, h_error);
    const Operand h_operand = operand_of(h_square, k);
    terms.perturbation = add_up(p.tail().perturbation(s.center, s.radius, s.error), h_error);
    terms.min_h = min_abs(p.h().range(s.y));
    const Real h_rounding = operand_rounding(h_square);

    // Q <- H Q (Q = H on a segment's first step): Q_hat' = H_hat Q_hat + E_Q,
    // and the virtual iterate moves by E_Q X0.
    Real q_error = 0;
    if (first) {
      q_norm = h_operand.norm;
    } else {
      const Square q_square = by_norm(q_norm);
      const Operand q_operand = operand_of(q_square, k);
      const Real q_rounding = operand_rounding(q_square);
      q_error = add_up(mul_up(h_rounding, q_norm), mul_up(add_up(h_operand.norm, h_rounding), q_rounding));
      q_error = add_up(q_error, product(h_operand, q_operand));
      q_norm = add_up(mul_up(h_operand.norm, q_norm), q_error);
    }
    const Interval exact = singular_image(p.odd(), current);
    terms.absolute = mul_up(q_error, x0.upper);
    const Interval virtual_next = widen(exact, terms, current.upper);
    // ||Q_hat|| <= sigma_max(Q X0) / sigma_min(X0).
    if (x0.lower > 0) q_norm = smaller(q_norm, div_up(virtual_next.upper, x0.lower));
    terms.overflow = terms.overflow || may_overflow(q_norm, side.stored) || may_overflow(h_operand.norm, side.stored);

    if (!last) {
      // T = H A, A <- H T: ||A_hat' - X' X'^T|| <= ||H|| (||H|| e + 2 ||dH|| hi^2)
      // + the two products' errors + the cross terms of E_Q.
      const Real hi2 = mul_up(current.upper, current.upper);
      const Square a_square{s.center, add_up(s.radius, s.error)};
      const Operand a_operand = operand_of(a_square, k);
      Real t_error = add_up(mul_up(h_rounding, a_operand.norm),
                            mul_up(add_up(h_operand.norm, h_rounding), operand_rounding(a_square)));
      t_error = add_up(t_error, product(h_operand, a_operand));
      const Square t_square = square_of(p.h_times_y(), s, add_up(mul_up(h_operand.norm, s.error), t_error));
      const Operand t_operand = operand_of(t_square, k);
      Real a2_error = add_up(mul_up(h_rounding, t_operand.norm),
                             mul_up(add_up(h_operand.norm, h_rounding), operand_rounding(t_square)));
      a2_error = add_up(a2_error, product(h_operand, t_operand));
      Real next = mul_up(h_operand.norm, add_up(mul_up(h_operand.norm, s.error), mul_up(mul_up(Real(2), terms.perturbation), hi2)));
      next = add_up(next, add_up(mul_up(h_operand.norm, t_error), a2_error));
      const Real cross = mul_up(mul_up(q_error, x0.upper), add_up(mul_up(Real(2), mul_up(h_operand.norm, current.upper)),
                                                                  mul_up(q_error, x0.upper)));
      a_error = add_up(next, cross);
      terms.overflow = terms.overflow || may_overflow(t_operand.norm, side.stored);
    } else {
      // X = fl(fl(Q) X0): Q rounded to the element type, the product's
      // accumulation, its rounding to the element type.
      const Real q_narrowed = side_is_storage ? Real(0) : model.norm(round_square(model, by_norm(q_norm), a.storage, k), 2 * k);
      const Operand q_operand{add_up(q_norm, q_narrowed), abs_norm_of(by_norm(add_up(q_norm, q_narrowed)), k)};
      const Operand x0_operand{x0.upper, abs_norm_of_rectangle(x0.upper, k)};
      const Real acc = model.norm(
          accumulate(model, k, Real(1), q_operand, x0_operand, Real(0), {Real(0), Real(0)}, a.accumulation, k, big),
          k + big);
      Real absolute = add_up(terms.absolute, add_up(mul_up(q_narrowed, x0.upper), acc));
      if (!a.storage_is_accumulation) {
        const Real top = add_up(virtual_next.upper, add_up(mul_up(q_narrowed, x0.upper), acc));
        absolute = add_up(absolute, model.norm(round_rectangle(model, top, a.storage, k, big), k + big));
        terms.overflow = terms.overflow || may_overflow(top, a.storage);
      }
      terms.absolute = absolute;
    }
    result.push_back(rounded_step(exact, terms, current.upper));
    current = result.back().interval;
  }
  return result;
}

}  // namespace polar_express::detail::rounding
