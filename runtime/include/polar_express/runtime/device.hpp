#pragma once
// Accelerator backends behind a loadable module, so that programs that only
// design, verify or run on the CPU never load a GPU library.  The CUDA
// backend is libpolar_express_cuda.so; cuda_backend() loads it on first use.
// C++17, no CUDA header: streams and device pointers are void* here (a
// cudaStream_t, or null for the legacy default stream).
//
//   const auto& cuda = polar_express::runtime::cuda_backend();   // throws BackendUnavailable
//   auto plan = cuda.make_plan({B, M, N}, ElementType::kBF16, schedule, {}, /*device=*/0);
//   plan->execute(d_in, d_out, stream);      // enqueue only
//   Report r = plan->report(stream);         // synchronises
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/program.hpp"
#include "polar_express/runtime/report.hpp"
#include "polar_express/runtime/schedule.hpp"

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace polar_express::runtime {

// Device batches are f32, f16 or bf16 (ElementType, vocabulary.hpp);
// products accumulate in fp32.  make_plan refuses f64.

// The planning traits of the CUDA backend for `dtype` (program.hpp): the
// element type's significand bits (the Gram restart budget) and k >= 2048
// for symmetric products.  Here rather than in the CUDA module so that a
// host without it can compile the programs the CUDA plan runs (the Python
// package's torch and JAX backends plan accelerators by them).
BackendTraits cuda_traits(ElementType dtype);

// A backend that cannot be used here: not built, its module or driver
// missing, no device.  The message is one line saying which.
class BackendUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A plan on one device: workspace and library state made once, execute
// enqueue-only (no allocation, no host synchronisation, graph-capturable).
class DevicePlan {
 public:
  virtual ~DevicePlan() = default;
  // Polar factors of the device batch at `input` into `output` (equal for
  // in place) on `stream`.  One execute in flight per plan.
  virtual void execute(const void* input, void* output, void* stream) = 0;
  // Synchronises `stream`; the statistics of the last execute.
  virtual Report report(void* stream) = 0;
  // The program the plan runs (a fused kernel runs the same iteration in one
  // launch; kernels() says so).
  virtual const Program& program() const = 0;
  // Which path runs, in words (e.g. "cuBLASLt", "fused tensor-core kernel").
  virtual std::string kernels() const = 0;
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  // Usable devices; 0 when there is none.  Any other failure (a driver too
  // old for the runtime) throws BackendUnavailable naming it.
  virtual int device_count() const = 0;
  // A plan on device `device` for the schedule: its generated kernel set
  // when the backend carries one for exactly this schedule, else the
  // generic path.  Throws std::invalid_argument for bad input,
  // BackendUnavailable without a device.
  virtual std::unique_ptr<DevicePlan> make_plan(const BatchShape& shape, ElementType dtype, const Schedule& schedule,
                                                const PlanOptions& options, int device) const = 0;
  // Device memory and synchronous converting copies (round to nearest
  // even), for tools and tests that hold their data on the host.
  virtual void* allocate(std::size_t bytes, int device) const = 0;
  virtual void release(void* pointer) const noexcept = 0;
  virtual void upload(const float* host, void* device_pointer, std::size_t count, ElementType dtype) const = 0;
  virtual void download(const void* device_pointer, float* host, std::size_t count, ElementType dtype) const = 0;
  virtual void synchronize(void* stream) const = 0;
};

// The CUDA backend, loaded once: from $POLAR_EXPRESS_CUDA_MODULE when set,
// else libpolar_express_cuda.so beside the binary that holds the runtime (or
// in ../lib from it), else through the dynamic loader's search path.
// Throws BackendUnavailable (this build has no CUDA backend; the module or
// the CUDA libraries cannot be loaded).
const DeviceBackend& cuda_backend();

// The name of the module file and of the entry point it exports:
// extern "C" const DeviceBackend* polar_express_cuda_backend_v1().
inline constexpr const char* kCudaModuleFile = "libpolar_express_cuda.so";
inline constexpr const char* kCudaModuleEntry = "polar_express_cuda_backend_v1";

}  // namespace polar_express::runtime
