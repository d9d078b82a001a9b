#pragma once
// The iteration program: a schedule and a shape compiled once into a list of
// operations that every backend runs, each backend only mapping operations
// to its library calls (CPU: CBLAS; CUDA: cuBLASLt and the runtime's
// kernels).  Planning decisions (the Gram iteration, where it restarts,
// symmetric products, which buffer holds what) are made here, once, for all
// of them.  C++17.
//
// Shapes: a batch of rows x cols matrices; k = min(rows, cols) is the short
// side, K = max(rows, cols) the long one.  "Wide" (rows <= cols) multiplies
// k x k matrices from the left (P X), "tall" from the right (X P): the
// transpose is never formed.  Every k x k matrix a program makes is a
// polynomial in one symmetric matrix, hence symmetric.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace polar_express::runtime {

// The buffers a program names.  A backend allocates each one it uses once
// per plan (per worker): the iterates hold rows x cols elements, the others
// k x k.
enum class Buffer : std::uint8_t {
  kNone,
  kX0, kX1,        // the iterate (ping-pong between steps)
  kA,              // the Gram matrix X X^T (R = X0 X0^T in the Gram iteration)
  kP0, kP1,        // Horner accumulators of the polynomial in A
  kQ0, kQ1,        // the Gram iteration's accumulated transform Q (ping-pong)
  kT,              // the Gram iteration's A H
};
inline constexpr int kBufferCount = 9;

// Whether a buffer holds an iterate (rows x cols) or a k x k matrix.
inline bool is_iterate(Buffer b) { return b == Buffer::kX0 || b == Buffer::kX1; }

enum class OpKind : std::uint8_t {
  // dst <- the input matrix scaled by the schedule's normalisation: for
  // kFrobenius G / (factor ||G||_F + eps); for kAol G / max|g| (the exact
  // scaling the AOL step then refines).  Zero and non-finite inputs are
  // recorded here and skip the rest (their output is written by kStore).
  kNormalize,
  // dst <- lhs lhs^T (wide) or lhs^T lhs (tall): the k x k Gram matrix.
  kGram,
  // The AOL rescaling: with D = diag(1 / sqrt(sum_j |dst_ij|)) (0 where a
  // row sum is 0), lhs <- D lhs (wide) or lhs D (tall) and dst <- D dst D.
  kAolScale,
  // dst <- alpha lhs rhs + beta addend, all k x k.
  kProduct,
  // dst <- alpha lhs + beta I, k x k.
  kAddIdentity,
  // dst <- alpha lhs rhs + beta addend (wide) or alpha rhs lhs + beta addend
  // (tall): lhs k x k, rhs, addend and dst iterates.
  kApply,
  // The output <- lhs, with the per-matrix status (non-finite or too large,
  // iterate_diverged in vocabulary.hpp: diverged) and <G, U> when asked.
  kStore,
};

struct Operation {
  OpKind kind;
  int step = -1;  // the schedule step (0-based) it belongs to; -1 for kNormalize and kStore
  Buffer dst = Buffer::kNone;
  Buffer lhs = Buffer::kNone;
  Buffer rhs = Buffer::kNone;
  Buffer addend = Buffer::kNone;
  double alpha = 1;
  double beta = 0;
  // dst is symmetric and only its lower triangle need be computed (then
  // mirrored): set on k x k products when the plan's symmetric mode is on.
  bool symmetric = false;

  bool operator==(const Operation& other) const;
  bool operator!=(const Operation& other) const { return !(*this == other); }
};

// What a backend brings to planning: the element type the iterate is stored
// in, whose precision sets the Gram iteration's restart budget, and the k
// from which its symmetric products pay off.
struct BackendTraits {
  ElementType storage = ElementType::kF64;
  std::int64_t symmetric_from_k = 256;
};

// Steps a program may hold: bounds its size and the planning work.
inline constexpr int kMaxProgramSteps = 10000;

struct Program {
  BatchShape shape;
  int steps = 0;
  bool wide = true;          // rows <= cols
  ProductPlan products;      // Gram iteration, its restarts, symmetric products
  Normalization normalization;
  std::vector<Operation> operations;

  std::int64_t short_side() const;  // k
  std::int64_t long_side() const;   // K
  // Buffers the operations name (a backend allocates these).
  std::vector<Buffer> buffers() const;
  // Matrix-multiply FLOPs of one execute over the whole batch, counted dense
  // (a k x k product 2k^3, a Gram matrix or an apply 2k^2 K, whatever the
  // symmetric mode saves): the cost model of `polar-express plan`.
  double flops() const;
  // The matrix products of one execute over the whole batch (the operations
  // flops() counts, times the batch).
  std::int64_t products_count() const;
  // One line per operation, e.g. "step 1  apply   X1 <- 8.157 P0 X0 + ... X0".
  std::string to_string() const;
};

// Compiles `schedule` for `shape`: validates both and the options (std::
// invalid_argument naming the problem, before any planning work), resolves
// the Gram iteration and symmetric products for the backend, and lists the
// operations.  Steps: options.steps, or the schedule's list once when 0.
Program compile_program(const BatchShape& shape, const Schedule& schedule, const PlanOptions& options,
                        const BackendTraits& traits);

// The same for `steps` steps under a product plan chosen by the caller (a
// cost model trying restart placements, tests): throws std::invalid_argument
// for a bad shape or schedule, steps outside [1, kMaxProgramSteps], or
// restarts that are not increasing steps in (0, steps).
Program compile_program(const BatchShape& shape, const Schedule& schedule, int steps, const ProductPlan& products);

const char* to_string(Buffer buffer);
const char* to_string(OpKind kind);

}  // namespace polar_express::runtime
