// The CUDA backend's fused kernels as the iteration program describes them:
// which program each runs and what a launch takes from it.  Host code with
// no CUDA dependency, so that it is the same on every machine (the CPU
// emulation of the kernels checks them against it).
#include "polar_express/runtime/cuda/kernels.hpp"

#include <stdexcept>

namespace polar_express::runtime::cuda {

Program fused_program(const BatchShape& shape, const Schedule& schedule, const PlanOptions& options,
                      FusedKernel kernel) {
  if (kernel == FusedKernel::kNone) throw std::invalid_argument("fused_program: no fused kernel");
  if (schedule.after_list != AfterList::kRepeatLast) {
    throw std::invalid_argument("schedule '" + schedule.name + "' does not repeat its last step, which the fused kernels do");
  }
  PlanOptions as_run = options;
  as_run.symmetric = ProductMode::kOff;
  as_run.gram = kernel == FusedKernel::kGramTensorCore ? ProductMode::kOn : ProductMode::kOff;
  // The tensor-core kernel keeps Q and the restarted iterate in fp16.
  BackendTraits traits;
  traits.storage = ElementType::kF16;
  return compile_program(shape, schedule, as_run, traits);
}

FusedArguments fused_launch(const Program& program) {
  if (program.normalization.kind != NormalizationKind::kFrobenius) {
    throw std::invalid_argument(std::string("the fused kernels normalise by the Frobenius norm, not ") +
                                to_string(program.normalization.kind));
  }
  if (program.products.symmetric) throw std::invalid_argument("the fused kernels run full products");
  FusedArguments args;
  args.kernel = program.products.gram ? FusedKernel::kGramTensorCore : FusedKernel::kSimt;
  args.batch = static_cast<int>(program.shape.batch);
  args.rows = static_cast<int>(program.shape.rows);
  args.cols = static_cast<int>(program.shape.cols);
  args.input_stride = program.shape.input_step();
  args.output_stride = program.shape.output_step();
  args.steps = program.steps;
  for (int t : program.products.restarts) {
    if (t >= kFusedRestartLimit) {
      throw std::invalid_argument("the tensor-core kernel restarts before steps below " +
                                  std::to_string(kFusedRestartLimit) + ", not " + std::to_string(t));
    }
    args.restarts |= std::uint64_t{1} << t;
  }
  return args;
}

}  // namespace polar_express::runtime::cuda
