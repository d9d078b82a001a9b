#pragma once
// The CUDA backend's host-side vocabulary: element types, the per-matrix
// statistics the kernels leave on the device, errors, and the interface a
// schedule-specialised kernel set (what `polar-express emit --target cuda`
// writes) implements.  Compiles with a plain C++17 compiler: no CUDA header.
#include "polar_express/runtime/device.hpp"
#include "polar_express/runtime/program.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

// Exactly the CUDA runtime's own declaration, so that host code can name
// streams without including CUDA headers.
typedef struct CUstream_st* cudaStream_t;

namespace polar_express::runtime::cuda {

// Element type of the input and output (and of the iterate between GEMMs):
// f32, f16 or bf16 (vocabulary.hpp); products always accumulate in fp32.
using runtime::ElementType;

// Throws std::invalid_argument for an element type the backend does not run (f64).
inline void require_device_element(ElementType dtype) {
  if (dtype == ElementType::kF64) throw std::invalid_argument("the CUDA backend runs f32, f16 or bf16, not f64");
}

// A failed CUDA or cuBLAS call: the message names the call and the error.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the kernels record per matrix (zeroed at the start of each execute).
struct MatrixStats {
  std::uint32_t max_bits;  // bits of max |g| as a float (ordered like the value: it is >= 0)
  std::uint32_t flags;     // kNonFiniteInput | kDivergedOutput
  float sum_squares;       // sum (g / max|g|)^2, reduced in fp32
  float unused;
  double nuclear;          // <G, U> when requested
};
inline constexpr std::uint32_t kNonFiniteInput = 1u;
inline constexpr std::uint32_t kDivergedOutput = 2u;

// The status a finished matrix's statistics mean.
inline runtime::MatrixStatus status_of(const MatrixStats& stats) {
  if (stats.flags & kNonFiniteInput) return runtime::MatrixStatus::kNonFinite;
  if (stats.max_bits == 0) return runtime::MatrixStatus::kZero;
  if (stats.flags & kDivergedOutput) return runtime::MatrixStatus::kDiverged;
  return runtime::MatrixStatus::kOk;
}

// The fused kernels a kernel set may run for a shape (specialized.cuh):
// none (the plan's cuBLASLt path), the SIMT kernel with everything in fp32
// shared memory, or the tensor-core kernel running the Gram form.
enum class FusedKernel { kNone, kSimt, kGramTensorCore };

// One batch for a fused kernel: B matrices rows x cols, row-major, strides in
// elements; `stats` is device memory with `batch` zeroed entries.
struct FusedArguments {
  FusedKernel kernel = FusedKernel::kNone;  // what prepare_fused chose, for the program's form
  const void* input = nullptr;
  void* output = nullptr;
  ElementType dtype = ElementType::kF32;
  int batch = 0, rows = 0, cols = 0;
  std::int64_t input_stride = 0, output_stride = 0;
  int steps = 0;  // steps past the table's end repeat its last step
  bool nuclear_norm = false;
  MatrixStats* stats = nullptr;
  // kGramTensorCore: bit t set restarts the Gram form before step t (t <
  // kFusedRestartLimit), through `workspace` (batch * min(rows, cols) *
  // max(rows, cols) fp16 elements, needed only when some bit is set).
  std::uint64_t restarts = 0;
  void* workspace = nullptr;
};
inline constexpr int kFusedRestartLimit = 64;

// The program a fused kernel runs for `shape` (program.hpp), which its plan
// reports: for kGramTensorCore the Gram form, restarted as its fp16 storage
// needs (the fp16 growth budget, or the options' interval); for kSimt the
// direct form; full products in both (the tensor-core kernel computes the
// lower blocks of its symmetric products itself).  Throws
// std::invalid_argument as compile_program does, for kNone, and for a
// schedule that does not repeat its last step past its list (the kernels'
// rule).
runtime::Program fused_program(const runtime::BatchShape& shape, const runtime::Schedule& schedule,
                               const runtime::PlanOptions& options, FusedKernel kernel);

// The launch of the fused kernel that runs `program`, as far as the program
// decides it: the kernel (the Gram form runs on the tensor-core kernel, the
// direct form on the SIMT one), the steps and the restart mask, the shape;
// the element type, pointers, strides, statistics and <G, U> are the
// caller's.  Throws std::invalid_argument for a program no fused kernel
// runs: a normalisation other than Frobenius, symmetric products, or a
// restart at step kFusedRestartLimit or later.
FusedArguments fused_launch(const runtime::Program& program);

// A kernel set specialised to one schedule (coefficients compiled in).
// Plans take it through a shared_ptr; it must outlive no plan.
class ScheduleKernels {
 public:
  virtual ~ScheduleKernels() = default;
  // The schedule its constants encode (steps, normalisation); shapes the
  // fused kernel cannot hold run the cuBLASLt path with these numbers.
  virtual runtime::Schedule schedule() const = 0;
  // Which fused kernel takes rows x cols of `dtype` on the current device
  // (kGramTensorCore only when `allow_gram`); also makes that launch ready
  // (shared-memory opt-in), so call it once at plan time, not while
  // capturing a graph.
  virtual FusedKernel prepare_fused(int rows, int cols, ElementType dtype, bool allow_gram) const = 0;
  // Enqueues the whole iteration (normalise, steps, write out, statistics)
  // on `stream`; no host synchronisation.  Throws CudaError.
  virtual void launch_fused(const FusedArguments& arguments, cudaStream_t stream) const = 0;
};

}  // namespace polar_express::runtime::cuda
