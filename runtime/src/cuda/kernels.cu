#include "generic_kernels.hpp"

#include "polar_express/runtime/cuda/detail/device.cuh"

#include <algorithm>

namespace polar_express::runtime::cuda::detail {
namespace {

using device::block_reduce;
using device::from_float;
using device::to_float;

constexpr int kThreads = 256;
// Blocks per matrix: enough to fill the GPU for a single large matrix, few
// enough that merging their partial sums stays cheap.
constexpr std::int64_t kMaxBlocksPerMatrix = 1024;

std::int64_t blocks_for(std::int64_t size) {
  return std::min<std::int64_t>((size + kThreads - 1) / kThreads, kMaxBlocksPerMatrix);
}

dim3 grid_for(std::int64_t size, int batch) {
  return dim3(static_cast<unsigned>(batch), static_cast<unsigned>(blocks_for(size)));
}

__device__ inline std::int64_t first_index() {
  return static_cast<std::int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
}
__device__ inline std::int64_t index_step() { return static_cast<std::int64_t>(gridDim.y) * blockDim.x; }

template <class T>
__global__ void scan_max_kernel(const T* input, std::int64_t stride, std::int64_t size, MatrixStats* stats) {
  __shared__ float float_scratch[device::kMaxWarps];
  __shared__ unsigned flag_scratch[device::kMaxWarps];
  const T* g = input + static_cast<std::int64_t>(blockIdx.x) * stride;
  float largest = 0;
  unsigned bad = 0;
  for (std::int64_t i = first_index(); i < size; i += index_step()) {
    const float v = fabsf(to_float(g[i]));
    if (isfinite(v)) largest = fmaxf(largest, v);
    else bad = 1;
  }
  largest = block_reduce(largest, device::Max{}, float_scratch);
  bad = block_reduce(bad, device::Or{}, flag_scratch);
  if (threadIdx.x == 0) {
    MatrixStats& s = stats[blockIdx.x];
    // Non-negative floats order like their bit patterns; max and or give
    // the same result in any order, so these atomics stay deterministic.
    if (largest > 0) atomicMax(&s.max_bits, __float_as_uint(largest));
    if (bad) atomicOr(&s.flags, kNonFiniteInput);
  }
}

// Sums that span the blocks of a matrix are never merged with atomics (whose
// order, and so whose rounding, changes from run to run): each block writes
// its partial sum to partials[matrix * gridDim.y + block], and
// sum_partials_kernel adds them up in a fixed order.  The same input then
// gives the same bits on every run (replays, in place, eager vs graph).
__device__ inline double& partial_slot(double* partials) {
  return partials[static_cast<std::int64_t>(blockIdx.x) * gridDim.y + blockIdx.y];
}

// A matrix whose statistics say it skips the iteration (a NaN/Inf input or,
// once the output is checked, a diverged result) or is zero has no partials.
__device__ inline bool has_partials(const MatrixStats& s, std::uint32_t failure_flags) {
  return !(s.flags & failure_flags) && s.max_bits != 0;
}

template <class T>
__global__ void scan_sum_kernel(const T* input, std::int64_t stride, std::int64_t size, const MatrixStats* stats,
                                double* partials) {
  __shared__ float scratch[device::kMaxWarps];
  const MatrixStats& s = stats[blockIdx.x];
  if (!has_partials(s, kNonFiniteInput)) return;  // uniform over the block
  const float largest = __uint_as_float(s.max_bits);
  const T* g = input + static_cast<std::int64_t>(blockIdx.x) * stride;
  float sum = 0;
  for (std::int64_t i = first_index(); i < size; i += index_step()) {
    const float r = to_float(g[i]) / largest;
    sum += r * r;
  }
  sum = block_reduce(sum, device::Sum{}, scratch);
  if (threadIdx.x == 0) partial_slot(partials) = sum;
}

// One block per matrix: thread t adds partials t, t + blockDim.x, ... in
// that order, then the block reduction's fixed tree; the total goes to the
// sum of squares (fp32, as the fused kernels keep it) or to <G, U>.
enum class PartialsOf { kSumSquares, kNuclear };

template <PartialsOf kWhat>
__global__ void sum_partials_kernel(const double* partials, int blocks_per_matrix, MatrixStats* stats) {
  __shared__ double scratch[device::kMaxWarps];
  MatrixStats& s = stats[blockIdx.x];
  constexpr std::uint32_t failure = kWhat == PartialsOf::kSumSquares ? kNonFiniteInput
                                                                     : (kNonFiniteInput | kDivergedOutput);
  if (!has_partials(s, failure)) return;  // uniform over the block
  const double* mine = partials + static_cast<std::int64_t>(blockIdx.x) * blocks_per_matrix;
  double total = 0;
  for (int b = static_cast<int>(threadIdx.x); b < blocks_per_matrix; b += static_cast<int>(blockDim.x)) total += mine[b];
  total = block_reduce(total, device::Sum{}, scratch);
  if (threadIdx.x == 0) {
    if constexpr (kWhat == PartialsOf::kSumSquares) s.sum_squares = static_cast<float>(total);
    else s.nuclear = total;
  }
}

// x = g / (factor ||G||_F + eps), or with `by_max` g / max|g| (the exact
// prescaling AOL refines).
template <class T>
__global__ void normalise_kernel(const T* input, std::int64_t stride, std::int64_t size, const MatrixStats* stats,
                                 double factor, double eps, bool by_max, T* x) {
  const MatrixStats s = stats[blockIdx.x];
  const T* g = input + static_cast<std::int64_t>(blockIdx.x) * stride;
  T* out = x + static_cast<std::int64_t>(blockIdx.x) * size;
  const bool keep = !(s.flags & kNonFiniteInput) && s.max_bits != 0;
  const float largest = __uint_as_float(s.max_bits);
  const float ratio =
      !keep ? 0.0f : by_max ? 1.0f : device::normalisation_ratio(largest, s.sum_squares, factor, eps);
  for (std::int64_t i = first_index(); i < size; i += index_step()) {
    out[i] = from_float<T>(keep ? to_float(g[i]) / largest * ratio : 0.0f);
  }
}

// d[i] = aol_row_scale(sum_j |A_ij|) (vocabulary.hpp) of each k x k matrix:
// one block per (matrix, row).
template <class S>
__global__ void aol_diagonal_kernel(const S* a, std::int64_t k, float* d) {
  __shared__ float scratch[device::kMaxWarps];
  const std::int64_t row = blockIdx.y;
  const S* m = a + static_cast<std::int64_t>(blockIdx.x) * k * k;
  float sum = 0;
  for (std::int64_t j = threadIdx.x; j < k; j += blockDim.x) sum += fabsf(to_float(m[row + j * k]));
  sum = block_reduce(sum, device::Sum{}, scratch);
  if (threadIdx.x == 0) d[static_cast<std::int64_t>(blockIdx.x) * k + row] = aol_row_scale(sum);
}

// A <- D A D (column-major k x k).
template <class S>
__global__ void aol_scale_square_kernel(S* a, std::int64_t k, const float* d) {
  S* m = a + static_cast<std::int64_t>(blockIdx.x) * k * k;
  const float* dm = d + static_cast<std::int64_t>(blockIdx.x) * k;
  for (std::int64_t i = first_index(); i < k * k; i += index_step()) {
    m[i] = from_float<S>(to_float(m[i]) * dm[i % k] * dm[i / k]);
  }
}

// X <- D X (wide, row-major k x K: row i) or X D (tall, row-major K x k:
// column i).
template <class T>
__global__ void aol_scale_iterate_kernel(T* x, std::int64_t k, std::int64_t big, bool wide, const float* d) {
  T* m = x + static_cast<std::int64_t>(blockIdx.x) * k * big;
  const float* dm = d + static_cast<std::int64_t>(blockIdx.x) * k;
  for (std::int64_t i = first_index(); i < k * big; i += index_step()) {
    m[i] = from_float<T>(to_float(m[i]) * dm[wide ? i / big : i % k]);
  }
}

// Flags a non-finite iterate, and writes each block's partial sum of squares
// for size_check_kernel.
template <class T>
__global__ void check_kernel(const T* x, std::int64_t size, MatrixStats* stats, double* partials) {
  __shared__ unsigned scratch[device::kMaxWarps];
  __shared__ double sums[device::kMaxWarps];
  const T* u = x + static_cast<std::int64_t>(blockIdx.x) * size;
  unsigned bad = 0;
  double squares = 0;
  for (std::int64_t i = first_index(); i < size; i += index_step()) {
    const float v = to_float(u[i]);
    if (!isfinite(v)) bad = 1;
    squares += static_cast<double>(v) * v;
  }
  bad = block_reduce(bad, device::Or{}, scratch);
  squares = block_reduce(squares, device::Sum{}, sums);
  if (threadIdx.x == 0) {
    if (bad) atomicOr(&stats[blockIdx.x].flags, kDivergedOutput);
    partial_slot(partials) = squares;
  }
}

// One block per matrix: ||X||_F^2 from the partials in a fixed order, and
// whether the iterate diverged (iterate_diverged, vocabulary.hpp).
__global__ void size_check_kernel(const double* partials, int blocks_per_matrix, std::int64_t short_side,
                                  MatrixStats* stats) {
  __shared__ double scratch[device::kMaxWarps];
  const double* mine = partials + static_cast<std::int64_t>(blockIdx.x) * blocks_per_matrix;
  double total = 0;
  for (int b = static_cast<int>(threadIdx.x); b < blocks_per_matrix; b += static_cast<int>(blockDim.x)) total += mine[b];
  total = block_reduce(total, device::Sum{}, scratch);
  if (threadIdx.x == 0 && iterate_diverged(total, short_side)) atomicOr(&stats[blockIdx.x].flags, kDivergedOutput);
}

template <class T>
__global__ void finish_kernel(const T* x, const T* input, std::int64_t input_stride, T* output,
                              std::int64_t output_stride, std::int64_t size, const MatrixStats* stats,
                              bool nuclear_norm, double* partials) {
  __shared__ double scratch[device::kMaxWarps];
  const MatrixStats& s = stats[blockIdx.x];
  const bool failed = (s.flags & (kNonFiniteInput | kDivergedOutput)) != 0;
  const T* u = x + static_cast<std::int64_t>(blockIdx.x) * size;
  const T* g = input + static_cast<std::int64_t>(blockIdx.x) * input_stride;
  T* out = output + static_cast<std::int64_t>(blockIdx.x) * output_stride;
  double inner = 0;
  for (std::int64_t i = first_index(); i < size; i += index_step()) {
    const float v = failed ? device::quiet_nan() : to_float(u[i]);
    // Read g[i] before out[i] is written: in place they are the same element.
    if (nuclear_norm && !failed) inner += static_cast<double>(to_float(g[i])) * v;
    out[i] = from_float<T>(v);
  }
  if (nuclear_norm && !failed) {
    inner = block_reduce(inner, device::Sum{}, scratch);
    if (threadIdx.x == 0) partial_slot(partials) = inner;
  }
}

__global__ void scaled_plus_identity_kernel(const float* p, float alpha, float c0, float* q, std::int64_t k) {
  const std::int64_t size = k * k;
  const float* src = p + static_cast<std::int64_t>(blockIdx.x) * size;
  float* dst = q + static_cast<std::int64_t>(blockIdx.x) * size;
  for (std::int64_t i = first_index(); i < size; i += index_step()) {
    dst[i] = alpha * src[i] + (i / k == i % k ? c0 : 0.0f);
  }
}

template <class T>
__global__ void narrow_kernel(const float* q, T* narrow, std::int64_t size) {
  const std::int64_t offset = static_cast<std::int64_t>(blockIdx.x) * size;
  for (std::int64_t i = first_index(); i < size; i += index_step()) narrow[offset + i] = from_float<T>(q[offset + i]);
}

// Element (row r, column c) of a column-major matrix is at r + c k; the lower
// triangle is r > c.  Each thread writes one upper element from its mirror.
template <class Bits>
__global__ void mirror_lower_kernel(Bits* d, std::int64_t k) {
  Bits* m = d + static_cast<std::int64_t>(blockIdx.x) * k * k;
  for (std::int64_t i = first_index(); i < k * k; i += index_step()) {
    const std::int64_t r = i % k, c = i / k;
    if (r < c) m[i] = m[c + r * k];
  }
}

template <class Launch>
void dispatch(ElementType dtype, Launch&& launch) {
  switch (dtype) {
    case ElementType::kF32: launch(float{}); return;
    case ElementType::kF16: launch(__half{}); return;
    case ElementType::kBF16: launch(__nv_bfloat16{}); return;
    case ElementType::kF64: break;
  }
  require_device_element(dtype);
  throw std::invalid_argument("unknown dtype");
}

}  // namespace

std::size_t reduction_partials(std::int64_t size, int batch) {
  return static_cast<std::size_t>(blocks_for(size)) * static_cast<std::size_t>(batch);
}

void launch_input_scan(ElementType dtype, const void* input, std::int64_t stride, std::int64_t size, int batch,
                       MatrixStats* stats, double* partials, cudaStream_t stream) {
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(input);
    scan_max_kernel<T><<<grid_for(size, batch), kThreads, 0, stream>>>(in, stride, size, stats);
    check_cuda(cudaGetLastError(), "launching the input scan (max)");
    scan_sum_kernel<T><<<grid_for(size, batch), kThreads, 0, stream>>>(in, stride, size, stats, partials);
    check_cuda(cudaGetLastError(), "launching the input scan (sum of squares)");
  });
  sum_partials_kernel<PartialsOf::kSumSquares><<<batch, kThreads, 0, stream>>>(
      partials, static_cast<int>(blocks_for(size)), stats);
  check_cuda(cudaGetLastError(), "launching the input scan (sum of the partial sums)");
}

void launch_normalise(ElementType dtype, const void* input, std::int64_t stride, std::int64_t size, int batch,
                      const MatrixStats* stats, double factor, double eps, bool by_max, void* x, cudaStream_t stream) {
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    normalise_kernel<T><<<grid_for(size, batch), kThreads, 0, stream>>>(static_cast<const T*>(input), stride, size,
                                                                       stats, factor, eps, by_max,
                                                                       static_cast<T*>(x));
    check_cuda(cudaGetLastError(), "launching the normalisation");
  });
}

void launch_aol_scale(ElementType dtype, bool square_f32, void* a, void* x, std::int64_t k, std::int64_t big, bool wide,
                      int batch, float* diagonal, cudaStream_t stream) {
  const auto square = [&](auto tag) {
    using S = decltype(tag);
    aol_diagonal_kernel<S><<<dim3(static_cast<unsigned>(batch), static_cast<unsigned>(k)), kThreads, 0, stream>>>(
        static_cast<const S*>(a), k, diagonal);
    check_cuda(cudaGetLastError(), "launching the AOL diagonal");
    aol_scale_square_kernel<S><<<grid_for(k * k, batch), kThreads, 0, stream>>>(static_cast<S*>(a), k, diagonal);
    check_cuda(cudaGetLastError(), "launching the AOL scaling of the Gram matrix");
  };
  if (square_f32) square(float{});
  else dispatch(dtype, square);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    aol_scale_iterate_kernel<T><<<grid_for(k * big, batch), kThreads, 0, stream>>>(static_cast<T*>(x), k, big, wide,
                                                                                  diagonal);
    check_cuda(cudaGetLastError(), "launching the AOL scaling of the iterate");
  });
}

void launch_finish(ElementType dtype, const void* x, const void* input, std::int64_t input_stride, void* output,
                   std::int64_t output_stride, std::int64_t size, std::int64_t short_side, int batch,
                   MatrixStats* stats, bool nuclear_norm, double* partials, cudaStream_t stream) {
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* u = static_cast<const T*>(x);
    check_kernel<T><<<grid_for(size, batch), kThreads, 0, stream>>>(u, size, stats, partials);
    check_cuda(cudaGetLastError(), "launching the finiteness check");
    size_check_kernel<<<batch, kThreads, 0, stream>>>(partials, static_cast<int>(blocks_for(size)), short_side,
                                                      stats);
    check_cuda(cudaGetLastError(), "launching the size check");
    finish_kernel<T><<<grid_for(size, batch), kThreads, 0, stream>>>(
        u, static_cast<const T*>(input), input_stride, static_cast<T*>(output), output_stride, size, stats,
        nuclear_norm, partials);
    check_cuda(cudaGetLastError(), "launching the output write");
  });
  if (nuclear_norm) {
    sum_partials_kernel<PartialsOf::kNuclear><<<batch, kThreads, 0, stream>>>(
        partials, static_cast<int>(blocks_for(size)), stats);
    check_cuda(cudaGetLastError(), "launching the output write (sum of the partial <G, U>)");
  }
}

void launch_scaled_plus_identity(const float* p, float alpha, float c0, float* q, std::int64_t k, int batch,
                                 cudaStream_t stream) {
  scaled_plus_identity_kernel<<<grid_for(k * k, batch), kThreads, 0, stream>>>(p, alpha, c0, q, k);
  check_cuda(cudaGetLastError(), "launching the Gram path's first Q");
}

void launch_narrow(ElementType dtype, const float* q, void* narrow, std::int64_t size, int batch, cudaStream_t stream) {
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    narrow_kernel<T><<<grid_for(size, batch), kThreads, 0, stream>>>(q, static_cast<T*>(narrow), size);
    check_cuda(cudaGetLastError(), "launching the rounding of Q");
  });
}

void launch_mirror_lower(void* d, std::size_t elem_bytes, std::int64_t k, int batch, cudaStream_t stream) {
  if (elem_bytes == 4) {
    mirror_lower_kernel<<<grid_for(k * k, batch), kThreads, 0, stream>>>(static_cast<std::uint32_t*>(d), k);
  } else {
    mirror_lower_kernel<<<grid_for(k * k, batch), kThreads, 0, stream>>>(static_cast<std::uint16_t*>(d), k);
  }
  check_cuda(cudaGetLastError(), "launching the mirror of a symmetric product");
}

}  // namespace polar_express::runtime::cuda::detail
