#pragma once
// The fused kernel without tensor cores: one thread block per matrix keeps
// the iterate, its successor, the Gram matrix and two Horner accumulators in
// shared memory in fp32 and runs normalisation, every step and the output
// write in one launch.  It serves f32 (where fp16 tensor-core operands would
// cost accuracy) and any dtype whose shape the tensor-core kernel
// (fused_gram_mma.cuh) does not take, as long as the buffers fit shared
// memory (64 x 128 takes 112 KiB).
#include "polar_express/runtime/cuda/detail/fused_common.cuh"

#include <algorithm>
#include <cstdint>

namespace polar_express::runtime::cuda::detail {

inline constexpr int kSimtThreads = 256;

// The floats the SIMT kernel keeps per matrix: the iterate and its
// successor (k x K), the Gram matrix and two Horner accumulators (k x k).
__host__ __device__ inline std::size_t simt_payload_bytes(int rows, int cols) {
  const std::size_t k = static_cast<std::size_t>(rows < cols ? rows : cols);
  const std::size_t kk = static_cast<std::size_t>(rows < cols ? cols : rows);
  return sizeof(float) * (2 * k * kk + 3 * k * k);
}
inline std::size_t simt_shared_bytes(int rows, int cols) { return with_scratch(simt_payload_bytes(rows, cols)); }

// next = alpha A cur + beta A, all k x k row-major in shared memory (step t).
template <bool kFirst, class Table, int S>
__device__ inline void horner_gemm(const float* a, const float* cur, float* next, int k, float beta, int t) {
  POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kProduct, t, S);
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
__device__ inline void horner(const float* a, const float*& cur, float*& spare, float*& other, int k, int t) {
  if constexpr (J >= 1) {
    constexpr bool first = J == Constants<Table>::count(S) - 2;
    constexpr float beta = Constants<Table>::coefficient(S, J);
    horner_gemm<first, Table, S>(a, cur, spare, k, beta, t);
    cur = spare;
    float* swap = spare;
    spare = other;
    other = swap;
    horner<Table, S, J - 1>(a, cur, spare, other, k, t);
  }
}

// Step t with table row S on the wide k x K iterate x (rows k <= K):
// A = X X^T, P = c1 A + ... by Horner, y = c0 X + P X, then x and y swap.
template <class Table, int S>
__device__ inline void apply_step(float*& x, float*& y, float* a, float* p0, float* p1, int k, int kk, int t) {
  POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kRow, t, S);
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
  POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kGram, t, -1);
  const float* poly = a;
  float* spare = p0;
  float* other = p1;
  horner<Table, S, q - 2>(a, poly, spare, other, k, t);
  for (int idx = static_cast<int>(threadIdx.x); idx < k * kk; idx += static_cast<int>(blockDim.x)) {
    const int i = idx / kk, j = idx % kk;
    float sum = 0;
    for (int l = 0; l < k; ++l) sum += poly[i * k + l] * x[l * kk + j];
    y[idx] = c0 * x[idx] + scale * sum;
  }
  __syncthreads();
  POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kApply, t, -1);
  float* swap = x;
  x = y;
  y = swap;
}

// Steps S, S+1, ... while below `steps`; the last table step repeats.
template <class Table, int S>
__device__ inline void run_steps(int steps, float*& x, float*& y, float* a, float* p0, float* p1, int k, int kk) {
  if constexpr (S < Table::kSteps) {
    if (S >= steps) return;
    apply_step<Table, S>(x, y, a, p0, p1, k, kk, S);
    if constexpr (S == Table::kSteps - 1) {
      for (int t = S + 1; t < steps; ++t) apply_step<Table, S>(x, y, a, p0, p1, k, kk, t);
    } else {
      run_steps<Table, S + 1>(steps, x, y, a, p0, p1, k, kk);
    }
  }
}

template <class Table, class T>
__global__ void __launch_bounds__(kSimtThreads) simt_kernel(FusedArguments args) {
  extern __shared__ __align__(16) unsigned char dynamic_shared[];
  float* shared = reinterpret_cast<float*>(dynamic_shared);
  ReductionScratch& scratch = scratch_in(dynamic_shared, simt_payload_bytes(args.rows, args.cols));

  const BlockMatrix<T> matrix(args);
  const int n = matrix.cols;
  const bool tall = matrix.tall;
  const int k = matrix.k, kk = matrix.kk, size = matrix.size;
  const T* g = matrix.g;
  T* out = matrix.out;
  MatrixStats& stats = matrix.stats;
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const InputScan scan = scan_input<Table>(g, out, size, stats, scratch);
  if (!scan.normal) return;
  const float largest = scan.largest, ratio = scan.ratio;

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
  float squares = 0;
  for (int i = tid; i < size; i += threads) {
    if (!isfinite(x[i])) diverged = 1;
    squares += x[i] * x[i];
  }
  diverged = device::block_reduce(diverged, device::Or{}, scratch.flags);
  squares = device::block_reduce(squares, device::Sum{}, scratch.floats);
  if (iterate_diverged(squares, k)) diverged = 1;
  double inner = 0;
  for (int i = tid; i < size; i += threads) {
    const int r = i / n, c = i % n;
    const float v = diverged ? device::quiet_nan() : x[tall ? c * kk + r : i];
    // Read g[i] before out[i] is written: in place they are the same element.
    if (args.nuclear_norm && !diverged) inner += static_cast<double>(device::to_float(g[i])) * v;
    out[i] = device::from_float<T>(v);
  }
  if (args.nuclear_norm) inner = device::block_reduce(inner, device::Sum{}, scratch.doubles);
  record_stats(stats, scan, diverged, inner);
}

}  // namespace polar_express::runtime::cuda::detail
