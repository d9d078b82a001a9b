#pragma once
// CPU backend: Eigen, f64 or f32, threads over the batch.
//
//   auto schedule = polar_express::runtime::schedule_from_table(table, {1.02, 1e-6});
//   polar_express::runtime::CpuPlan<float> plan({B, M, N}, schedule);
//   plan.execute(gradients, updates);         // or execute(x, x) in place
//   if (!plan.all_succeeded()) ... plan.status()[b] ...
//
// Per matrix: X <- G / (factor ||G||_F + eps), the norm reduced in double
// after scaling by max |g| (so neither 1e-30 nor 1e30 under/overflows), then
// every step X <- c0 X + (c1 A + ... + c_{q-1} A^{q-1}) X with A = X X^T when
// rows <= cols, or X <- X (c0 I + c1 A + ...) with A = X^T X when rows > cols
// (no transpose copy), the polynomial in A by Horner.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <memory>
#include <type_traits>
#include <vector>

namespace polar_express::runtime {

template <class T>
class CpuPlan {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "CpuPlan runs in float or double");

 public:
  // Allocates every buffer and starts the worker threads; throws
  // std::invalid_argument for a bad shape, schedule or options.
  CpuPlan(const BatchShape& shape, Schedule schedule, const PlanOptions& options = {});
  ~CpuPlan();
  CpuPlan(CpuPlan&&) noexcept;
  CpuPlan& operator=(CpuPlan&&) noexcept;
  CpuPlan(const CpuPlan&) = delete;
  CpuPlan& operator=(const CpuPlan&) = delete;

  // Polar factors of the batch at `input` into `output` (which may equal
  // `input`; other overlap is not allowed).  Allocates nothing of its own
  // (Eigen's GEMM may still take a blocking buffer for large matrices).
  // Returns all_succeeded().  Not reentrant: one execute per plan at a time.
  bool execute(const T* input, T* output);

  // Of the last execute, one entry per matrix.
  const std::vector<MatrixStatus>& status() const;
  // <G, U> per matrix (NaN where the status is not a success); empty unless
  // options.nuclear_norm.
  const std::vector<double>& nuclear_norms() const;
  bool all_succeeded() const;
  // options.certified_error when every matrix of the last execute is kOk
  // (a zero matrix has no singular values near 1 to bound).
  std::optional<double> sigma_error_bound() const;

  const BatchShape& shape() const;
  const Schedule& schedule() const;
  int steps() const;
  int threads() const;
  // Whether the Gram iteration runs, where it restarts, and whether the
  // k x k products go by lower triangle (options resolved for this shape).
  const ProductPlan& products() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class CpuPlan<float>;
extern template class CpuPlan<double>;

}  // namespace polar_express::runtime
