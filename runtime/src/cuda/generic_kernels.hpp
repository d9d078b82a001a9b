#pragma once
// The element-wise kernels around the GEMMs of the generic CUDA path.  Each
// launcher enqueues on `stream` and throws CudaError if the launch fails.
// Matrices have `size` elements; the iterate `x` is packed (stride = size).
#include "polar_express/runtime/cuda/kernels.hpp"

#include <cstdint>

namespace polar_express::cuda::detail {

// Per matrix: max |g|, the non-finite flag, then sum (g / max|g|)^2 into
// `stats` (which must be zeroed).
void launch_input_scan(DType dtype, const void* input, std::int64_t stride, std::int64_t size, int batch,
                       MatrixStats* stats, cudaStream_t stream);

// x = g / (factor ||G||_F + eps) in the element type; zero for a zero or
// non-finite input.
void launch_normalise(DType dtype, const void* input, std::int64_t stride, std::int64_t size, int batch,
                      const MatrixStats* stats, double factor, double eps, void* x, cudaStream_t stream);

// Flags matrices whose iterate is not finite, then writes the output: the
// iterate, or NaN for a non-finite input or a diverged run; accumulates
// <G, U> when `nuclear_norm`.  `output` may equal `input`.
void launch_finish(DType dtype, const void* x, const void* input, std::int64_t input_stride, void* output,
                   std::int64_t output_stride, std::int64_t size, int batch, MatrixStats* stats, bool nuclear_norm,
                   cudaStream_t stream);

}  // namespace polar_express::cuda::detail
