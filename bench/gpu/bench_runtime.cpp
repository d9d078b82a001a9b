// Times the CUDA runtime on a batch that bench/gpu/run.py wrote, and writes
// the result back for it to score against the PyTorch formulation.
//
//   bench_gpu_runtime B M N DTYPE INPUT OUTPUT REPEATS [VARIANT]
//
// INPUT/OUTPUT are raw row-major elements of DTYPE (bf16, f16 or f32).
// VARIANT picks the plan options: generic (standard path, full GEMMs),
// symmetric (lower-triangle products), gram (Gram iteration, automatic
// restarts, full GEMMs), auto (every option kAuto: the library's default),
// graph (auto, replayed as one captured CUDA graph), specialised (the
// generated kernel set of the schedule, generated/polar_express_nanochat_d5.cu:
// its fused kernel where it takes the shape, else auto).  Default: auto.
// Prints one JSON object: variant, median_ms, times_ms, statuses, gram,
// restarts, symmetric, fused.  The schedule is nanochat's 5-step list from
// the generated constexpr table.
#include "polar_express_nanochat_d5.hpp"
#include "polar_express_nanochat_d5_cuda.hpp"

#include "polar_express/runtime/cuda/plan.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace pc = polar_express::runtime::cuda;
namespace rt = polar_express::runtime;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw pc::CudaError(std::string(what) + ": " + cudaGetErrorString(status));
}

std::vector<char> read_file(const std::string& path, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> data(bytes);
  if (!in.read(data.data(), static_cast<std::streamsize>(bytes))) throw std::runtime_error("cannot read " + path);
  return data;
}

int run(int argc, char** argv) {
  if (argc != 8 && argc != 9) {
    std::cerr << "usage: bench_gpu_runtime B M N DTYPE INPUT OUTPUT REPEATS "
                 "[generic|symmetric|gram|auto|graph|specialised]\n";
    return 2;
  }
  const std::string variant = argc == 9 ? argv[8] : "auto";
  rt::PlanOptions options;
  if (variant == "generic") {
    options.gram = rt::ProductMode::kOff;
    options.symmetric = rt::ProductMode::kOff;
  } else if (variant == "symmetric") {
    options.gram = rt::ProductMode::kOff;
    options.symmetric = rt::ProductMode::kOn;
  } else if (variant == "gram") {
    options.gram = rt::ProductMode::kOn;
    options.symmetric = rt::ProductMode::kOff;
  } else if (variant != "auto" && variant != "graph" && variant != "specialised") {
    std::cerr << "bench_gpu_runtime: unknown variant '" << variant << "'\n";
    return 2;
  }
  const rt::BatchShape shape{std::stoll(argv[1]), std::stoll(argv[2]), std::stoll(argv[3])};
  const pc::ElementType dtype = polar_express::parse_element_type(argv[4]);
  const int repeats = std::stoi(argv[7]);
  const std::size_t bytes = static_cast<std::size_t>(shape.batch * shape.matrix_size()) * polar_express::element_bytes(dtype);

  const auto& info = polar_express::schedules::polar_express_nanochat_d5_info;
  const rt::Schedule schedule =
      rt::schedule_from_table(polar_express::schedules::polar_express_nanochat_d5,
                              {info.normalization_factor, info.normalization_eps}, rt::AfterList::kRepeatLast, info.name);

  const std::vector<char> host = read_file(argv[5], bytes);
  pc::DeviceBuffer input(bytes), output(bytes);
  check(cudaMemcpy(input.data(), host.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
  cudaStream_t stream = nullptr;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  pc::Plan plan = variant == "specialised"
                     ? pc::Plan(shape, dtype, polar_express::schedules::make_polar_express_nanochat_d5_cuda(), options)
                     : pc::Plan(shape, dtype, schedule, options);
  pc::Graph graph;
  if (variant == "graph") graph = plan.capture(input.data(), output.data(), stream);
  auto once = [&] {
    if (variant == "graph") graph.launch(stream);
    else plan.execute(input.data(), output.data(), stream);
  };
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int w = 0; w < 3; ++w) once();  // warm-up
  std::vector<float> times;
  for (int r = 0; r < repeats; ++r) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    once();
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(ms);
  }
  const rt::Report report = plan.report(stream);
  std::vector<char> result(bytes);
  check(cudaMemcpy(result.data(), output.data(), bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
  std::ofstream(argv[6], std::ios::binary).write(result.data(), static_cast<std::streamsize>(bytes));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);

  std::vector<float> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                          : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  const rt::ProductPlan& products = plan.program().products;
  std::printf("{\"variant\": \"%s\", \"gram\": %s, \"symmetric\": %s, \"restarts\": [", variant.c_str(),
              products.gram ? "true" : "false", products.symmetric ? "true" : "false");
  for (std::size_t i = 0; i < products.restarts.size(); ++i) std::printf("%s%d", i ? ", " : "", products.restarts[i]);
  const char* fused = plan.fused_kernel() == pc::FusedKernel::kGramTensorCore ? "gram-tensor-core"
                      : plan.fused_kernel() == pc::FusedKernel::kSimt          ? "simt"
                                                                                : "none";
  std::printf("], \"fused\": \"%s\", \"median_ms\": %.6f, \"times_ms\": [", fused, median);
  for (std::size_t i = 0; i < times.size(); ++i) std::printf("%s%.6f", i ? ", " : "", static_cast<double>(times[i]));
  std::printf("], \"statuses\": [");
  for (std::size_t i = 0; i < report.status.size(); ++i) {
    std::printf("%s\"%s\"", i ? ", " : "", rt::to_string(report.status[i]));
  }
  std::printf("]}\n");
  return report.all_succeeded ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_gpu_runtime: " << e.what() << '\n';
    return 1;
  }
}
