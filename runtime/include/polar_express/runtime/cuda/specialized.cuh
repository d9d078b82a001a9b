#pragma once
// Kernels specialised to one schedule: its coefficients are compile-time
// constants, so every step is unrolled with them as immediates (no
// coefficient loads, no loop over a runtime list).
//
// THE TABLE CONTRACT.  A schedule is handed over as a struct
//
//   struct MyTable {
//     static constexpr int kSteps = 5;                   // >= 1
//     static constexpr int kMaxCoefficients = 3;         // >= (kDegrees[s] + 1) / 2 for all s
//     static constexpr int kDegrees[kSteps] = {5, ...};  // odd, >= 3
//     static constexpr float kCoefficients[kSteps][kMaxCoefficients] = {{c0, c1, c2}, ...};
//                                                        // increasing power; unused slots 0
//     static constexpr float kNormFactor = 1.02f;        // X / (kNormFactor ||X||_F + kNormEps)
//     static constexpr float kNormEps = 1e-6f;
//   };
//
// and a translation unit compiled by nvcc (-std=c++17 -I runtime/include)
// instantiates SpecializedKernels<MyTable>, typically as
//
//   namespace polar_express::schedules {
//   std::unique_ptr<polar_express::cuda::ScheduleKernels> make_<ident>_cuda() {
//     return std::make_unique<polar_express::cuda::SpecializedKernels<MyTable>>();
//   }
//   }
//
// which polar_express::cuda::Plan takes (as a shared_ptr).  Steps past
// kSteps repeat the last one (the after_list rule of every shipped schedule).
//
// What it provides: a fused kernel, one thread block per matrix, that keeps
// the iterate, the Gram matrix and the Horner accumulators in shared memory
// in fp32 and runs normalisation, every step and the output write in one
// launch (for matrices whose buffers fit the device's shared memory: 64 x 128
// takes 112 KiB); other shapes take the plan's cuBLASLt path with the same
// constants (schedule()).  Statuses, the <G, U> by-product and the NaN
// policy are those of the generic path.
#include "polar_express/runtime/cuda/device.cuh"
#include "polar_express/runtime/cuda/kernels.hpp"

#include <algorithm>
#include <cstdint>

namespace polar_express::cuda {
namespace specialized {

inline constexpr int kThreads = 256;
// Shared memory the fused kernel's own reductions take beside the dynamic part.
inline constexpr std::size_t kStaticSharedBytes = 1024;

// Reads of the table usable in device code: an element of a constexpr array
// may be used there only through a constexpr function in a constant expression.
template <class Table>
struct Constants {
  __host__ __device__ static constexpr int degree(int s) { return Table::kDegrees[s]; }
  __host__ __device__ static constexpr int count(int s) { return (Table::kDegrees[s] + 1) / 2; }
  __host__ __device__ static constexpr float coefficient(int s, int j) { return Table::kCoefficients[s][j]; }
  static constexpr bool valid() {
    if (Table::kSteps < 1 || Table::kMaxCoefficients < 2) return false;
    for (int s = 0; s < Table::kSteps; ++s) {
      if (degree(s) < 3 || degree(s) % 2 == 0 || count(s) > Table::kMaxCoefficients) return false;
    }
    return Table::kNormFactor > 0 && Table::kNormEps >= 0;
  }
};

// The floats the fused kernel keeps per matrix: the iterate and its
// successor (k x K), the Gram matrix and two Horner accumulators (k x k).
inline std::size_t fused_shared_bytes(int rows, int cols) {
  const std::size_t k = static_cast<std::size_t>(std::min(rows, cols));
  const std::size_t kk = static_cast<std::size_t>(std::max(rows, cols));
  return sizeof(float) * (2 * k * kk + 3 * k * k);
}

// next = alpha A cur + beta A, all k x k row-major in shared memory.
template <bool kFirst, class Table, int S>
__device__ inline void horner_gemm(const float* a, const float* cur, float* next, int k, float beta) {
  constexpr float alpha = kFirst ? Constants<Table>::coefficient(S, Constants<Table>::count(S) - 1) : 1.0f;
  for (int idx = static_cast<int>(threadIdx.x); idx < k * k; idx += static_cast<int>(blockDim.x)) {
    const int i = idx / k, j = idx % k;
    float sum = 0;
    for (int l = 0; l < k; ++l) sum += a[i * k + l] * cur[l * k + j];
    next[idx] = alpha * sum + beta * a[idx];
  }
  __syncthreads();
}

// Horner from coefficient J down to 1: each pass P <- alpha A P + c_J A.
template <class Table, int S, int J>
__device__ inline void horner(const float* a, const float*& cur, float*& spare, float*& other, int k) {
  if constexpr (J >= 1) {
    constexpr bool first = J == Constants<Table>::count(S) - 2;
    constexpr float beta = Constants<Table>::coefficient(S, J);
    horner_gemm<first, Table, S>(a, cur, spare, k, beta);
    cur = spare;
    float* swap = spare;
    spare = other;
    other = swap;
    horner<Table, S, J - 1>(a, cur, spare, other, k);
  }
}

// One step on the wide k x K iterate x (rows k <= K): A = X X^T,
// P = c1 A + ... by Horner, y = c0 X + P X, then x and y swap.
template <class Table, int S>
__device__ inline void apply_step(float*& x, float*& y, float* a, float* p0, float* p1, int k, int kk) {
  constexpr int q = Constants<Table>::count(S);
  constexpr float c0 = Constants<Table>::coefficient(S, 0);
  // With one coefficient past c0 the polynomial in A is c1 A itself.
  constexpr float scale = q == 2 ? Constants<Table>::coefficient(S, 1) : 1.0f;
  for (int idx = static_cast<int>(threadIdx.x); idx < k * k; idx += static_cast<int>(blockDim.x)) {
    const int i = idx / k, j = idx % k;
    float sum = 0;
    for (int l = 0; l < kk; ++l) sum += x[i * kk + l] * x[j * kk + l];
    a[idx] = sum;
  }
  __syncthreads();
  const float* poly = a;
  float* spare = p0;
  float* other = p1;
  horner<Table, S, q - 2>(a, poly, spare, other, k);
  for (int idx = static_cast<int>(threadIdx.x); idx < k * kk; idx += static_cast<int>(blockDim.x)) {
    const int i = idx / kk, j = idx % kk;
    float sum = 0;
    for (int l = 0; l < k; ++l) sum += poly[i * k + l] * x[l * kk + j];
    y[idx] = c0 * x[idx] + scale * sum;
  }
  __syncthreads();
  float* swap = x;
  x = y;
  y = swap;
}

// Steps S, S+1, ... while below `steps`; the last table step repeats.
template <class Table, int S>
__device__ inline void run_steps(int steps, float*& x, float*& y, float* a, float* p0, float* p1, int k, int kk) {
  if constexpr (S < Table::kSteps) {
    if (S >= steps) return;
    apply_step<Table, S>(x, y, a, p0, p1, k, kk);
    if constexpr (S == Table::kSteps - 1) {
      for (int t = S + 1; t < steps; ++t) apply_step<Table, S>(x, y, a, p0, p1, k, kk);
    } else {
      run_steps<Table, S + 1>(steps, x, y, a, p0, p1, k, kk);
    }
  }
}

template <class Table, class T>
__global__ void __launch_bounds__(kThreads) fused_kernel(FusedArguments args) {
  extern __shared__ float shared[];
  __shared__ float float_scratch[device::kMaxWarps];
  __shared__ unsigned flag_scratch[device::kMaxWarps];
  __shared__ double double_scratch[device::kMaxWarps];

  const int m = args.rows, n = args.cols;
  const bool tall = m > n;
  const int k = tall ? n : m, kk = tall ? m : n;
  const int size = m * n;
  const T* g = static_cast<const T*>(args.input) + static_cast<std::int64_t>(blockIdx.x) * args.input_stride;
  T* out = static_cast<T*>(args.output) + static_cast<std::int64_t>(blockIdx.x) * args.output_stride;
  MatrixStats& stats = args.stats[blockIdx.x];
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);

  float largest = 0;
  unsigned bad = 0;
  for (int i = tid; i < size; i += threads) {
    const float v = fabsf(device::to_float(g[i]));
    if (isfinite(v)) largest = fmaxf(largest, v);
    else bad = 1;
  }
  largest = device::block_reduce(largest, device::Max{}, float_scratch);
  bad = device::block_reduce(bad, device::Or{}, flag_scratch);
  if (bad || largest == 0) {  // uniform over the block
    const T fill = device::from_float<T>(bad ? device::quiet_nan() : 0.0f);
    for (int i = tid; i < size; i += threads) out[i] = fill;
    if (tid == 0) {
      stats.flags = bad ? kNonFiniteInput : 0u;
      stats.max_bits = __float_as_uint(largest);
    }
    return;
  }
  float sum = 0;
  for (int i = tid; i < size; i += threads) {
    const float r = device::to_float(g[i]) / largest;
    sum += r * r;
  }
  sum = device::block_reduce(sum, device::Sum{}, float_scratch);
  const float ratio = device::normalisation_ratio(largest, sum, static_cast<double>(Table::kNormFactor),
                                                  static_cast<double>(Table::kNormEps));

  // Tall matrices are held transposed (wide), which turns X^T X into X X^T;
  // the transpose lives only in shared memory.
  float* x = shared;
  float* y = x + k * kk;
  float* a = y + k * kk;
  float* p0 = a + k * k;
  float* p1 = p0 + k * k;
  for (int i = tid; i < size; i += threads) {
    const int r = i / n, c = i % n;
    x[tall ? c * kk + r : i] = device::to_float(g[i]) / largest * ratio;
  }
  __syncthreads();
  run_steps<Table, 0>(args.steps, x, y, a, p0, p1, k, kk);

  unsigned diverged = 0;
  for (int i = tid; i < size; i += threads) {
    if (!isfinite(x[i])) diverged = 1;
  }
  diverged = device::block_reduce(diverged, device::Or{}, flag_scratch);
  double inner = 0;
  for (int i = tid; i < size; i += threads) {
    const int r = i / n, c = i % n;
    const float v = diverged ? device::quiet_nan() : x[tall ? c * kk + r : i];
    // Read g[i] before out[i] is written: in place they are the same element.
    if (args.nuclear_norm && !diverged) inner += static_cast<double>(device::to_float(g[i])) * v;
    out[i] = device::from_float<T>(v);
  }
  if (args.nuclear_norm) inner = device::block_reduce(inner, device::Sum{}, double_scratch);
  if (tid == 0) {
    stats.max_bits = __float_as_uint(largest);
    stats.sum_squares = sum;
    stats.flags = diverged ? kDivergedOutput : 0u;
    stats.nuclear = inner;
  }
}

}  // namespace specialized

template <class Table>
class SpecializedKernels final : public ScheduleKernels {
  static_assert(specialized::Constants<Table>::valid(),
                "Table: kSteps >= 1, odd degrees >= 3 with (degree + 1) / 2 <= kMaxCoefficients, "
                "kNormFactor > 0, kNormEps >= 0");

 public:
  runtime::Schedule schedule() const override {
    runtime::Schedule s;
    s.normalization = {static_cast<double>(Table::kNormFactor), static_cast<double>(Table::kNormEps)};
    s.after_list = runtime::AfterList::kRepeatLast;
    for (int t = 0; t < Table::kSteps; ++t) {
      runtime::Step step;
      step.degree = Table::kDegrees[t];
      for (int j = 0; j < (step.degree + 1) / 2; ++j) step.coefficients.push_back(Table::kCoefficients[t][j]);
      s.steps.push_back(std::move(step));
    }
    return s;
  }

  bool prepare_fused(int rows, int cols, DType dtype) const override {
    if (rows < 1 || cols < 1) return false;
    const std::size_t bytes = specialized::fused_shared_bytes(rows, cols);
    int device = 0, limit = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
               "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
    if (bytes + specialized::kStaticSharedBytes > static_cast<std::size_t>(limit)) return false;
    switch (dtype) {
      case DType::kF32: return opt_in<float>(bytes);
      case DType::kF16: return opt_in<__half>(bytes);
      case DType::kBF16: return opt_in<__nv_bfloat16>(bytes);
    }
    return false;
  }

  void launch_fused(const FusedArguments& args, cudaStream_t stream) const override {
    switch (args.dtype) {
      case DType::kF32: return launch<float>(args, stream);
      case DType::kF16: return launch<__half>(args, stream);
      case DType::kBF16: return launch<__nv_bfloat16>(args, stream);
    }
  }

 private:
  template <class T>
  static bool opt_in(std::size_t bytes) {
    check_cuda(cudaFuncSetAttribute(specialized::fused_kernel<Table, T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(bytes)),
               "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
    return true;
  }

  template <class T>
  static void launch(const FusedArguments& args, cudaStream_t stream) {
    const std::size_t bytes = specialized::fused_shared_bytes(args.rows, args.cols);
    specialized::fused_kernel<Table, T>
        <<<static_cast<unsigned>(args.batch), specialized::kThreads, bytes, stream>>>(args);
    check_cuda(cudaGetLastError(), "launching the fused kernel");
  }
};

}  // namespace polar_express::cuda
