// A specialised kernel set written by hand in the shape codegen emits for a
// schedule: nanochat's 5-step list (X / (1.02 ||X||_F + 1e-6)).  It lets the
// runtime tests compare the fused path with the generic one on a GPU, and
// compiles specialized.cuh wherever nvcc is found.
#include "polar_express/runtime/cuda/specialized.cuh"

#include <memory>

namespace {

struct NanochatTable {
  static constexpr int kSteps = 5;
  static constexpr int kMaxCoefficients = 3;
  static constexpr int kDegrees[kSteps] = {5, 5, 5, 5, 5};
  static constexpr float kCoefficients[kSteps][kMaxCoefficients] = {
      {8.156554524902461f, -22.48329292557795f, 15.878769915207462f},
      {4.042929935166739f, -2.808917465908714f, 0.5000178451051316f},
      {3.8916678022926607f, -2.772484153217685f, 0.5060648178503393f},
      {3.285753657755655f, -2.3681294933425376f, 0.46449024233003106f},
      {2.3465413258596377f, -1.7097828382687081f, 0.42323551169305323f},
  };
  static constexpr float kNormFactor = 1.02f;
  static constexpr float kNormEps = 1e-6f;
};

}  // namespace

namespace polar_express::schedules {

std::unique_ptr<polar_express::cuda::ScheduleKernels> make_nanochat_test_cuda() {
  return std::make_unique<polar_express::cuda::SpecializedKernels<NanochatTable>>();
}

}  // namespace polar_express::schedules
