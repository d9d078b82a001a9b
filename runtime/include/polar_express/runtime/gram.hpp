#pragma once
// Planning the Gram iteration (the Polar Express paper's Appendix F).  C++17.
//
// For a wide k x K iterate (k <= K; tall ones are transposed in thought),
// every step X <- h(X X^T) X with h(a) = c0 + c1 a + ... is a polynomial in
// R = X0 X0^T applied to X0: X_t = Q_t X0 with Q_0 = I, and with A_t = X_t X_t^T
//   Q_{t+1} = h(A_t) Q_t,   A_{t+1} = h(A_t) A_t h(A_t)
// (all polynomials in R, so they commute and stay symmetric).  Only k x k
// products remain; X0 is touched to form R and for X_T = Q_T X0.
//
// In finite precision there are two weak points.  Forming R squares the
// condition number: its rounding (relative u to ||R||) moves the singular
// vectors of the smallest singular values s by up to u / s^2 instead of the
// standard path's u / s (harmless for the output's singular values, which
// all go to 1, but visible in its distance to the exact polar factor).  And
// the product Q X0: Q grows like f(s)/s
// for the smallest singular values s (up to ~1/s), and its rounding error,
// relative u * ||Q||, lands on every direction of X0, including the large
// ones.  A restart (X0 <- Q X0, R recomputed, Q = I) caps that growth.  The
// plan bounds the growth of each segment by the scalar map, max over s in
// (0, 1] of f_{a..b}(s) / s, and places restarts greedily so that no segment
// grows by more than a budget chosen from the precision (gram_growth_budget).
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <cstdint>
#include <vector>

namespace polar_express::runtime {

// The largest growth of Q allowed between restarts when Q and the iterate are
// stored with `significand_bits` (bf16 8, fp16 11, f32 24, f64 53) and k is
// the Gram side.  The Gram form's extra error in Q X0 is about u G / sqrt(k)
// per entry relative to X (u = 2^-bits; the k rounding errors summed in an
// entry are independent), so G = sqrt(k) 2^(min(bits - 8, 16) / 2) keeps it
// at one bf16 unit for bf16 (what the standard path's own storage rounding
// costs per step), 2^-9.5 for fp16, and 2^8 u for f32 and f64.
double gram_growth_budget(int significand_bits, std::int64_t k);

// max over s in (0, 1] of |f_{end-1} o ... o f_first (s)| / |f_{first-1} o ... (s)|:
// how much steps [first, end) of the schedule can amplify a singular value
// (its limit s -> 0 is the product of the c0; sampled on a log grid).
double gram_segment_growth(const Schedule& schedule, int first, int end);

// Steps t (0 < t < steps) before which the iteration restarts: every
// `interval` steps when interval > 0, else greedily so that each segment's
// growth stays within `budget` (a single step is always one segment).
std::vector<int> gram_restart_steps(const Schedule& schedule, int steps, double budget, int interval = 0);

// What a plan does for one shape: whether the Gram iteration runs and where
// it restarts, and whether the k x k products are computed by lower triangle.
struct ProductPlan {
  bool gram = false;
  std::vector<int> restarts;
  bool symmetric = false;
};

// The options' choice for `shape` (kAuto resolved as PlanOptions says, with
// `symmetric_from_k` the backend's threshold for symmetric products).
ProductPlan plan_products(const BatchShape& shape, const Schedule& schedule, int steps, const PlanOptions& options,
                          int significand_bits, std::int64_t symmetric_from_k);

}  // namespace polar_express::runtime
