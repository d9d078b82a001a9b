#pragma once
// Kernels specialised to one schedule: its coefficients are compile-time
// constants, so every step is unrolled with them as immediates (no
// coefficient loads, no loop over a runtime list).
//
// THE TABLE CONTRACT.  A schedule is handed over as a struct
//
//   struct MyTable {
//     static constexpr int kSteps = 5;                   // >= 1
//     static constexpr int kMaxCoefficients = 3;         // >= (kDegrees[s] + 1) / 2 for all s
//     static constexpr int kDegrees[kSteps] = {5, ...};  // odd, >= 3
//     static constexpr float kCoefficients[kSteps][kMaxCoefficients] = {{c0, c1, c2}, ...};
//                                                        // increasing power; unused slots 0
//     static constexpr float kNormFactor = 1.02f;        // X / (kNormFactor ||X||_F + kNormEps)
//     static constexpr float kNormEps = 1e-6f;
//   };
//
// and a translation unit compiled by nvcc (-std=c++17 -I runtime/include)
// instantiates SpecializedKernels<MyTable>, typically as
//
//   namespace polar_express::schedules {
//   std::unique_ptr<polar_express::runtime::cuda::ScheduleKernels> make_<ident>_cuda() {
//     return std::make_unique<polar_express::runtime::cuda::SpecializedKernels<MyTable>>();
//   }
//   }
//
// which polar_express::runtime::cuda::Plan takes (as a shared_ptr).  Steps past
// kSteps repeat the last one (the after_list rule of every shipped schedule).
//
// What it provides: two fused kernels, each one thread block per matrix
// running normalisation, every step and the output write in one launch:
//   - bf16/fp16 with k = min(rows, cols) <= 128 on sm_80 and later: the
//     tensor-core kernel in the Gram form (fused_gram_mma.cuh), unless the
//     plan's options turn the Gram form off;
//   - otherwise, while its fp32 buffers fit shared memory, the SIMT kernel
//     (fused_simt.cuh; f32 always comes here when it fits).
// Other shapes, and matrices of more than kMaxFusedElements elements, take
// the plan's cuBLASLt path with the same constants (schedule()).  Statuses, the <G, U> by-product and the NaN policy are those
// of the generic path.
#include "polar_express/runtime/cuda/detail/fused_common.cuh"
#include "polar_express/runtime/cuda/detail/fused_gram_mma.cuh"
#include "polar_express/runtime/cuda/detail/fused_simt.cuh"
#include "polar_express/runtime/cuda/kernels.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

namespace polar_express::runtime::cuda {

template <class Table>
class SpecializedKernels final : public ScheduleKernels {
  static_assert(detail::Constants<Table>::valid(),
                "Table: kSteps >= 1, odd degrees >= 3 with (degree + 1) / 2 <= kMaxCoefficients, "
                "kNormFactor > 0, kNormEps >= 0");

 public:
  runtime::Schedule schedule() const override {
    runtime::Schedule s;
    s.normalization = {static_cast<double>(Table::kNormFactor), static_cast<double>(Table::kNormEps)};
    s.after_list = runtime::AfterList::kRepeatLast;
    for (int t = 0; t < Table::kSteps; ++t) {
      runtime::Step step;
      step.degree = Table::kDegrees[t];
      for (int j = 0; j < (step.degree + 1) / 2; ++j) step.coefficients.push_back(Table::kCoefficients[t][j]);
      s.steps.push_back(std::move(step));
    }
    return s;
  }

  FusedKernel prepare_fused(int rows, int cols, ElementType dtype, bool allow_gram) const override {
    if (rows < 1 || cols < 1) return FusedKernel::kNone;
    // Decided before asking the device anything (so testable without one).
    if (static_cast<std::int64_t>(rows) * cols > detail::kMaxFusedElements) return FusedKernel::kNone;
    int device = 0, major = 0;
    detail::check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    detail::check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
               "cudaDeviceGetAttribute(ComputeCapabilityMajor)");
    const int k = std::min(rows, cols);
    if (allow_gram && dtype != ElementType::kF32 && major >= 8 && k <= detail::kGramMaxSide) {
      const std::size_t bytes = detail::gram_layout(k).bytes();
      constexpr int arch = detail::mma::kRequiredArch;
      const bool taken = dtype == ElementType::kF16 ? ready(detail::gram_mma_kernel<Table, __half>, bytes, arch)
                                              : ready(detail::gram_mma_kernel<Table, __nv_bfloat16>, bytes, arch);
      if (taken) return FusedKernel::kGramTensorCore;
    }
    const std::size_t bytes = detail::simt_shared_bytes(rows, cols);
    bool taken = false;
    switch (dtype) {
      case ElementType::kF32: taken = ready(detail::simt_kernel<Table, float>, bytes); break;
      case ElementType::kF16: taken = ready(detail::simt_kernel<Table, __half>, bytes); break;
      case ElementType::kBF16: taken = ready(detail::simt_kernel<Table, __nv_bfloat16>, bytes); break;
      case ElementType::kF64: break;
    }
    return taken ? FusedKernel::kSimt : FusedKernel::kNone;
  }

  void launch_fused(const FusedArguments& args, cudaStream_t stream) const override {
    switch (args.dtype) {
      case ElementType::kF32: return launch<float>(args, stream);
      case ElementType::kF16: return launch<__half>(args, stream);
      case ElementType::kBF16: return launch<__nv_bfloat16>(args, stream);
      case ElementType::kF64: break;
    }
    require_device_element(args.dtype);
  }

 private:
  // Whether `kernel` was compiled for a virtual architecture of at least
  // `required_ptx` (the tensor-core kernel needs its MMAs: sm_80) and can
  // take `bytes` of dynamic shared memory on the current device; if so,
  // lets it launch with up to the device's whole opt-in allowance.  That
  // limit is an attribute of the kernel function, shared by every plan that
  // launches it: set to one plan's size, a later plan of a smaller shape
  // would lower it under an earlier plan's launches and captured graphs.
  // The device's allowance is the same value at every call, so no plan can
  // lower it and concurrent calls agree.  (The occupancy of a launch follows
  // the shared memory it asks for, not this limit.)
  template <class Kernel>
  static bool ready(Kernel* kernel, std::size_t bytes, int required_ptx = 0) {
    cudaFuncAttributes attributes{};
    detail::check_cuda(cudaFuncGetAttributes(&attributes, kernel), "cudaFuncGetAttributes (fused kernel)");
    int device = 0, allowance = 0;
    detail::check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    detail::check_cuda(cudaDeviceGetAttribute(&allowance, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
               "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
    const int dynamic_limit = allowance - static_cast<int>(attributes.sharedSizeBytes);
    if (attributes.ptxVersion < required_ptx || bytes > static_cast<std::size_t>(dynamic_limit)) return false;
    detail::check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic_limit),
               "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
    return true;
  }

  template <class T>
  static void launch(const FusedArguments& args, cudaStream_t stream) {
    const unsigned blocks = static_cast<unsigned>(args.batch);
    if (args.kernel == FusedKernel::kGramTensorCore) {
      if constexpr (std::is_same_v<T, float>) {
        throw std::invalid_argument("the tensor-core fused kernel takes bf16 and fp16 only");
      } else {
        const std::size_t bytes = detail::gram_layout(std::min(args.rows, args.cols)).bytes();
        detail::gram_mma_kernel<Table, T><<<blocks, detail::kGramThreads, bytes, stream>>>(args);
      }
    } else if (args.kernel == FusedKernel::kSimt) {
      const std::size_t bytes = detail::simt_shared_bytes(args.rows, args.cols);
      detail::simt_kernel<Table, T><<<blocks, detail::kSimtThreads, bytes, stream>>>(args);
    } else {
      throw std::invalid_argument("launch_fused without a fused kernel chosen by prepare_fused");
    }
    detail::check_cuda(cudaGetLastError(), "launching the fused kernel");
  }
};

}  // namespace polar_express::runtime::cuda
