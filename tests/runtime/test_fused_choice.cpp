// The part of the fused-kernel choice (SpecializedKernels::prepare_fused)
// that is decided before the device is asked anything, so it runs on every
// machine: matrices past the fused kernels' int indexing take the cuBLASLt
// path.
#include <catch2/catch.hpp>

#if POLAR_EXPRESS_RUNTIME_CUDA

#include "polar_express/runtime/cuda/plan.hpp"
#include "polar_express_nanochat_d5_cuda.hpp"  // the shipped kernel set, in libpolar_express_cuda

#include <memory>

namespace pc = polar_express::runtime::cuda;

TEST_CASE("fused kernels: matrices of more than 2^30 elements take the cuBLASLt path", "[cuda][fused]") {
  const std::unique_ptr<pc::ScheduleKernels> kernels = polar_express::schedules::make_polar_express_nanochat_d5_cuda();
  constexpr int kWide = (1 << 23) + 1;  // with 128 rows: 2^30 + 128 elements
  CHECK(kernels->prepare_fused(128, kWide, pc::ElementType::kBF16, true) == pc::FusedKernel::kNone);
  CHECK(kernels->prepare_fused(kWide, 128, pc::ElementType::kF16, true) == pc::FusedKernel::kNone);
  CHECK(kernels->prepare_fused(1, (1 << 30) + 1, pc::ElementType::kF32, false) == pc::FusedKernel::kNone);
  // 46341^2 = 2147488281: past INT_MAX, where an int product would wrap.
  CHECK(kernels->prepare_fused(46341, 46341, pc::ElementType::kBF16, true) == pc::FusedKernel::kNone);
  // At 2^30 elements the device decides: an sm_80+ GPU's tensor-core kernel
  // takes k = 128; without a device the question fails.
  if (pc::device_count() == 0) {
    CHECK_THROWS_AS(kernels->prepare_fused(128, 1 << 23, pc::ElementType::kBF16, true), pc::CudaError);
  } else {
    CHECK(kernels->prepare_fused(128, 1 << 23, pc::ElementType::kBF16, true) == pc::FusedKernel::kGramTensorCore);
  }
}

#endif  // POLAR_EXPRESS_RUNTIME_CUDA
