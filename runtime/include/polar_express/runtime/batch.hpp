#pragma once
// The batch layout every backend takes and the per-plan options.  C++17.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace polar_express::runtime {

// B matrices of rows x cols, each row-major (the PyTorch layout), matrix b
// starting at element b * stride.  A stride of 0 means rows * cols (packed).
struct BatchShape {
  std::int64_t batch = 1;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t input_stride = 0;
  std::int64_t output_stride = 0;

  std::int64_t matrix_size() const { return rows * cols; }
  std::int64_t input_step() const { return input_stride == 0 ? matrix_size() : input_stride; }
  std::int64_t output_step() const { return output_stride == 0 ? matrix_size() : output_stride; }
};

// Throws std::invalid_argument unless batch, rows, cols >= 1 and each
// stride is 0 or at least rows * cols (matrices must not overlap).
inline void validate(const BatchShape& shape) {
  if (shape.batch < 1 || shape.rows < 1 || shape.cols < 1) {
    throw std::invalid_argument("batch shape " + std::to_string(shape.batch) + "x" + std::to_string(shape.rows) +
                                "x" + std::to_string(shape.cols) + " has a dimension below 1");
  }
  if ((shape.input_stride != 0 && shape.input_stride < shape.matrix_size()) ||
      (shape.output_stride != 0 && shape.output_stride < shape.matrix_size())) {
    throw std::invalid_argument("a batch stride is smaller than rows * cols = " + std::to_string(shape.matrix_size()));
  }
}

// Whether a plan uses an optional product structure: kAuto decides by
// shape (see PlanOptions), kOff never, kOn whenever the shape allows it.
enum class ProductMode { kAuto, kOff, kOn };

struct PlanOptions {
  // Steps to run; 0 runs the schedule's own list once.
  int steps = 0;
  // Also compute <G, U> = sum(G .* U) per matrix, the nuclear-norm estimate
  // PolarGrad uses (exact when U is the exact polar factor of G).
  bool nuclear_norm = false;
  // CPU: threads (0, and at most: usable_cpus(), the cores this process may
  // use), spread over the matrices of the batch first and given to the BLAS
  // for what is left (batch 1: all of them to the BLAS).
  int threads = 0;
  // The Gram iteration (gram.hpp): iterate on the k x k side, k = min(rows,
  // cols), and touch the k x K iterate only at restarts and at the end.  Same
  // polynomial map in exact arithmetic, so the certified bound is unchanged.
  // kAuto: on when max(rows, cols) >= 2 min(rows, cols) and the restart plan
  // leaves at least one segment of two or more steps.  kOn also forces it on
  // square matrices (for testing; it is slower there).  A specialised kernel
  // set's tensor-core fused kernel (cuda/specialized.cuh) runs the Gram form
  // whatever the shape unless this is kOff.
  ProductMode gram = ProductMode::kAuto;
  // Steps between restarts (X0 <- Q X0, R recomputed); 0 places them from the
  // schedule and the precision (gram_restart_steps).
  int gram_restart_interval = 0;
  // Compute only the lower triangle of the symmetric k x k products (X X^T,
  // the polynomial in A, and in the Gram iteration all k x k products), then
  // mirror.  kAuto: on from k >= 256 on the CPU and k >= 2048 on CUDA.
  ProductMode symmetric = ProductMode::kAuto;
};

}  // namespace polar_express::runtime
