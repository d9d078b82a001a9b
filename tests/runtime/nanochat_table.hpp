#pragma once
// nanochat's 5-step list (X / (1.02 ||X||_F + 1e-6)) written by hand in the
// Table shape codegen emits (runtime/include/polar_express/runtime/cuda/
// specialized.cuh), for the tests that instantiate the fused kernels
// directly: nanochat_specialized.cu (on a GPU) and
// test_fused_emulated.cpp (on the CPU emulator).
namespace polar_express::test {

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

}  // namespace polar_express::test
