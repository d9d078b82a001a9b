#pragma once
// CUDA backend: bf16, fp16 or fp32 batches, fp32 accumulation, cuBLASLt
// strided-batched GEMMs with the polynomial folded into their beta epilogue.
//
//   polar_express::cuda::Plan plan({B, M, N}, DType::kBF16, schedule);
//   plan.execute(d_grad, d_update, stream);   // async; graph-capturable
//   auto report = plan.report(stream);        // synchronises: statuses etc.
//
// Per matrix: max |g| and sum (g / max|g|)^2 reduced in fp32 (so 1e-30 and
// 1e30 neither under- nor overflow), X = g / (factor ||G||_F + eps) written in
// the element type (|x| <= 1 / factor: fp16 cannot overflow), then each step
//   A = X X^T (rows <= cols) or X^T X (rows > cols, no transpose copy),
//   P = alpha A P + beta A (Horner in A: one GEMM per coefficient past c1),
//   X = alpha P X + c0 X   (or X P^T + c0 X),
// then non-finite outputs are flagged and the result written (NaN for a
// non-finite input or a diverged run, zero for a zero input).
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/cuda/kernels.hpp"
#include "polar_express/runtime/gram.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace polar_express::cuda {

// Number of usable CUDA devices; 0 when there is none or no NVIDIA driver is
// installed.  Throws CudaError, naming the error and the driver's and the
// runtime's CUDA versions, for any other failure (e.g. a driver too old for
// this runtime): a broken installation is not a machine without a GPU.
int device_count();

// Blocks until all work on `stream` is done.  Throws CudaError.
void synchronize(cudaStream_t stream = nullptr);

// Device memory owned by the object (cudaMalloc / cudaFree).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Synchronous copies with conversion (round to nearest even) between host
// floats and `count` device elements of `dtype`.  Throws CudaError.
void upload(const float* host, void* device, std::size_t count, DType dtype);
void download(const void* device, float* host, std::size_t count, DType dtype);

struct Report {
  std::vector<runtime::MatrixStatus> status;
  std::vector<double> nuclear_norms;  // empty unless options.nuclear_norm
  bool all_succeeded = false;
  std::optional<double> sigma_error_bound;  // options.certified_error when every status is kOk
};

// Exactly the CUDA runtime's own declarations (see cudaStream_t).
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;

// One captured execute of a plan (its input, output and workspace fixed),
// replayed by launch() as a single CUDA graph launch: no per-kernel launch
// overhead, no host synchronisation.  Must not outlive its plan.
class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(Graph&& other) noexcept;
  Graph& operator=(Graph&& other) noexcept;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  // Enqueues the whole schedule on `stream`.  Throws CudaError.
  void launch(cudaStream_t stream) const;

 private:
  friend class Plan;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

class Plan {
 public:
  // The generic path: cuBLASLt with the schedule's coefficients as scalars.
  Plan(const runtime::BatchShape& shape, DType dtype, runtime::Schedule schedule,
       const runtime::PlanOptions& options = {});
  // A specialised kernel set: its fused kernel when it takes the shape, else
  // the cuBLASLt path with its schedule.
  Plan(const runtime::BatchShape& shape, DType dtype, std::shared_ptr<const ScheduleKernels> kernels,
       const runtime::PlanOptions& options = {});
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Enqueues the polar factors of the device batch `input` into `output`
  // (equal to `input` for in place) on `stream`: no allocation, no host
  // synchronisation, capturable in a CUDA graph.  Throws CudaError when a
  // launch fails.  One execute in flight per plan (it owns the workspace).
  void execute(const void* input, void* output, cudaStream_t stream);

  // Captures one execute(input, output) on `stream` (a created stream, not
  // the legacy default one) into a graph; nothing runs until launch().  The
  // plan's report() then describes the graph's last launch.
  Graph capture(const void* input, void* output, cudaStream_t stream);

  // The statistics of the last execute; synchronises `stream`.
  Report report(cudaStream_t stream) const;

  bool uses_fused_kernel() const;
  // Which fused kernel runs (kNone on the cuBLASLt path).
  FusedKernel fused_kernel() const;
  // Gram iteration, its restarts and symmetric products, resolved for this
  // shape and dtype (PlanOptions; CUDA's symmetric threshold is k >= 2048).
  const runtime::ProductPlan& products() const;
  const runtime::BatchShape& shape() const;
  DType dtype() const;
  const runtime::Schedule& schedule() const;
  int steps() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace polar_express::cuda
