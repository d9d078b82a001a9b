// The CUDA backend on a GPU: the executable test_runtime_cuda, whose main
// (cuda_main.cpp) runs these only when a device is present and otherwise
// runs the [no-device] checks and reports the suite as skipped to CTest.
#include "support.hpp"

#include "polar_express/runtime/cpu.hpp"

#include <catch2/catch.hpp>

#include "polar_express/runtime/catalogue.hpp"
#include "polar_express/runtime/cuda/plan.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express_nanochat_d5_cuda.hpp"

#include <cuda_runtime_api.h>

#include <limits>
#include <memory>

namespace rt = polar_express::runtime;
namespace pc = polar_express::runtime::cuda;
using rt::test::Matrix;
using rt::test::worst_relative_error;

namespace {

struct Batch {
  rt::BatchShape shape;
  std::vector<float> values;  // as the device holds them (rounded to the dtype)
};

// A batch with log-spaced spectra down to `lowest`, scaled by `scale`,
// rounded to `dtype` the way upload() does.
Batch make_batch(const rt::BatchShape& shape, pc::ElementType dtype, double lowest, std::uint64_t seed, double scale = 1) {
  std::mt19937_64 rng(seed);
  Batch batch{shape, std::vector<float>(static_cast<std::size_t>(shape.batch * shape.matrix_size()))};
  for (std::int64_t b = 0; b < shape.batch; ++b) {
    const Matrix g = rt::test::with_spectrum(shape.rows, shape.cols,
                                             rt::test::logspace(lowest, std::min(shape.rows, shape.cols)), rng);
    rt::test::pack(Matrix(g * scale), batch.values, b);
  }
  pc::DeviceBuffer device(batch.values.size() * polar_express::element_bytes(dtype));
  pc::upload(batch.values.data(), device.data(), batch.values.size(), dtype);
  pc::download(device.data(), batch.values.data(), batch.values.size(), dtype);
  return batch;
}

// A batch of Gaussian entries (no SVD: cheap at any size), rounded to `dtype`.
Batch gaussian_batch(const rt::BatchShape& shape, pc::ElementType dtype, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  Batch batch{shape, std::vector<float>(static_cast<std::size_t>(shape.batch * shape.matrix_size()))};
  for (float& v : batch.values) v = normal(rng);
  pc::DeviceBuffer device(batch.values.size() * polar_express::element_bytes(dtype));
  pc::upload(batch.values.data(), device.data(), batch.values.size(), dtype);
  pc::download(device.data(), batch.values.data(), batch.values.size(), dtype);
  return batch;
}

// Runs `plan` on the batch; in place when asked.
std::vector<float> run(pc::Plan& plan, const std::vector<float>& input, bool in_place = false) {
  const pc::ElementType dtype = plan.dtype();
  pc::DeviceBuffer in(input.size() * polar_express::element_bytes(dtype)), out(input.size() * polar_express::element_bytes(dtype));
  pc::upload(input.data(), in.data(), input.size(), dtype);
  plan.execute(in.data(), in_place ? in.data() : out.data(), nullptr);
  pc::synchronize();
  std::vector<float> result(input.size());
  pc::download(in_place ? in.data() : out.data(), result.data(), result.size(), dtype);
  return result;
}

// The CPU f64 plan's result on the same (rounded) values.
std::vector<double> cpu_reference(const Batch& batch, const rt::Schedule& schedule, int steps) {
  const std::vector<double> input(batch.values.begin(), batch.values.end());
  std::vector<double> output(input.size());
  rt::PlanOptions options;
  options.steps = steps;
  rt::CpuPlan<double> plan(batch.shape, schedule, options);
  plan.execute(input.data(), output.data());
  return output;
}

}  // namespace

TEST_CASE("CUDA: fp32 reaches 1e-5 with 12 steps of the paper's list", "[cuda][accuracy]") {
  rt::PlanOptions options;
  options.steps = 12;
  for (const rt::BatchShape& s : {rt::BatchShape{1, 37, 53}, rt::BatchShape{1, 53, 37}, rt::BatchShape{3, 20, 31},
                                  rt::BatchShape{2, 130, 70}}) {
    const Batch batch = make_batch(s, pc::ElementType::kF32, 1e-3, 1);
    pc::Plan plan(s, pc::ElementType::kF32, rt::test::paper_schedule(), options);
    const std::vector<float> out = run(plan, batch.values);
    REQUIRE(plan.report(nullptr).all_succeeded);
    CAPTURE(s.batch, s.rows, s.cols);
    for (std::int64_t b = 0; b < s.batch; ++b) {
      CHECK(rt::test::max_sigma_error(rt::test::unpack(out, b, s.rows, s.cols)) < 1e-5);
    }
    CHECK(worst_relative_error(out, cpu_reference(batch, rt::test::paper_schedule(), 12), s) < 1e-4);
  }
}

// bf16 keeps 8 bits: every stored product is off by up to 2^-9 relative, and
// five steps of nanochat's list amplify that by their slopes near 0 (~8)
// only for the smallest singular values.  2e-2 relative Frobenius distance
// to the f64 result is a few bf16 units; a wrong term would be O(1).  fp16
// keeps 11 bits: 4e-3.
TEST_CASE("CUDA: bf16 and fp16 within their tolerance of the CPU f64 result", "[cuda][accuracy]") {
  for (const auto& [dtype, tolerance] : {std::pair{pc::ElementType::kBF16, 2e-2}, std::pair{pc::ElementType::kF16, 4e-3}}) {
    for (const rt::BatchShape& s : {rt::BatchShape{2, 64, 96}, rt::BatchShape{1, 96, 64}, rt::BatchShape{3, 33, 47}}) {
      const Batch batch = make_batch(s, dtype, 1e-2, 2);
      pc::Plan plan(s, dtype, rt::test::nanochat_schedule());
      const std::vector<float> out = run(plan, batch.values);
      REQUIRE(plan.report(nullptr).all_succeeded);
      CAPTURE(polar_express::to_string(dtype), s.batch, s.rows, s.cols);
      CHECK(worst_relative_error(out, cpu_reference(batch, rt::test::nanochat_schedule(), 5), s) < tolerance);
    }
  }
}

TEST_CASE("CUDA: edge inputs in every dtype", "[cuda][edge]") {
  const rt::BatchShape s{4, 13, 21};
  for (pc::ElementType dtype : {pc::ElementType::kF32, pc::ElementType::kBF16, pc::ElementType::kF16}) {
    CAPTURE(polar_express::to_string(dtype));
    // fp16 holds neither 1e-30 nor 1e30: its extremes stand in.
    const bool half = dtype == pc::ElementType::kF16;
    const double tiny = half ? 1e-4 : 1e-30, huge = half ? 3e4 : 1e30;
    Batch batch = make_batch(s, dtype, 1e-2, 3);
    const std::size_t size = static_cast<std::size_t>(s.matrix_size());
    std::fill_n(batch.values.begin(), size, 0.0f);                                           // matrix 0: zero
    batch.values[size + 3] = std::numeric_limits<float>::quiet_NaN();                         // matrix 1: NaN
    batch.values[2 * size + 7] = std::numeric_limits<float>::infinity();                      // matrix 2: Inf
    Batch scaled_tiny = make_batch({1, 13, 21}, dtype, 1e-2, 4, tiny);
    Batch scaled_huge = make_batch({1, 13, 21}, dtype, 1e-2, 4, huge);

    rt::Schedule schedule = rt::test::paper_schedule();
    schedule.normalization.eps = 0;  // so that the tiny matrix is scaled up to the unit ball
    rt::PlanOptions options;
    options.steps = 12;
    pc::Plan plan(s, dtype, schedule, options);
    const std::vector<float> out = run(plan, batch.values);
    const rt::Report report = plan.report(nullptr);
    CHECK_FALSE(report.all_succeeded);
    CHECK(report.status[0] == rt::MatrixStatus::kZero);
    CHECK(report.status[1] == rt::MatrixStatus::kNonFinite);
    CHECK(report.status[2] == rt::MatrixStatus::kNonFinite);
    CHECK(report.status[3] == rt::MatrixStatus::kOk);
    CHECK(rt::test::unpack(out, 0, 13, 21).isZero(0));
    CHECK(rt::test::unpack(out, 1, 13, 21).array().isNaN().all());
    CHECK(rt::test::unpack(out, 2, 13, 21).array().isNaN().all());
    CHECK(rt::test::unpack(out, 3, 13, 21).allFinite());

    const double tolerance = dtype == pc::ElementType::kF32 ? 1e-4 : 5e-2;
    for (const Batch* b : {&scaled_tiny, &scaled_huge}) {
      pc::Plan single(b->shape, dtype, schedule, options);
      const std::vector<float> u = run(single, b->values);
      CHECK(single.report(nullptr).status[0] == rt::MatrixStatus::kOk);
      CHECK(worst_relative_error(u, cpu_reference(*b, schedule, 12), b->shape) < tolerance);
    }
  }
}

TEST_CASE("CUDA: vectors, B = 1 and B = 1000, sizes off multiples of 8", "[cuda][batch]") {
  rt::PlanOptions options;
  options.steps = 12;
  for (const rt::BatchShape& s : {rt::BatchShape{1, 1, 37}, rt::BatchShape{1, 37, 1}, rt::BatchShape{1, 1, 1},
                                  rt::BatchShape{1, 77, 45}, rt::BatchShape{1000, 5, 7}, rt::BatchShape{1000, 7, 5}}) {
    CAPTURE(s.batch, s.rows, s.cols);
    const Batch batch = make_batch(s, pc::ElementType::kF32, 1e-2, 5);
    pc::Plan plan(s, pc::ElementType::kF32, rt::test::paper_schedule(), options);
    const std::vector<float> out = run(plan, batch.values);
    CHECK(plan.report(nullptr).all_succeeded);
    CHECK(worst_relative_error(out, cpu_reference(batch, rt::test::paper_schedule(), 12), s) < 1e-5);
  }
}

TEST_CASE("CUDA: in place, repeated and graph-captured runs agree", "[cuda][layout]") {
  const rt::BatchShape s{3, 45, 29};
  const Batch batch = make_batch(s, pc::ElementType::kBF16, 1e-3, 6);
  pc::Plan plan(s, pc::ElementType::kBF16, rt::test::nanochat_schedule());
  const std::vector<float> first = run(plan, batch.values);
  CHECK(run(plan, batch.values) == first);
  CHECK(run(plan, batch.values, true) == first);

  const std::size_t bytes = batch.values.size() * 2;
  pc::DeviceBuffer in(bytes), out(bytes);
  pc::upload(batch.values.data(), in.data(), batch.values.size(), pc::ElementType::kBF16);
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
  plan.execute(in.data(), out.data(), stream);
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  const rt::Report report = plan.report(stream);
  std::vector<float> captured(batch.values.size());
  pc::download(out.data(), captured.data(), captured.size(), pc::ElementType::kBF16);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  CHECK(report.all_succeeded);
  CHECK(captured == first);
}

// The generic path reduces the norm's sum of squares and <G, U> over up to
// 1024 blocks per matrix (4M elements here: the most).  Merged with atomics,
// their rounding would follow the order in which the blocks finish, which
// changes from run to run, and so would the bits of the normalised input
// and of everything after it.
TEST_CASE("CUDA: a matrix spread over many blocks gives the same bits on every run", "[cuda][determinism]") {
  const rt::BatchShape s{2, 1024, 4096};
  for (const pc::ElementType dtype : {pc::ElementType::kBF16, pc::ElementType::kF32}) {
    CAPTURE(polar_express::to_string(dtype));
    const Batch batch = gaussian_batch(s, dtype, 11);
    rt::PlanOptions options;
    options.nuclear_norm = true;
    pc::Plan plan(s, dtype, rt::test::nanochat_schedule(), options);
    const std::vector<float> first = run(plan, batch.values);
    const rt::Report first_report = plan.report(nullptr);
    REQUIRE(first_report.all_succeeded);
    // A real result: nanochat's list maps every normalised sigma in
    // [1e-3, 1] into [0.858, 1.142], so ||U_b||_F^2 / k lies in [0.73, 1.31]
    // in exact arithmetic; the bounds leave room for rounding.
    for (std::int64_t b = 0; b < s.batch; ++b) {
      const double squares = rt::test::unpack(first, b, s.rows, s.cols).squaredNorm();
      CHECK(squares > 0.6 * 1024);
      CHECK(squares < 1.45 * 1024);
    }
    for (const bool in_place : {false, false, true}) {
      CAPTURE(in_place);
      CHECK(run(plan, batch.values, in_place) == first);
      CHECK(plan.report(nullptr).nuclear_norms == first_report.nuclear_norms);
    }
  }
}

TEST_CASE("CUDA: the specialised kernel set matches the generic path", "[cuda][specialised]") {
  std::shared_ptr<const pc::ScheduleKernels> kernels = polar_express::schedules::make_polar_express_nanochat_d5_cuda();
  const rt::Schedule schedule = kernels->schedule();
  REQUIRE(schedule.steps.size() == 5);
  CHECK(schedule.normalization.factor == Approx(1.02));
  rt::PlanOptions options;
  options.nuclear_norm = true;
  for (const rt::BatchShape& s : {rt::BatchShape{8, 32, 64}, rt::BatchShape{5, 64, 33}, rt::BatchShape{1, 1, 40},
                                  rt::BatchShape{1000, 6, 9}}) {
    CAPTURE(s.batch, s.rows, s.cols);
    const Batch batch = make_batch(s, pc::ElementType::kF32, 1e-2, 7);
    pc::Plan fused(s, pc::ElementType::kF32, kernels, options);
    pc::Plan generic(s, pc::ElementType::kF32, schedule, options);
    CHECK(fused.uses_fused_kernel());
    CHECK_FALSE(generic.uses_fused_kernel());
    const std::vector<float> a = run(fused, batch.values), b = run(generic, batch.values);
    const rt::Report ra = fused.report(nullptr), rb = generic.report(nullptr);
    CHECK(ra.all_succeeded);
    CHECK(rb.all_succeeded);
    const std::vector<double> b64(b.begin(), b.end());
    CHECK(worst_relative_error(a, b64, s) < 1e-5);
    for (std::size_t i = 0; i < ra.nuclear_norms.size(); ++i) {
      CHECK(ra.nuclear_norms[i] == Approx(rb.nuclear_norms[i]).epsilon(1e-5));
    }
    // bf16 in and out through the SIMT kernel (fp32 inside; with the Gram
    // form on, bf16 takes the tensor-core kernel, tested below): within bf16
    // rounding of the f64 result.
    const Batch narrow = make_batch(s, pc::ElementType::kBF16, 1e-2, 7);
    rt::PlanOptions no_gram;
    no_gram.gram = rt::ProductMode::kOff;
    pc::Plan simt_bf16(s, pc::ElementType::kBF16, kernels, no_gram);
    CHECK(simt_bf16.fused_kernel() == pc::FusedKernel::kSimt);
    CHECK(worst_relative_error(run(simt_bf16, narrow.values), cpu_reference(narrow, schedule, 5), s) < 1e-2);
  }
  SECTION("edge inputs through the fused kernel") {
    const rt::BatchShape s{3, 16, 24};
    Batch batch = make_batch(s, pc::ElementType::kF32, 1e-2, 8);
    std::fill_n(batch.values.begin(), 16 * 24, 0.0f);
    batch.values[16 * 24 + 1] = std::numeric_limits<float>::quiet_NaN();
    pc::Plan fused(s, pc::ElementType::kF32, kernels);
    REQUIRE(fused.uses_fused_kernel());
    const std::vector<float> out = run(fused, batch.values);
    const rt::Report report = fused.report(nullptr);
    CHECK(report.status[0] == rt::MatrixStatus::kZero);
    CHECK(report.status[1] == rt::MatrixStatus::kNonFinite);
    CHECK(report.status[2] == rt::MatrixStatus::kOk);
    CHECK(rt::test::unpack(out, 0, 16, 24).isZero(0));
    CHECK(rt::test::unpack(out, 1, 16, 24).array().isNaN().all());
  }
  SECTION("shapes past shared memory take the cuBLASLt path with the table's numbers") {
    const rt::BatchShape s{1, 300, 700};
    const Batch batch = make_batch(s, pc::ElementType::kF32, 1e-2, 9);
    pc::Plan large(s, pc::ElementType::kF32, kernels);
    pc::Plan generic(s, pc::ElementType::kF32, schedule);
    CHECK_FALSE(large.uses_fused_kernel());
    CHECK(run(large, batch.values) == run(generic, batch.values));
  }
}

// The dynamic shared-memory limit a fused kernel launches under belongs to
// the kernel function, shared by every plan of every shape that runs it: a
// plan made later for a smaller shape must not lower it under an earlier
// plan's launches or its captured graph.
TEST_CASE("CUDA: plans of two shapes on one fused kernel, used alternately", "[cuda][specialised]") {
  std::shared_ptr<const pc::ScheduleKernels> kernels = polar_express::schedules::make_polar_express_nanochat_d5_cuda();
  const rt::Schedule schedule = kernels->schedule();
  struct Case {
    pc::ElementType dtype;
    rt::BatchShape large, small;
    pc::FusedKernel kernel;
    double tolerance;  // against the CPU f64 result, as in the tests above
  };
  // Large: 120 KiB (tensor-core) and 112 KiB (SIMT) of shared memory, past
  // the 48 KiB a kernel gets without opting in; small: 5 KiB at most.
  for (const Case& c : {Case{pc::ElementType::kBF16, {2, 128, 768}, {3, 16, 40}, pc::FusedKernel::kGramTensorCore, 3e-2},
                        Case{pc::ElementType::kF32, {2, 64, 128}, {3, 8, 24}, pc::FusedKernel::kSimt, 1e-4}}) {
    CAPTURE(polar_express::to_string(c.dtype));
    const Batch large_batch = make_batch(c.large, c.dtype, 1e-2, 51), small_batch = make_batch(c.small, c.dtype, 1e-2, 52);
    pc::Plan large(c.large, c.dtype, kernels);
    REQUIRE(large.fused_kernel() == c.kernel);
    const std::vector<float> large_first = run(large, large_batch.values);
    CHECK(worst_relative_error(large_first, cpu_reference(large_batch, schedule, 5), c.large) < c.tolerance);

    const std::size_t bytes = large_batch.values.size() * polar_express::element_bytes(c.dtype);
    pc::DeviceBuffer in(bytes), out(bytes);
    pc::upload(large_batch.values.data(), in.data(), large_batch.values.size(), c.dtype);
    cudaStream_t stream = nullptr;
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
    {
      const pc::Graph graph = large.capture(in.data(), out.data(), stream);
      pc::Plan small(c.small, c.dtype, kernels);  // prepares the same kernel for less shared memory
      REQUIRE(small.fused_kernel() == c.kernel);
      const std::vector<float> small_first = run(small, small_batch.values);
      CHECK(worst_relative_error(small_first, cpu_reference(small_batch, schedule, 5), c.small) < c.tolerance);
      for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        CHECK(run(large, large_batch.values) == large_first);
        REQUIRE(cudaMemsetAsync(out.data(), 0xff, bytes, stream) == cudaSuccess);  // NaN bits: must be overwritten
        graph.launch(stream);
        CHECK(large.report(stream).all_succeeded);
        std::vector<float> replayed(large_batch.values.size());
        pc::download(out.data(), replayed.data(), replayed.size(), c.dtype);
        CHECK(replayed == large_first);
        CHECK(run(small, small_batch.values) == small_first);
      }
    }
    cudaStreamDestroy(stream);
  }
}

// The tensor-core fused kernel (fused_gram_mma.cuh): the Gram form with fp16
// products, one block per matrix.  bench/gpu/gram_numerics.py emulates its
// roundings: about 0.005 (fp16 out) to 0.015 (bf16 out) relative distance to
// the exact iterate on these spectra, where the cuBLASLt bf16 path is near
// 0.06; the bounds below leave room over that emulation.
TEST_CASE("CUDA: the tensor-core fused kernel matches the CPU f64 result", "[cuda][specialised][tensor-core]") {
  std::shared_ptr<const pc::ScheduleKernels> kernels = polar_express::schedules::make_polar_express_nanochat_d5_cuda();
  const rt::Schedule schedule = kernels->schedule();
  rt::PlanOptions options;
  options.nuclear_norm = true;
  for (const rt::BatchShape& s : {rt::BatchShape{4, 128, 768}, rt::BatchShape{3, 200, 96}, rt::BatchShape{2, 33, 77},
                                  rt::BatchShape{1000, 6, 9}, rt::BatchShape{1, 1, 40}, rt::BatchShape{2, 40, 1},
                                  rt::BatchShape{2, 128, 128}}) {
    for (const pc::ElementType dtype : {pc::ElementType::kBF16, pc::ElementType::kF16}) {
      CAPTURE(s.batch, s.rows, s.cols, polar_express::to_string(dtype));
      const Batch batch = make_batch(s, dtype, 1e-2, 31);
      const std::vector<double> exact = cpu_reference(batch, schedule, 5);
      pc::Plan fused(s, dtype, kernels, options);
      REQUIRE(fused.fused_kernel() == pc::FusedKernel::kGramTensorCore);
      CHECK(fused.program().products.gram);
      rt::PlanOptions standard_options = options;
      standard_options.gram = rt::ProductMode::kOff;
      pc::Plan standard(s, dtype, schedule, standard_options);
      const std::vector<float> out = run(fused, batch.values), base = run(standard, batch.values);
      const rt::Report report = fused.report(nullptr);
      CHECK(standard.report(nullptr).all_succeeded);
      CHECK(report.all_succeeded);
      const double error = worst_relative_error(out, exact, s);
      CHECK(error < 3e-2);
      CHECK(error <= 1.25 * worst_relative_error(base, exact, s) + 1e-3);
      double worst_fused = 0, worst_base = 0;
      for (std::int64_t b = 0; b < std::min<std::int64_t>(s.batch, 8); ++b) {
        worst_fused = std::max(worst_fused, rt::test::max_sigma_error(rt::test::unpack(out, b, s.rows, s.cols)));
        worst_base = std::max(worst_base, rt::test::max_sigma_error(rt::test::unpack(base, b, s.rows, s.cols)));
      }
      CHECK(worst_fused <= 1.25 * worst_base + 1e-2);
      // |<G, U> - <G, U_exact>| <= ||G||_F ||U - U_exact||_F (Cauchy-Schwarz).
      for (std::int64_t b = 0; b < s.batch; ++b) {
        const Matrix g = rt::test::unpack(batch.values, b, s.rows, s.cols);
        const Matrix u_exact = rt::test::unpack(exact, b, s.rows, s.cols);
        const Matrix difference = rt::test::unpack(out, b, s.rows, s.cols) - u_exact;
        CHECK(std::abs(report.nuclear_norms[static_cast<std::size_t>(b)] - (g.array() * u_exact.array()).sum()) <=
              g.norm() * difference.norm() * (1 + 1e-6) + 1e-12);
      }
    }
  }
  SECTION("restarts: planned and at every step; in place equals out of place") {
    const rt::BatchShape s{3, 64, 700};
    const Batch batch = make_batch(s, pc::ElementType::kBF16, 1e-3, 32);
    const std::vector<double> exact = cpu_reference(batch, schedule, 5);
    pc::Plan planned(s, pc::ElementType::kBF16, kernels, options);
    REQUIRE(planned.fused_kernel() == pc::FusedKernel::kGramTensorCore);
    CHECK_FALSE(planned.program().products.restarts.empty());  // nanochat's first steps grow Q past the fp16 budget
    rt::PlanOptions every = options;
    every.gram_restart_interval = 1;
    pc::Plan each_step(s, pc::ElementType::kBF16, kernels, every);
    CHECK(each_step.program().products.restarts == std::vector<int>{1, 2, 3, 4});
    const std::vector<float> a = run(planned, batch.values), b = run(each_step, batch.values);
    CHECK(worst_relative_error(a, exact, s) < 3e-2);
    CHECK(worst_relative_error(b, exact, s) < 3e-2);
    const std::vector<float> in_place = run(planned, batch.values, true);
    CHECK(in_place == a);
    const rt::Report report = planned.report(nullptr);
    const rt::Report out_of_place = [&] {
      run(planned, batch.values);
      return planned.report(nullptr);
    }();
    for (std::size_t i = 0; i < report.nuclear_norms.size(); ++i) {
      CHECK(report.nuclear_norms[i] == out_of_place.nuclear_norms[i]);
    }
  }
  SECTION("edge inputs: zero, NaN, Inf, tiny and huge norms") {
    const rt::BatchShape s{6, 24, 40};
    Batch batch = make_batch(s, pc::ElementType::kBF16, 1e-2, 33);
    const std::int64_t size = s.matrix_size();
    std::fill_n(batch.values.begin(), size, 0.0f);
    batch.values[size + 5] = std::numeric_limits<float>::quiet_NaN();
    batch.values[2 * size + 7] = -std::numeric_limits<float>::infinity();
    // Matrices 3 and 4: matrix 5 scaled by 2^-100 and 2^100 (exact in bf16).
    for (std::int64_t i = 0; i < size; ++i) {
      batch.values[3 * size + i] = std::ldexp(batch.values[5 * size + i], -100);
      batch.values[4 * size + i] = std::ldexp(batch.values[5 * size + i], 100);
    }
    pc::Plan fused(s, pc::ElementType::kBF16, kernels);
    REQUIRE(fused.fused_kernel() == pc::FusedKernel::kGramTensorCore);
    const std::vector<float> out = run(fused, batch.values);
    const rt::Report report = fused.report(nullptr);
    CHECK(report.status[0] == rt::MatrixStatus::kZero);
    CHECK(report.status[1] == rt::MatrixStatus::kNonFinite);
    CHECK(report.status[2] == rt::MatrixStatus::kNonFinite);
    CHECK(report.status[3] == rt::MatrixStatus::kOk);
    CHECK(report.status[4] == rt::MatrixStatus::kOk);
    CHECK(rt::test::unpack(out, 0, s.rows, s.cols).isZero(0));
    CHECK(rt::test::unpack(out, 1, s.rows, s.cols).array().isNaN().all());
    CHECK(rt::test::unpack(out, 2, s.rows, s.cols).array().isNaN().all());
    // As the normalisation formula says (tests/runtime/test_fused_emulated.cpp
    // explains the tiny case: zeros where the formula gives ~1e-21).
    const std::vector<double> exact = cpu_reference(batch, schedule, 5);
    CHECK(rt::test::relative_error(rt::test::unpack(out, 5, s.rows, s.cols), rt::test::unpack(exact, 5, s.rows, s.cols)) <
          3e-2);
    CHECK(rt::test::relative_error(rt::test::unpack(out, 4, s.rows, s.cols), rt::test::unpack(exact, 4, s.rows, s.cols)) <
          3e-2);
    CHECK((rt::test::unpack(out, 3, s.rows, s.cols) - rt::test::unpack(exact, 3, s.rows, s.cols)).cwiseAbs().maxCoeff() <
          1e-18);
  }
  SECTION("f32, the Gram form turned off, and k > 128 stay off the tensor cores") {
    const rt::BatchShape small{2, 32, 64};
    CHECK(pc::Plan(small, pc::ElementType::kF32, kernels).fused_kernel() == pc::FusedKernel::kSimt);
    rt::PlanOptions no_gram;
    no_gram.gram = rt::ProductMode::kOff;
    CHECK(pc::Plan(small, pc::ElementType::kBF16, kernels, no_gram).fused_kernel() == pc::FusedKernel::kSimt);
    CHECK(pc::Plan(rt::BatchShape{1, 200, 300}, pc::ElementType::kBF16, kernels).fused_kernel() !=
          pc::FusedKernel::kGramTensorCore);
  }
}

// The Gram iteration, symmetric products and graph capture against the
// standard path and the CPU plan running the same options (the CPU backend
// is their tested reference: tests/runtime/test_gram.cpp).  At k = 100 the
// symmetric products' second block row starts at row 64: for bf16, 128
// bytes past a 256-byte aligned base (cuBLASLt must be told).
TEST_CASE("CUDA: Gram iteration and symmetric products match the standard path", "[cuda][gram]") {
  auto options = [](rt::ProductMode gram, rt::ProductMode symmetric, int interval) {
    rt::PlanOptions o;
    o.gram = gram;
    o.symmetric = symmetric;
    o.gram_restart_interval = interval;
    return o;
  };
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{1, 64, 1024}, rt::BatchShape{1, 1024, 64}, rt::BatchShape{3, 100, 300},
                                  rt::BatchShape{1, 700, 1500}}) {
    for (const auto& [dtype, tolerance] : {std::pair{pc::ElementType::kF32, 2e-3}, std::pair{pc::ElementType::kBF16, 3e-2}}) {
      CAPTURE(s.batch, s.rows, s.cols, polar_express::to_string(dtype));
      const Batch batch = make_batch(s, dtype, 1e-3, 21);
      const std::vector<double> exact = cpu_reference(batch, schedule, 5);
      pc::Plan standard(s, dtype, schedule, options(rt::ProductMode::kOff, rt::ProductMode::kOff, 0));
      const std::vector<float> base = run(standard, batch.values);
      const double base_error = worst_relative_error(base, exact, s);
      double worst_base = 0;  // one SVD per matrix (700 x 1500 takes seconds), not one per variant
      for (std::int64_t b = 0; b < s.batch; ++b) {
        worst_base = std::max(worst_base, rt::test::max_sigma_error(rt::test::unpack(base, b, s.rows, s.cols)));
      }
      for (const int interval : {0, 2}) {
        for (const rt::ProductMode symmetric : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
          CAPTURE(interval, symmetric == rt::ProductMode::kOn);
          pc::Plan gram(s, dtype, schedule, options(rt::ProductMode::kOn, symmetric, interval));
          REQUIRE(gram.program().products.gram);
          const std::vector<float> out = run(gram, batch.values);
          CHECK(gram.report(nullptr).all_succeeded);
          CHECK(worst_relative_error(out, exact, s) < std::max(tolerance, 1.25 * base_error));
          double worst_gram = 0;
          for (std::int64_t b = 0; b < s.batch; ++b) {
            worst_gram = std::max(worst_gram, rt::test::max_sigma_error(rt::test::unpack(out, b, s.rows, s.cols)));
          }
          CHECK(worst_gram <= 1.25 * worst_base + 1e-2);
        }
      }
      pc::Plan symmetric(s, dtype, schedule, options(rt::ProductMode::kOff, rt::ProductMode::kOn, 0));
      REQUIRE(symmetric.program().products.symmetric);
      CHECK(worst_relative_error(run(symmetric, batch.values), exact, s) < std::max(tolerance, 1.25 * base_error));
    }
  }
}

TEST_CASE("CUDA: a captured graph replays execute", "[cuda][graph]") {
  for (const rt::ProductMode gram : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
    const rt::BatchShape s{2, 48, 160};
    const Batch batch = make_batch(s, pc::ElementType::kBF16, 1e-3, 22);
    rt::PlanOptions options;
    options.gram = gram;
    pc::Plan plan(s, pc::ElementType::kBF16, rt::test::nanochat_schedule(), options);
    const std::vector<float> direct = run(plan, batch.values);
    const std::size_t bytes = batch.values.size() * 2;
    pc::DeviceBuffer in(bytes), out(bytes);
    pc::upload(batch.values.data(), in.data(), batch.values.size(), pc::ElementType::kBF16);
    cudaStream_t stream = nullptr;
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
    {
      const pc::Graph graph = plan.capture(in.data(), out.data(), stream);
      for (int replay = 0; replay < 3; ++replay) {
        REQUIRE(cudaMemsetAsync(out.data(), 0xff, bytes, stream) == cudaSuccess);  // NaN bits: must be overwritten
        graph.launch(stream);
        CHECK(plan.report(stream).all_succeeded);
        std::vector<float> replayed(batch.values.size());
        pc::download(out.data(), replayed.data(), replayed.size(), pc::ElementType::kBF16);
        CHECK(replayed == direct);
      }
    }
    CHECK_THROWS_AS(plan.capture(in.data(), out.data(), nullptr), std::invalid_argument);
    cudaStreamDestroy(stream);
  }
}

TEST_CASE("CUDA: the generic path runs the program compile_program lists", "[cuda][program]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  for (const pc::ElementType dtype : {pc::ElementType::kF32, pc::ElementType::kBF16}) {
    for (const rt::BatchShape& s : {rt::BatchShape{2, 64, 256}, rt::BatchShape{1, 300, 90}}) {
      rt::PlanOptions options;
      options.steps = 9;
      const pc::Plan plan(s, dtype, paper, options);
      const rt::Program expected = rt::compile_program(s, paper, options, pc::traits(dtype));
      INFO(plan.program().to_string());
      CHECK(plan.program().operations == expected.operations);
    }
  }
}

TEST_CASE("CUDA: AOL normalisation (Turbo-Muon's list) matches the CPU plan", "[cuda][aol]") {
  const rt::Schedule turbo = rt::builtin_schedule("turbo-muon-aol-4step");
  for (const rt::BatchShape& s : {rt::BatchShape{3, 48, 160}, rt::BatchShape{2, 160, 48}}) {
    CAPTURE(s.rows, s.cols);
    const Batch batch = make_batch(s, pc::ElementType::kF32, 1e-2, 9, 1e3);
    pc::Plan plan(s, pc::ElementType::kF32, turbo);
    CHECK(worst_relative_error(run(plan, batch.values), cpu_reference(batch, turbo, 4), s) < 1e-4);
  }
}

TEST_CASE("CUDA: a finite but exploding iteration is reported as diverged", "[cuda][edge]") {
  rt::Schedule tripling;
  tripling.steps = {{3, {3.0, 0.0}}};
  rt::PlanOptions options;
  options.steps = 40;  // 3^40 ~ 1e19: finite in f32
  const Batch batch = gaussian_batch({2, 16, 24}, pc::ElementType::kF32, 10);
  pc::Plan plan({2, 16, 24}, pc::ElementType::kF32, tripling, options);
  run(plan, batch.values);
  const rt::Report report = plan.report(nullptr);
  CHECK(report.status[0] == rt::MatrixStatus::kDiverged);
  CHECK(report.status[1] == rt::MatrixStatus::kDiverged);
}

TEST_CASE("CUDA: the loadable module runs shipped kernel sets and reports their certificate", "[cuda][module]") {
  const rt::DeviceBackend& cuda = rt::cuda_backend();
  REQUIRE(cuda.device_count() > 0);
  const rt::Schedule nanochat = rt::test::nanochat_schedule();
  const rt::BatchShape s{4, 32, 64};
  const Batch batch = make_batch(s, pc::ElementType::kBF16, 1e-2, 11);
  const std::size_t bytes = batch.values.size() * 2;
  void* in = cuda.allocate(bytes, 0);
  void* out = cuda.allocate(bytes, 0);
  cuda.upload(batch.values.data(), in, batch.values.size(), pc::ElementType::kBF16);
  const auto plan = cuda.make_plan(s, pc::ElementType::kBF16, nanochat, {}, 0);
  CHECK(plan->kernels() == "fused tensor-core kernel (generated)");
  plan->execute(in, out, nullptr);
  const rt::Report report = plan->report(nullptr);
  REQUIRE(report.all_succeeded);
  REQUIRE(report.sigma_error_bound.has_value());
  // The bound of the numbers that ran: the doubles' floats.
  CHECK(*report.sigma_error_bound == *nanochat.error_bound(5, pc::ElementType::kBF16));
  CHECK(*report.sigma_error_bound == polar_express::schedules::polar_express_nanochat_d5_info.steps[4].error_bound_f32_value);
  std::vector<float> result(batch.values.size());
  cuda.download(out, result.data(), result.size(), pc::ElementType::kBF16);
  CHECK(worst_relative_error(result, cpu_reference(batch, nanochat, 5), s) < 0.1);
  // Another schedule of the same name but other coefficients gets no kernel set.
  rt::Schedule impostor = nanochat;
  impostor.steps[0].coefficients[0] *= 1.001;
  CHECK(cuda.make_plan(s, pc::ElementType::kBF16, impostor, {}, 0)->kernels() == "cuBLASLt");
  cuda.release(in);
  cuda.release(out);
}

// Run by cuda_main.cpp only when device_count() reports no device.
TEST_CASE("CUDA: without a device the backend refuses clearly", "[cuda][no-device]") {
  REQUIRE(pc::device_count() == 0);
  CHECK_THROWS_WITH(pc::Plan({1, 8, 8}, pc::ElementType::kBF16, rt::test::nanochat_schedule()),
                    Catch::Contains("no CUDA device"));
  CHECK_THROWS_AS(pc::Plan({1, 8, 8}, pc::ElementType::kF32, polar_express::schedules::make_polar_express_nanochat_d5_cuda()),
                  pc::CudaError);
  // Through the loadable module: one clear BackendUnavailable.
  CHECK(rt::cuda_backend().device_count() == 0);
  CHECK_THROWS_WITH(rt::cuda_backend().make_plan({1, 8, 8}, pc::ElementType::kBF16, rt::test::nanochat_schedule(), {}, 0),
                    Catch::Contains("no CUDA device"));
}
