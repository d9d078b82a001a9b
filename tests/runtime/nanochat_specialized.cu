// A specialised kernel set written by hand in the shape codegen emits for a
// schedule: nanochat's 5-step list (X / (1.02 ||X||_F + 1e-6)).  It lets the
// runtime tests compare the fused path with the generic one on a GPU, and
// compiles specialized.cuh wherever nvcc is found.
#include "nanochat_table.hpp"
#include "polar_express/runtime/cuda/specialized.cuh"

#include <memory>

namespace polar_express::schedules {

std::unique_ptr<polar_express::cuda::ScheduleKernels> make_nanochat_test_cuda() {
  return std::make_unique<polar_express::cuda::SpecializedKernels<polar_express::test::NanochatTable>>();
}

}  // namespace polar_express::schedules
