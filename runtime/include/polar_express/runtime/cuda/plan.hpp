#pragma once
// CUDA backend: bf16, fp16 or fp32 batches, fp32 accumulation.  The plan
// runs the iteration program (program.hpp) as cuBLASLt strided-batched
// GEMMs and a few element-wise kernels, or one fused kernel of a schedule's
// generated kernel set (specialized.cuh).  Linked directly as
// PolarExpress::cuda (libpolar_express_cuda.so), or reached through the
// loadable backend of runtime/device.hpp.
//
//   polar_express::runtime::cuda::Plan plan({B, M, N}, ElementType::kBF16, schedule);
//   plan.execute(d_grad, d_update, stream);   // async; graph-capturable
//   auto report = plan.report(stream);        // synchronises: statuses etc.
//
// The operations: kNormalize reduces max |g| and sum (g / max|g|)^2 per
// matrix (per-block partials added in a fixed order: the same bits on every
// run) and writes X in the element type (|x| <= 1 / factor: fp16 cannot
// overflow); kGram is A = X X^T (or X^T X) through the transpose flags
// (row-major X is column-major X^T: no copy), by lower block rows and a
// mirror when symmetric; kProduct and kApply put their beta term in
// cuBLASLt's C; the Gram form keeps its k x k matrices in fp32 and rounds Q
// to the element type only for Q X0; kStore flags non-finite and too large
// (||X||_F^2 > 4k) iterates and writes the output.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/cuda/kernels.hpp"
#include "polar_express/runtime/program.hpp"
#include "polar_express/runtime/report.hpp"

#include <memory>
#include <optional>
#include <vector>

// Exactly the CUDA runtime's own declarations, at global scope as cudaStream_t
// (kernels.hpp), so that every translation unit names the same types
// whether or not it includes the CUDA headers first.
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;

namespace polar_express::runtime::cuda {

// The planning traits of the CUDA backend for `dtype` (program.hpp): the
// generic path runs compile_program(shape, schedule, options, traits(dtype)).
// The same as runtime::cuda_traits (device.hpp), which hosts without this
// module can call.
runtime::BackendTraits traits(ElementType dtype);

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
void upload(const float* host, void* device, std::size_t count, ElementType dtype);
void download(const void* device, float* host, std::size_t count, ElementType dtype);

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
  Plan(const runtime::BatchShape& shape, ElementType dtype, runtime::Schedule schedule,
       const runtime::PlanOptions& options = {});
  // A specialised kernel set: its fused kernel when it takes the shape, else
  // the cuBLASLt path with its schedule.  `certificate`, when given, is the
  // certificate of the schedule the set was generated from, whose floats the
  // set's constants are (report() gives its float bounds, as for any
  // schedule on this backend: every CUDA path multiplies by floats).
  Plan(const runtime::BatchShape& shape, ElementType dtype, std::shared_ptr<const ScheduleKernels> kernels,
       const runtime::PlanOptions& options = {}, std::optional<runtime::Certificate> certificate = std::nullopt);
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
  runtime::Report report(cudaStream_t stream) const;

  bool uses_fused_kernel() const;
  // Which fused kernel runs (kNone on the cuBLASLt path).
  FusedKernel fused_kernel() const;
  // The program the plan runs: the generic path executes its operations;
  // a fused kernel does the same work in one launch, its form, steps and
  // restarts taken from this program (fused_program, fused_launch in
  // kernels.hpp).  program().products: Gram form, restarts, symmetric.
  const runtime::Program& program() const;
  const runtime::Schedule& schedule() const;
  ElementType dtype() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace polar_express::runtime::cuda
