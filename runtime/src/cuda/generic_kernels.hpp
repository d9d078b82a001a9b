#pragma once
// The element-wise kernels around the GEMMs of the generic CUDA path.  Each
// launcher enqueues on `stream` and throws CudaError if the launch fails.
// Matrices have `size` elements; the iterate `x` is packed (stride = size).
#include "polar_express/runtime/cuda/kernels.hpp"

#include <cstdint>

namespace polar_express::runtime::cuda::detail {

// The reductions over a matrix spread over several blocks (the sum of
// squares, <G, U>) add per-block partial sums in a fixed order, so that
// equal inputs give equal bits on every run; `partials` is device memory for
// reduction_partials(size, batch) doubles, reused by both.
std::size_t reduction_partials(std::int64_t size, int batch);

// Per matrix: max |g|, the non-finite flag, then sum (g / max|g|)^2 into
// `stats` (which must be zeroed).
void launch_input_scan(ElementType dtype, const void* input, std::int64_t stride, std::int64_t size, int batch,
                       MatrixStats* stats, double* partials, cudaStream_t stream);

// x = g / (factor ||G||_F + eps) in the element type, or with `by_max`
// g / max|g| (AOL's prescaling); zero for a zero or non-finite input.
void launch_normalise(ElementType dtype, const void* input, std::int64_t stride, std::int64_t size, int batch,
                      const MatrixStats* stats, double factor, double eps, bool by_max, void* x,
                      cudaStream_t stream);

// The AOL rescaling (program.hpp, kAolScale; vocabulary.hpp): D into
// `diagonal` (batch * k floats), A <- D A D (column-major k x k,
// fp32 when `square_f32`, else the element type), X <- D X (wide) or X D
// (tall) for the row-major iterate.
void launch_aol_scale(ElementType dtype, bool square_f32, void* a, void* x, std::int64_t k, std::int64_t big, bool wide,
                      int batch, float* diagonal, cudaStream_t stream);

// Flags matrices whose iterate is not finite or diverged (iterate_diverged,
// vocabulary.hpp), then writes the output: the
// iterate, or NaN for a non-finite input or a diverged run; accumulates
// <G, U> when `nuclear_norm`.  `output` may equal `input`.
void launch_finish(ElementType dtype, const void* x, const void* input, std::int64_t input_stride, void* output,
                   std::int64_t output_stride, std::int64_t size, std::int64_t short_side, int batch,
                   MatrixStats* stats, bool nuclear_norm, double* partials, cudaStream_t stream);

// Gram path, fp32 k x k matrices packed per matrix (stride k * k):
// q = alpha p + c0 I (a segment's first Q, H = c0 I + P).
void launch_scaled_plus_identity(const float* p, float alpha, float c0, float* q, std::int64_t k, int batch,
                                 cudaStream_t stream);

// narrow = q rounded to the element type, for the k x K product Q X0.
void launch_narrow(ElementType dtype, const float* q, void* narrow, std::int64_t size, int batch, cudaStream_t stream);

// Copies the lower triangle of each column-major k x k matrix onto its upper
// triangle (the symmetric products compute only the lower blocks).
// `elem_bytes` is 4 (fp32) or 2 (bf16 / fp16: copied as raw bits).
void launch_mirror_lower(void* d, std::size_t elem_bytes, std::int64_t k, int batch, cudaStream_t stream);

}  // namespace polar_express::runtime::cuda::detail
