// libpolar_express_cuda.so's entry point: the CUDA backend behind
// runtime/device.hpp's interface, for programs that load it on demand (the
// CLI, the Python package).  Shipped schedules run their generated kernel
// sets, looked up by name in the generated registry.
#include "polar_express/runtime/cuda/plan.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express_cuda_registry.hpp"  // generated/: the shipped kernel sets by name

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>

namespace polar_express::runtime::cuda {
namespace {

void select(int device) {
  const cudaError_t status = cudaSetDevice(device);
  if (status != cudaSuccess) {
    throw std::invalid_argument("CUDA device " + std::to_string(device) + ": " + cudaGetErrorString(status));
  }
}

// Whether a kernel set's table encodes `schedule`: the same steps and
// normalisation, its float coefficients the correct rounding of the
// schedule's doubles.
bool encodes(const Schedule& table, const Schedule& schedule) {
  if (table.steps.size() != schedule.steps.size() || table.after_list != schedule.after_list ||
      schedule.normalization.kind != NormalizationKind::kFrobenius ||
      static_cast<float>(schedule.normalization.factor) != static_cast<float>(table.normalization.factor) ||
      static_cast<float>(schedule.normalization.eps) != static_cast<float>(table.normalization.eps)) {
    return false;
  }
  for (std::size_t t = 0; t < table.steps.size(); ++t) {
    const std::vector<double>& mine = schedule.steps[t].coefficients;
    const std::vector<double>& theirs = table.steps[t].coefficients;
    if (mine.size() != theirs.size()) return false;
    for (std::size_t j = 0; j < mine.size(); ++j) {
      if (static_cast<float>(mine[j]) != static_cast<float>(theirs[j])) return false;
    }
  }
  return true;
}

// The shipped kernel set generated for `schedule`, or null.
std::shared_ptr<const ScheduleKernels> shipped_kernels(const Schedule& schedule) {
  for (const auto& entry : schedules::cuda_registry) {
    if (schedule.name != entry.name) continue;
    std::shared_ptr<const ScheduleKernels> set = entry.make();
    if (encodes(set->schedule(), schedule)) return set;
  }
  return nullptr;
}

std::string describe(const Plan& plan, bool specialised) {
  switch (plan.fused_kernel()) {
    case FusedKernel::kGramTensorCore: return "fused tensor-core kernel (generated)";
    case FusedKernel::kSimt: return "fused SIMT kernel (generated)";
    case FusedKernel::kNone: break;
  }
  return specialised ? "cuBLASLt (generated set; no fused kernel for this shape)" : "cuBLASLt";
}

class ModulePlan final : public DevicePlan {
 public:
  ModulePlan(Plan plan, int device, std::string kernels)
      : plan_(std::move(plan)), device_(device), kernels_(std::move(kernels)) {}
  void execute(const void* input, void* output, void* stream) override {
    select(device_);
    plan_.execute(input, output, static_cast<cudaStream_t>(stream));
  }
  Report report(void* stream) override {
    select(device_);
    return plan_.report(static_cast<cudaStream_t>(stream));
  }
  const Program& program() const override { return plan_.program(); }
  std::string kernels() const override { return kernels_; }

 private:
  Plan plan_;
  int device_;
  std::string kernels_;
};

class Module final : public DeviceBackend {
 public:
  int device_count() const override {
    try {
      return cuda::device_count();
    } catch (const CudaError& e) {
      throw BackendUnavailable(e.what());
    }
  }

  std::unique_ptr<DevicePlan> make_plan(const BatchShape& shape, ElementType dtype, const Schedule& schedule,
                                        const PlanOptions& options, int device) const override {
    validate(schedule);
    if (device_count() == 0) throw BackendUnavailable("no CUDA device is available");
    select(device);
    if (std::shared_ptr<const ScheduleKernels> set = shipped_kernels(schedule)) {
      Plan plan(shape, dtype, std::move(set), options, schedule.certificate);
      std::string kernels = describe(plan, true);
      return std::make_unique<ModulePlan>(std::move(plan), device, std::move(kernels));
    }
    Plan plan(shape, dtype, schedule, options);
    std::string kernels = describe(plan, false);
    return std::make_unique<ModulePlan>(std::move(plan), device, std::move(kernels));
  }

  void* allocate(std::size_t bytes, int device) const override {
    select(device);
    void* pointer = nullptr;
    detail_check(cudaMalloc(&pointer, bytes), "cudaMalloc");
    return pointer;
  }
  void release(void* pointer) const noexcept override { cudaFree(pointer); }
  void upload(const float* host, void* device_pointer, std::size_t count, ElementType dtype) const override {
    cuda::upload(host, device_pointer, count, dtype);
  }
  void download(const void* device_pointer, float* host, std::size_t count, ElementType dtype) const override {
    cuda::download(device_pointer, host, count, dtype);
  }
  void synchronize(void* stream) const override { cuda::synchronize(static_cast<cudaStream_t>(stream)); }

 private:
  static void detail_check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) throw CudaError(std::string(what) + " failed: " + cudaGetErrorString(status));
  }
};

}  // namespace
}  // namespace polar_express::runtime::cuda

extern "C" __attribute__((visibility("default"))) const polar_express::runtime::DeviceBackend*
polar_express_cuda_backend_v1() {
  static const polar_express::runtime::cuda::Module module;
  return &module;
}
