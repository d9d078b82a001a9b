#pragma once
// CPU backend: f64 or f32 (and f16 or bf16 elements, computed in f32), the
// iteration program (program.hpp) run on an optimised multi-threaded BLAS
// (OpenBLAS, through CBLAS, with the machine's kernels: cpu_info.hpp).
//
//   auto schedule = polar_express::runtime::builtin_schedule("polar-express-nanochat-d5");
//   polar_express::runtime::CpuPlan<float> plan({B, M, N}, schedule);
//   plan.execute(gradients, updates);         // or execute(x, x) in place
//   const auto& report = plan.report();       // statuses, <G, U>, the certified bound
//
// Threads (PlanOptions::threads, default and at most usable_cpus(): the
// process's affinity mask and cgroup CPU quota) go to the matrices of the
// batch first (each worker runs whole matrices with a single-threaded BLAS)
// and what is left to the BLAS inside each matrix, so a batch of one large
// matrix uses every thread in its products and a batch of many small ones
// runs them side by side, never more threads than asked for.  The BLAS thread count is process-wide
// (OpenBLAS has no per-call setting): execute sets it, so two plans with
// different thread counts should not execute concurrently.  A plan works in
// a forked child (fork copies only the calling thread): there its first
// execute starts a new pool, and destroying it leaks the inherited one.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express/runtime/program.hpp"
#include "polar_express/runtime/report.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <cstdint>
#include <memory>
#include <type_traits>

namespace polar_express::runtime {

template <class T>
class CpuPlan {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "CpuPlan runs in float or double");

 public:
  // Compiles the program, allocates every buffer and starts the worker
  // threads; throws std::invalid_argument for a bad shape, schedule or
  // options (before any planning work; threads above max_cpu_threads()
  // once the program is compiled).
  CpuPlan(const BatchShape& shape, const Schedule& schedule, const PlanOptions& options = {});
  ~CpuPlan();
  CpuPlan(CpuPlan&&) noexcept;
  CpuPlan& operator=(CpuPlan&&) noexcept;
  CpuPlan(const CpuPlan&) = delete;
  CpuPlan& operator=(const CpuPlan&) = delete;

  // Polar factors of the batch at `input` into `output` (which may equal
  // `input`; other overlap is not allowed).  Allocates nothing of its own.
  // Returns report().all_succeeded.  Not reentrant: one execute per plan at
  // a time.
  bool execute(const T* input, T* output);

  // Float plans: the batch in 16-bit elements (`element` ElementType::kF16 or
  // kBF16, as bit patterns; the shape's strides in elements), widened to
  // float as normalise reads it and rounded to nearest even as store writes
  // it, so no copy of the batch is made.  As execute otherwise.
  template <class U = T, class = std::enable_if_t<std::is_same_v<U, float>>>
  bool execute(const std::uint16_t* input, std::uint16_t* output, ElementType element) {
    return execute_16bit(input, output, element);
  }

  // Of the last execute.
  const Report& report() const;

  const Program& program() const;
  const Schedule& schedule() const;
  // Matrices run side by side, and BLAS threads inside each.
  int workers() const;
  int blas_threads() const;

 private:
  bool execute_16bit(const std::uint16_t* input, std::uint16_t* output, ElementType element);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class CpuPlan<float>;
extern template class CpuPlan<double>;

// The most threads a CPU plan takes (PlanOptions::threads; 0, the
// hardware's count, is capped at it): the NUM_THREADS OpenBLAS was built
// with (64 in Debian's and PyPI's builds).  Every thread of a plan may be
// inside a BLAS call at once, each holding one of OpenBLAS's memory buffers,
// of which it has twice NUM_THREADS; past them it aborts the process.
// Loads OpenBLAS (std::runtime_error when it cannot).
int max_cpu_threads();

// The planning traits of the CPU backend for element type T.
template <class T>
BackendTraits cpu_traits();

}  // namespace polar_express::runtime
