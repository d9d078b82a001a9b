#pragma once
// Certificates for the precision a schedule runs in.  The certified interval
// of singular values is carried through a model of the rounding of every
// product of every step (solver/ROUNDING.md derives it): each step maps
// [lo, hi] through p exactly (enclosure.hpp), then widens it by a relative
// part (the rounding of H = h(X X^T): X' = (I + E) H X, so every singular
// value moves by a factor within 1 +- ||dH|| / min |h|) and an absolute part
// (the rounding of the last products, by Weyl's inequality).  Two bounds:
// worst case (every rounding error at its extreme: rigorous, loose by about
// sqrt(k)), and probabilistic (rounding errors independent, mean zero and
// bounded, as in Higham and Mary's probabilistic analysis; the whole run's
// bounds hold together with probability at least 1 - failure_probability,
// by matrix Hoeffding inequalities and a union bound).  Either way the
// arithmetic is outward-rounded MPFR, so the numbers are bounds of the model.
#include "polar_express/solver/schedule.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace polar_express {

// A binary floating-point format: `significand_bits` (the implicit one
// included; unit roundoff 2^-significand_bits), normal numbers from
// 2^min_exponent, finite numbers below 2^max_exponent.
struct FloatFormat {
  std::string name;
  int significand_bits = 53;
  int min_exponent = -1022;
  int max_exponent = 1024;
};

// The format of an element type the runtime runs (by either spelling of
// runtime/vocabulary.hpp, whose table it reads), and of "tf32" (the 11-bit
// operands of the tensor-core fp32 products).  std::invalid_argument naming
// the text otherwise.
FloatFormat float_format(const std::string& name);

// Which operations, in which order, run a step X <- c0 X + (c1 A + ...) X.
enum class StepForm {
  // The published PyTorch code (emit --target torch): A = X X^T; B = c_last A,
  // then B = c_j A + B @ A for the others; X = c0 X + B @ X; every
  // elementwise operation and every product rounded to the element type.
  kTorch,
  // The runtime's standard form (runtime/program.hpp): A = X X^T, Horner
  // products P = alpha A P + c_j A and X = alpha P X + c0 X, each one fused
  // product rounded once.
  kDirect,
  // The runtime's Gram iteration (runtime/gram.hpp): R = X0 X0^T, then per
  // step H = c0 I + P(A), Q <- H Q, A <- H (A H), X = Q X0 at each restart
  // and at the end; the k x k matrices in fp32 for 16-bit element types
  // (with TF32 operands in their products, as the CUDA backend runs them).
  kGram,
};
std::string to_string(StepForm form);
StepForm parse_step_form(const std::string& text);  // "torch", "direct", "gram"

enum class RoundingBound { kWorstCase, kProbabilistic };
std::string to_string(RoundingBound bound);
RoundingBound parse_rounding_bound(const std::string& text);  // "worst-case", "probabilistic"

// The formats one form runs `dtype` in.
struct Arithmetic {
  FloatFormat storage;       // the iterate, and the k x k matrices of the torch and direct forms
  FloatFormat accumulation;  // the inner products of every product and the elementwise operations
  FloatFormat side;          // the Gram form's k x k matrices
  FloatFormat side_operands; // the operands of the Gram form's k x k products as they are multiplied
  FloatFormat coefficients;  // the coefficients as the products receive them
};
// 16-bit element types accumulate in fp32 (torch's CPU matmuls, cuBLAS with
// CUBLAS_COMPUTE_32F) and f32/f64 in themselves; coefficients reach the
// products in fp32 (f64: in double); the Gram form's k x k side is fp32 with
// TF32 operands for 16-bit element types (the CUDA backend), else the
// element type.
Arithmetic arithmetic_for(const std::string& dtype, StepForm form);

struct RoundingOptions {
  std::string dtype = "bf16";
  std::int64_t rows = 0;  // the matrix shape; k = min(rows, cols), K = max
  std::int64_t cols = 0;
  StepForm form = StepForm::kDirect;
  RoundingBound bound = RoundingBound::kProbabilistic;
  // Probabilistic bound: the probability that any bound of the run fails.
  double failure_probability = 1e-6;
  // kGram: the steps (0-based, increasing, inside (0, steps)) before which
  // the iteration restarts, as the runtime places them.
  std::vector<int> gram_restarts;
  // Compute each step's safe band (a bisection per step).  Without it the
  // bands are left 0 and a blow-up is located at the first step whose upper
  // end passes kBlowUpTop (searches that only need the verdict skip it).
  bool band = true;
};
// std::invalid_argument naming the bad field and value.
void validate(const RoundingOptions& options);

// One step under the model.
struct RoundedStep {
  Interval exact;     // |p| over the interval before the step: the singular values of H X
  Interval interval;  // the singular values after the step, rounding included (ends rounded outward)
  Real relative;      // rho: sigma(H X) (1 +- rho) ...
  Real perturbation;  // ||dH|| (used as sigma(H X) +- ||dH|| hi where that is tighter)
  Real absolute;      // ... +- alpha: Weyl's bound on the last products' rounding
  Real error;         // max(1 - interval.lower, interval.upper - 1), rounded up
  // The safe band: with the lower end where the chain has it, singular
  // values up to this after the step stay below kBlowUpTop to the end.
  Real band;
  bool overflow = false;  // a stored entry may exceed the element type's largest finite number
};

// A singular value above this at the end is the blow-up case: its error
// exceeds 1 (worse than returning zero), and the runtime's divergence rule
// ||U||_F > 2 sqrt(k) cannot fire while every singular value is below it.
inline constexpr int kBlowUpTop = 2;

struct RoundingCertificate {
  RoundingOptions options;
  Arithmetic arithmetic;
  std::int64_t k = 0;
  std::int64_t long_side = 0;
  Interval input;       // the exactly normalised singular values the certificate covers
  Interval normalised;  // after the normalisation's own rounding (step 0)
  Real normalisation_relative;  // nu: the computed scale within (1 +- nu) of the exact one
  Real normalisation_absolute;  // the rounding of the scaled entries
  Real input_band;      // the band before step 1 (of the normalised input)
  std::vector<RoundedStep> steps;
  // The first step after which the upper end leaves the band (0: already the
  // normalised input), when the run can end above kBlowUpTop.
  std::optional<int> blow_up_step;
  // The first step after which the lower end is 0: rounding may have
  // destroyed the smallest singular values.
  std::optional<int> vanishing_step;
  Real final_error;     // the last step's error
};

// The certificate of `steps` (exact coefficients per ScheduleStep::exact())
// for inputs whose exactly normalised singular values lie in `input`, under
// `normalization` (Frobenius; the AOL rescaling is not modelled and is
// refused), computed at certification_bits(precision_bits) (the bounds
// hold at any precision; a search may pass a small one).  Throws
// std::invalid_argument for bad options, an AOL normalisation or a bad
// interval.
RoundingCertificate certify_rounding(const std::vector<ScheduleStep>& steps, const Normalization& normalization,
                                     const Interval& input, const RoundingOptions& options, unsigned precision_bits);

// The certificate as JSON (the "rounding" object of verify's and design's
// JSON): options, arithmetic, the normalised interval, every step's
// interval, error, relative and absolute terms and band, the final error,
// blow_up_step and vanishing_step (null when none).
std::string to_json(const RoundingCertificate& certificate);

}  // namespace polar_express
