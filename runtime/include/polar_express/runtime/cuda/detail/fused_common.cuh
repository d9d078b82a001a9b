#pragma once
// Pieces both fused kernels share (fused_simt.cuh, fused_gram_mma.cuh): the
// compile-time reads of a schedule table (the contract is in specialized.cuh)
// and the first pass over a matrix, which decides between "zero", "not
// finite" and the normalisation scale.
#include "polar_express/runtime/cuda/detail/device.cuh"

#include <cstdint>

// What a fused kernel does, in the terms of the iteration program it runs
// (program.hpp, fused_program): per step t the table row it uses, and each
// Gram matrix, k x k product and apply to the iterate, with the step it
// belongs to.  The CPU emulation (tests/runtime/warp_emulator.hpp) defines
// POLAR_EXPRESS_FUSED_TRACE to record these, so that a test checks that the
// kernel follows its program; on the device it is nothing.
#ifndef POLAR_EXPRESS_FUSED_TRACE
#define POLAR_EXPRESS_FUSED_TRACE(event, step, row) ((void)(step), (void)(row))
#endif

namespace polar_express::runtime::cuda::detail {

enum class FusedEvent { kRow, kGram, kProduct, kApply };

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

// Block-reduction scratch of a fused kernel.
struct ReductionScratch {
  float floats[device::kMaxWarps];
  unsigned flags[device::kMaxWarps];
  double doubles[device::kMaxWarps];
};

// Both fused kernels keep everything in dynamic shared memory (no static
// __shared__, which also lets tests/runtime/warp_emulator run them): their
// own buffers (`payload` bytes), then the scratch at a 16-byte boundary.
__host__ __device__ inline std::size_t scratch_offset(std::size_t payload) { return (payload + 15) / 16 * 16; }
__host__ __device__ inline std::size_t with_scratch(std::size_t payload) {
  return scratch_offset(payload) + sizeof(ReductionScratch);
}
__device__ inline ReductionScratch& scratch_in(unsigned char* shared_base, std::size_t payload) {
  return *reinterpret_cast<ReductionScratch*>(shared_base + scratch_offset(payload));
}

// The fused kernels index a matrix's elements with int (BlockMatrix::size
// and the loops i < size, i += blockDim.x over it; chunk starts j0 < K,
// j0 += 64).  Staying at or under 2^30 elements keeps every such index and
// its next step below INT_MAX; SpecializedKernels::prepare_fused refuses
// larger matrices (which would have one block stream gigabytes anyway) and
// the plan's cuBLASLt path, with 64-bit indices, takes them.
inline constexpr std::int64_t kMaxFusedElements = std::int64_t{1} << 30;

// This block's matrix: rows x cols row-major, handled in its wide form
// k x K (k = min, K = max; tall matrices are read transposed).  At most
// kMaxFusedElements elements.
template <class T>
struct BlockMatrix {
  int cols, k, kk, size;
  bool tall;
  const T* g;
  T* out;
  MatrixStats& stats;
  __device__ explicit BlockMatrix(const FusedArguments& args)
      : cols(args.cols),
        k(args.rows > args.cols ? args.cols : args.rows),
        kk(args.rows > args.cols ? args.rows : args.cols),
        size(args.rows * args.cols),
        tall(args.rows > args.cols),
        g(static_cast<const T*>(args.input) + static_cast<std::int64_t>(blockIdx.x) * args.input_stride),
        out(static_cast<T*>(args.output) + static_cast<std::int64_t>(blockIdx.x) * args.output_stride),
        stats(args.stats[blockIdx.x]) {}
};

// The first pass over one matrix of `size` elements.  `normal` is false when
// the matrix is zero or has a NaN/Inf: then the output is already filled
// (zeros, or NaN) and the statistics written, and the kernel returns.
// Otherwise x_normalised = (g / largest) * ratio (see normalisation_ratio).
struct InputScan {
  bool normal;
  float largest, sum_squares, ratio;
};

template <class Table, class T>
__device__ inline InputScan scan_input(const T* g, T* out, int size, MatrixStats& stats, ReductionScratch& scratch) {
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  float largest = 0;
  unsigned bad = 0;
  for (int i = tid; i < size; i += threads) {
    const float v = fabsf(device::to_float(g[i]));
    if (isfinite(v)) largest = fmaxf(largest, v);
    else bad = 1;
  }
  largest = device::block_reduce(largest, device::Max{}, scratch.floats);
  bad = device::block_reduce(bad, device::Or{}, scratch.flags);
  if (bad || largest == 0) {  // uniform over the block
    const T fill = device::from_float<T>(bad ? device::quiet_nan() : 0.0f);
    for (int i = tid; i < size; i += threads) out[i] = fill;
    if (tid == 0) {
      stats.flags = bad ? kNonFiniteInput : 0u;
      stats.max_bits = __float_as_uint(largest);
    }
    return {false, largest, 0, 0};
  }
  float sum = 0;
  for (int i = tid; i < size; i += threads) {
    const float r = device::to_float(g[i]) / largest;
    sum += r * r;
  }
  sum = device::block_reduce(sum, device::Sum{}, scratch.floats);
  const float ratio = device::normalisation_ratio(largest, sum, static_cast<double>(Table::kNormFactor),
                                                  static_cast<double>(Table::kNormEps));
  return {true, largest, sum, ratio};
}

// The statistics of a matrix that went through the iteration.
__device__ inline void record_stats(MatrixStats& stats, const InputScan& scan, bool diverged, double inner) {
  if (threadIdx.x == 0) {
    stats.max_bits = __float_as_uint(scan.largest);
    stats.sum_squares = scan.sum_squares;
    stats.flags = diverged ? kDivergedOutput : 0u;
    stats.nuclear = inner;
  }
}

}  // namespace polar_express::runtime::cuda::detail
