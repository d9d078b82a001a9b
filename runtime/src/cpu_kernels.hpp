#pragma once
// The CPU backend's building blocks: CBLAS calls for float and double
// (through blas.hpp's loaded OpenBLAS), and the element-wise passes
// (normalise, AOL, store) in plain loops.  Internal to runtime/src.
#include "blas.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace polar_express::runtime::cpu {

// Row-major dense matrices with leading dimension = columns.
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  blas().sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
  blas().dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void syrk_lower(CBLAS_TRANSPOSE trans, int n, int k, float alpha, const float* a, int lda, float* c, int ldc) {
  blas().ssyrk(CblasRowMajor, CblasLower, trans, n, k, alpha, a, lda, 0.0f, c, ldc);
}
inline void syrk_lower(CBLAS_TRANSPOSE trans, int n, int k, double alpha, const double* a, int lda, double* c,
                       int ldc) {
  blas().dsyrk(CblasRowMajor, CblasLower, trans, n, k, alpha, a, lda, 0.0, c, ldc);
}

// Copies the strict lower triangle of the n x n matrix `m` onto its upper
// triangle, in square tiles so that the transposed reads stay in cache.
template <class T>
void mirror_lower(T* m, std::int64_t n) {
  constexpr std::int64_t kTile = 32;
  for (std::int64_t i0 = 0; i0 < n; i0 += kTile) {
    const std::int64_t i1 = std::min(n, i0 + kTile);
    for (std::int64_t j0 = i0; j0 < n; j0 += kTile) {
      const std::int64_t j1 = std::min(n, j0 + kTile);
      // Tile (i0.., j0..) of the upper triangle from tile (j0.., i0..) of the lower.
      for (std::int64_t i = i0; i < i1; ++i) {
        for (std::int64_t j = std::max(j0, i + 1); j < j1; ++j) m[i * n + j] = m[j * n + i];
      }
    }
  }
}

}  // namespace polar_express::runtime::cpu
