#pragma once
// Device helpers shared by the generic kernels and the specialised ones
// (specialized.cuh): element types, block reductions, the normalisation
// scale and error checks.  Header-only: it is compiled into every .cu that
// codegen emits.
#include "polar_express/runtime/cuda/kernels.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <string>

namespace polar_express::runtime::cuda::detail {

// Throws CudaError naming `what` unless `status` is cudaSuccess.
inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw CudaError(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
  }
}

namespace device {

__device__ inline float to_float(float v) { return v; }
__device__ inline float to_float(__half v) { return __half2float(v); }
__device__ inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ inline T from_float(float v);
template <>
__device__ inline float from_float<float>(float v) { return v; }
template <>
__device__ inline __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

inline constexpr int kWarp = 32;
inline constexpr int kMaxWarps = 32;  // blocks of at most 1024 threads

// Block-wide reductions; every thread gets the result.  `scratch` holds
// kMaxWarps values and is reused, hence the barrier before returning.
template <class V, class Op>
__device__ inline V block_reduce(V value, Op op, V* scratch) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  const int warps = (static_cast<int>(blockDim.x) + kWarp - 1) / kWarp;
  __syncthreads();  // scratch may still be read from a previous reduction
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  V total = scratch[0];
  for (int w = 1; w < warps; ++w) total = op(total, scratch[w]);
  __syncthreads();
  return total;
}

struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct Sum {
  template <class V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};
struct Or {
  __device__ unsigned operator()(unsigned a, unsigned b) const { return a | b; }
};

// x_normalised = (g / max|g|) * ratio (frobenius_ratio, vocabulary.hpp).
// ratio <= 1 / factor fits a float; it is formed in double so that
// eps / max|g| for a tiny max does not overflow first.
__device__ inline float normalisation_ratio(float largest, float sum_squares, double factor, double eps) {
  return static_cast<float>(frobenius_ratio(largest, sum_squares, factor, eps));
}

__device__ inline float quiet_nan() { return __int_as_float(0x7fffffff); }

}  // namespace device
}  // namespace polar_express::runtime::cuda::detail
