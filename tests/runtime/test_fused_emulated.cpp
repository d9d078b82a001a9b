// The fused kernels run on the CPU emulator (warp_emulator.hpp): the
// tensor-core one (fused_gram_mma.cuh: tiling, fragment addressing,
// barriers, padding, restarts, tall layout, staging, statuses) and the SIMT
// one (fused_simt.cuh), checked against the CPU f64 plan on machines without
// a GPU, and checked to do the work of the iteration program their plan
// reports (fused_program, fused_launch).  What the emulator cannot show (timing,
// the hardware's own MMA, races the barriers would hide) stays with the GPU
// tests in test_cuda.cpp.
#include "polar_express/runtime/catalogue.hpp"
#include "polar_express/runtime/cpu.hpp"

#define POLAR_EXPRESS_WARP_EMULATION 1
#include "warp_emulator.hpp"

#include "polar_express/runtime/cuda/detail/fused_gram_mma.cuh"
#include "polar_express/runtime/cuda/detail/fused_simt.cuh"
#include "polar_express/runtime/gram.hpp"
#include "polar_express_d3.hpp"
#include "polar_express_d7.hpp"
#include "polar_express_nanochat_d5.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace rt = polar_express::runtime;
namespace pc = polar_express::runtime::cuda;
namespace sp = polar_express::runtime::cuda::detail;
using rt::test::Matrix;
using rt::test::worst_relative_error;

namespace {

// A kernel Table (specialized.cuh's contract) read from a generated
// constexpr header's float steps.
template <const auto& kList, const auto& kInfo>
struct GeneratedTable {
  static constexpr int kSteps = static_cast<int>(kList.size());
  static constexpr int kMaxCoefficients = static_cast<int>(std::size(kList[0].coefficients));
  static constexpr auto kDegrees = [] {
    std::array<int, kSteps> degrees{};
    for (int s = 0; s < kSteps; ++s) degrees[s] = kList[s].degree;
    return degrees;
  }();
  static constexpr auto kCoefficients = [] {
    std::array<std::array<float, kMaxCoefficients>, kSteps> rows{};
    for (int s = 0; s < kSteps; ++s) {
      for (int j = 0; j < kMaxCoefficients; ++j) rows[s][j] = kList[s].coefficients[j];
    }
    return rows;
  }();
  static constexpr float kNormFactor = static_cast<float>(kInfo.normalization_factor);
  static constexpr float kNormEps = static_cast<float>(kInfo.normalization_eps);
};
using D3Table = GeneratedTable<polar_express::schedules::polar_express_d3_f32, polar_express::schedules::polar_express_d3_info>;
using D7Table = GeneratedTable<polar_express::schedules::polar_express_d7_f32, polar_express::schedules::polar_express_d7_info>;
// nanochat's shipped list, the table its generated kernel set is compiled from.
using NanochatTable = GeneratedTable<polar_express::schedules::polar_express_nanochat_d5_f32,
                                     polar_express::schedules::polar_express_nanochat_d5_info>;

template <class T>
T to_element(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else return __float2bfloat16_rn(v);
}
float to_float(float v) { return v; }
float to_float(__half v) { return __half2float(v); }
float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

struct Batch {
  rt::BatchShape shape;
  std::vector<float> values;  // rounded to the element type
};

template <class T>
Batch make_batch(const rt::BatchShape& shape, double lowest, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch batch{shape, std::vector<float>(static_cast<std::size_t>(shape.batch * shape.matrix_size()))};
  for (std::int64_t b = 0; b < shape.batch; ++b) {
    rt::test::pack(rt::test::with_spectrum(shape.rows, shape.cols,
                                           rt::test::logspace(lowest, std::min(shape.rows, shape.cols)), rng),
                   batch.values, b);
  }
  for (float& v : batch.values) v = to_float(to_element<T>(v));
  return batch;
}

struct Options {
  int steps = 5;
  std::vector<int> restarts;
  bool nuclear_norm = false;
  bool in_place = false;
};

struct Result {
  std::vector<float> output;
  std::vector<pc::MatrixStats> stats;
};

enum class Kernel { kTensorCore, kSimt };

// One launch on the emulator of the kernel `args` names, gram_mma_kernel<Table, T>
// or simt_kernel<Table, T>, with the batch's data and a workspace when it restarts.
template <class Table, class T>
Result run_launch(const Batch& batch, pc::FusedArguments args, bool in_place = false) {
  const rt::BatchShape& s = batch.shape;
  std::vector<T> input(batch.values.size()), output(batch.values.size());
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = to_element<T>(batch.values[i]);
  std::vector<__half> workspace(args.restarts == 0 ? 0 : batch.values.size());
  Result result{{}, std::vector<pc::MatrixStats>(static_cast<std::size_t>(s.batch))};
  std::memset(result.stats.data(), 0, result.stats.size() * sizeof(pc::MatrixStats));
  args.input = input.data();
  args.output = in_place ? input.data() : output.data();
  args.dtype = std::is_same_v<T, float> ? pc::ElementType::kF32 : std::is_same_v<T, __half> ? pc::ElementType::kF16 : pc::ElementType::kBF16;
  args.stats = result.stats.data();
  args.workspace = workspace.empty() ? nullptr : workspace.data();
  if (args.kernel == pc::FusedKernel::kGramTensorCore) {
    // The tensor-core kernel takes 16-bit elements only (specialized.cuh).
    if constexpr (std::is_same_v<T, float>) {
      throw std::invalid_argument("the tensor-core kernel takes bf16 and fp16 only");
    } else {
      const std::size_t bytes = sp::gram_layout(static_cast<int>(std::min(s.rows, s.cols))).bytes();
      polar_express::warp_emulation::run_grid(args.batch, sp::kGramThreads, bytes,
                                              [&] { sp::gram_mma_kernel<Table, T>(args); });
    }
  } else {
    polar_express::warp_emulation::run_grid(args.batch, sp::kSimtThreads, sp::simt_shared_bytes(args.rows, args.cols),
                                            [&] { sp::simt_kernel<Table, T>(args); });
  }
  const std::vector<T>& written = in_place ? input : output;
  for (const T& v : written) result.output.push_back(to_float(v));
  return result;
}

// One launch of gram_mma_kernel<Table, T> (or simt_kernel) on the emulator.
template <class Table, class T, Kernel kKernel = Kernel::kTensorCore>
Result emulate(const Batch& batch, const Options& options) {
  const rt::BatchShape& s = batch.shape;
  pc::FusedArguments args;
  args.kernel = kKernel == Kernel::kTensorCore ? pc::FusedKernel::kGramTensorCore : pc::FusedKernel::kSimt;
  args.batch = static_cast<int>(s.batch);
  args.rows = static_cast<int>(s.rows);
  args.cols = static_cast<int>(s.cols);
  args.input_stride = args.output_stride = s.matrix_size();
  args.steps = options.steps;
  args.nuclear_norm = options.nuclear_norm;
  for (int t : options.restarts) args.restarts |= std::uint64_t{1} << t;
  return run_launch<Table, T>(batch, args, options.in_place);
}

// The CPU f64 plan on the same (rounded) values.
std::vector<double> cpu_reference(const Batch& batch, const rt::Schedule& schedule, int steps,
                                  std::vector<double>* nuclear = nullptr) {
  const std::vector<double> input(batch.values.begin(), batch.values.end());
  std::vector<double> output(input.size());
  rt::PlanOptions options;
  options.steps = steps;
  options.nuclear_norm = nuclear != nullptr;
  rt::CpuPlan<double> plan(batch.shape, schedule, options);
  plan.execute(input.data(), output.data());
  if (nuclear) *nuclear = plan.report().nuclear_norms;
  return output;
}

rt::MatrixStatus status(const pc::MatrixStats& stats) { return pc::status_of(stats); }

// |<G, U> - <G, U_ref>| <= ||G||_F ||U - U_ref||_F (Cauchy-Schwarz): the
// kernel's <G, U> must be consistent with the output it wrote.
void check_nuclear(const Result& r, const Batch& batch, const std::vector<double>& exact,
                   const std::vector<double>& exact_nuclear) {
  const rt::BatchShape& s = batch.shape;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const Matrix g = rt::test::unpack(batch.values, b, s.rows, s.cols);
    const Matrix difference = rt::test::unpack(r.output, b, s.rows, s.cols) - rt::test::unpack(exact, b, s.rows, s.cols);
    CHECK(std::abs(r.stats[static_cast<std::size_t>(b)].nuclear - exact_nuclear[static_cast<std::size_t>(b)]) <=
          g.norm() * difference.norm() * (1 + 1e-6) + 1e-12);
  }
}

// Restarts as a plan places them for this kernel (fp16 budget).
std::vector<int> planned_restarts(const rt::Schedule& schedule, int steps, std::int64_t k) {
  return rt::gram_restart_steps(schedule, steps, rt::gram_growth_budget(11, k));
}

}  // namespace

namespace {

// Wide and tall, sides padded from 1, 6, 17, 24, 40 and 128 (one to eight
// strips), K over several 64-column chunks and not a multiple of 8.
constexpr std::array<rt::BatchShape, 7> kSweepShapes = {
    rt::BatchShape{2, 40, 72}, rt::BatchShape{2, 70, 24}, rt::BatchShape{1, 17, 130}, rt::BatchShape{3, 6, 9},
    rt::BatchShape{1, 1, 40},  rt::BatchShape{1, 40, 1},  rt::BatchShape{1, 128, 136}};

// The sweep's launch options: the planned restarts and <G, U>.
Options sweep_options(const rt::Schedule& schedule, const rt::BatchShape& s) {
  Options options;
  options.restarts = planned_restarts(schedule, 5, std::min(s.rows, s.cols));
  options.nuclear_norm = true;
  return options;
}

}  // namespace

TEST_CASE("emulated tensor-core kernel: shapes and layouts in bf16, with <G, U>", "[emulated][tensor-core]") {
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  for (const rt::BatchShape& s : kSweepShapes) {
    CAPTURE(s.batch, s.rows, s.cols);
    const Batch batch = make_batch<__nv_bfloat16>(s, 1e-2, 41);
    std::vector<double> nuclear;
    const std::vector<double> exact = cpu_reference(batch, schedule, 5, &nuclear);
    const Result r = emulate<NanochatTable, __nv_bfloat16>(batch, sweep_options(schedule, s));
    for (const pc::MatrixStats& st : r.stats) CHECK(status(st) == rt::MatrixStatus::kOk);
    CHECK(worst_relative_error(r.output, exact, s) < 3e-2);
    check_nuclear(r, batch, exact, nuclear);
  }
}

// The same sweep in fp16.  Both types are 16 bits wide and laid out alike, so
// the element type changes only the values each thread converts, not which
// shared-memory elements the threads exchange or when they synchronise:
// ThreadSanitizer, which checks the barriers, runs the bf16 sweep only
// (fused_emulated_tsan excludes [fp16-sweep], tests/CMakeLists.txt), the
// plain emulation both.
TEST_CASE("emulated tensor-core kernel: shapes and layouts in fp16", "[emulated][tensor-core][fp16-sweep]") {
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  for (const rt::BatchShape& s : kSweepShapes) {
    CAPTURE(s.batch, s.rows, s.cols);
    const Batch batch = make_batch<__half>(s, 1e-2, 42);
    const std::vector<double> exact = cpu_reference(batch, schedule, 5);
    const Result r = emulate<NanochatTable, __half>(batch, sweep_options(schedule, s));
    for (const pc::MatrixStats& st : r.stats) CHECK(status(st) == rt::MatrixStatus::kOk);
    CHECK(worst_relative_error(r.output, exact, s) < 3e-2);
  }
}

TEST_CASE("emulated tensor-core kernel: restarts, steps past the list, in place", "[emulated][tensor-core]") {
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  const rt::BatchShape s{2, 24, 150};
  const Batch batch = make_batch<__nv_bfloat16>(s, 1e-3, 43);
  const std::vector<double> exact = cpu_reference(batch, schedule, 5);
  double planned_error = 0;
  for (const std::vector<int>& restarts : {planned_restarts(schedule, 5, 24), std::vector<int>{1, 2, 3, 4}}) {
    CAPTURE(restarts);
    Options options;
    options.restarts = restarts;
    const double error =
        worst_relative_error(emulate<NanochatTable, __nv_bfloat16>(batch, options).output, exact, s);
    CHECK(error < 3e-2);
    if (planned_error == 0) planned_error = error;
  }
  // Without restarts Q grows by up to the product of the c0 (~990) and its
  // fp16 rounding swamps the output, or overflows it to NaN: why the plan
  // places them.
  const double unrestarted_error =
      worst_relative_error(emulate<NanochatTable, __nv_bfloat16>(batch, Options{}).output, exact, s);
  CHECK_FALSE(unrestarted_error <= 10 * planned_error);
  SECTION("seven steps: the last one repeats") {
    Options options;
    options.steps = 7;
    options.restarts = planned_restarts(schedule, 7, 24);
    const Result r = emulate<NanochatTable, __nv_bfloat16>(batch, options);
    CHECK(worst_relative_error(r.output, cpu_reference(batch, schedule, 7), s) < 3e-2);
  }
  SECTION("in place gives the same bits and the same <G, U>") {
    Options options;
    options.restarts = planned_restarts(schedule, 5, 24);
    REQUIRE_FALSE(options.restarts.empty());
    options.nuclear_norm = true;
    const Result apart = emulate<NanochatTable, __nv_bfloat16>(batch, options);
    options.in_place = true;
    const Result same = emulate<NanochatTable, __nv_bfloat16>(batch, options);
    CHECK(same.output == apart.output);
    for (std::size_t b = 0; b < apart.stats.size(); ++b) CHECK(same.stats[b].nuclear == apart.stats[b].nuclear);
  }
}

// The emulated kernel with a generated schedule's float Table against the
// CPU f64 plan with the same schedule's doubles, over its whole list.
template <class Table, const auto& kList, const auto& kInfo>
double generated_schedule_error(const Batch& batch) {
  const rt::Schedule schedule = rt::schedule_from_generated(kList, kInfo);
  const int steps = static_cast<int>(schedule.steps.size());
  Options options;
  options.steps = steps;
  options.restarts = planned_restarts(schedule, steps, std::min(batch.shape.rows, batch.shape.cols));
  return worst_relative_error(emulate<Table, __half>(batch, options).output, cpu_reference(batch, schedule, steps),
                              batch.shape);
}

TEST_CASE("emulated tensor-core kernel: degrees 3 and 7 (Horner without and with two passes)",
          "[emulated][tensor-core]") {
  namespace gen = polar_express::schedules;
  const Batch batch = make_batch<__half>(rt::BatchShape{2, 20, 90}, 1e-2, 44);
  CHECK(generated_schedule_error<D3Table, gen::polar_express_d3, gen::polar_express_d3_info>(batch) < 3e-2);
  CHECK(generated_schedule_error<D7Table, gen::polar_express_d7, gen::polar_express_d7_info>(batch) < 3e-2);
}

TEST_CASE("emulated tensor-core kernel: zero, NaN, Inf, tiny and huge inputs", "[emulated][tensor-core]") {
  const rt::BatchShape s{6, 24, 40};
  Batch batch = make_batch<__nv_bfloat16>(s, 1e-2, 45);
  const std::int64_t size = s.matrix_size();
  std::fill_n(batch.values.begin(), size, 0.0f);
  batch.values[static_cast<std::size_t>(size + 5)] = std::numeric_limits<float>::quiet_NaN();
  batch.values[static_cast<std::size_t>(2 * size + 7)] = -std::numeric_limits<float>::infinity();
  for (std::int64_t i = 0; i < size; ++i) {  // matrix 5 scaled by 2^-100 and 2^100, exact in bf16
    batch.values[static_cast<std::size_t>(3 * size + i)] = std::ldexp(batch.values[static_cast<std::size_t>(5 * size + i)], -100);
    batch.values[static_cast<std::size_t>(4 * size + i)] = std::ldexp(batch.values[static_cast<std::size_t>(5 * size + i)], 100);
  }
  Options options;
  options.restarts = planned_restarts(rt::test::nanochat_schedule(), 5, 24);
  const Result r = emulate<NanochatTable, __nv_bfloat16>(batch, options);
  CHECK(status(r.stats[0]) == rt::MatrixStatus::kZero);
  CHECK(status(r.stats[1]) == rt::MatrixStatus::kNonFinite);
  CHECK(status(r.stats[2]) == rt::MatrixStatus::kNonFinite);
  for (int b = 3; b < 6; ++b) CHECK(status(r.stats[static_cast<std::size_t>(b)]) == rt::MatrixStatus::kOk);
  CHECK(rt::test::unpack(r.output, 0, s.rows, s.cols).isZero(0));
  CHECK(rt::test::unpack(r.output, 1, s.rows, s.cols).array().isNaN().all());
  CHECK(rt::test::unpack(r.output, 2, s.rows, s.cols).array().isNaN().all());
  // As the normalisation formula says: the huge matrix like the unit one; the
  // tiny one is divided by about eps = 1e-6, which leaves its normalised
  // entries (~1e-25) below fp16's smallest subnormal, so the kernel returns
  // zeros where the formula gives ~1e-21.
  const std::vector<double> exact = cpu_reference(batch, rt::test::nanochat_schedule(), 5);
  const Matrix unit = rt::test::unpack(r.output, 5, s.rows, s.cols);
  CHECK(rt::test::relative_error(unit, rt::test::unpack(exact, 5, s.rows, s.cols)) < 3e-2);
  CHECK(rt::test::relative_error(rt::test::unpack(r.output, 4, s.rows, s.cols), rt::test::unpack(exact, 4, s.rows, s.cols)) <
        3e-2);
  CHECK(rt::test::unpack(exact, 3, s.rows, s.cols).cwiseAbs().maxCoeff() < 1e-18);
  CHECK((rt::test::unpack(r.output, 3, s.rows, s.cols) - rt::test::unpack(exact, 3, s.rows, s.cols)).cwiseAbs().maxCoeff() <
        1e-18);
}

// Launches of one kernel for a large and a small shape, alternately: each
// must stay inside the shared memory its own shape asks for (run_grid throws
// otherwise) and give the bits it gives first.
template <class T, Kernel kKernel>
void check_alternating(const rt::BatchShape& large_shape, const rt::BatchShape& small_shape, double tolerance) {
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  const Batch large = make_batch<T>(large_shape, 1e-2, 60), small = make_batch<T>(small_shape, 1e-2, 61);
  Options large_options, small_options;
  if (kKernel == Kernel::kTensorCore) {
    large_options.restarts = planned_restarts(schedule, 5, std::min(large_shape.rows, large_shape.cols));
    small_options.restarts = planned_restarts(schedule, 5, std::min(small_shape.rows, small_shape.cols));
  }
  const Result large_first = emulate<NanochatTable, T, kKernel>(large, large_options);
  const Result small_first = emulate<NanochatTable, T, kKernel>(small, small_options);
  CHECK(worst_relative_error(large_first.output, cpu_reference(large, schedule, 5), large_shape) < tolerance);
  CHECK(worst_relative_error(small_first.output, cpu_reference(small, schedule, 5), small_shape) < tolerance);
  CHECK(emulate<NanochatTable, T, kKernel>(large, large_options).output == large_first.output);
  CHECK(emulate<NanochatTable, T, kKernel>(small, small_options).output == small_first.output);
}

// Plans of two shapes launch one kernel function with different amounts of
// dynamic shared memory (specialized.cuh).  The device's part, the limit
// the kernel function keeps between plans, is tested in test_cuda.cpp.
TEST_CASE("emulated fused kernels: two shapes alternately, each within its own shared memory", "[emulated]") {
  SECTION("tensor-core, 37 KiB and 5 KiB") {
    check_alternating<__nv_bfloat16, Kernel::kTensorCore>({1, 64, 200}, {3, 8, 24}, 3e-2);
  }
  SECTION("SIMT, 52 KiB and 1 KiB") { check_alternating<float, Kernel::kSimt>({1, 48, 64}, {2, 6, 9}, 1e-4); }
}

TEST_CASE("emulated SIMT fused kernel: f32 and bf16, wide and tall, edge inputs", "[emulated][simt]") {
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{2, 20, 36}, rt::BatchShape{2, 30, 12}, rt::BatchShape{3, 6, 9},
                                  rt::BatchShape{1, 1, 40}, rt::BatchShape{1, 40, 1}}) {
    CAPTURE(s.batch, s.rows, s.cols);
    Options options;
    options.nuclear_norm = true;
    const Batch batch = make_batch<float>(s, 1e-2, 46);
    std::vector<double> nuclear;
    const std::vector<double> exact = cpu_reference(batch, schedule, 5, &nuclear);
    const Result r = emulate<NanochatTable, float, Kernel::kSimt>(batch, options);
    for (const pc::MatrixStats& st : r.stats) CHECK(status(st) == rt::MatrixStatus::kOk);
    // fp32 against f64: a vector's single singular value sits at 1/1.02,
    // where the first step's slope (~17) amplifies fp32 rounding the most.
    CHECK(worst_relative_error(r.output, exact, s) < 1e-4);
    check_nuclear(r, batch, exact, nuclear);
    const Batch narrow = make_batch<__nv_bfloat16>(s, 1e-2, 47);
    CHECK(worst_relative_error(emulate<NanochatTable, __nv_bfloat16, Kernel::kSimt>(narrow, options).output,
                               cpu_reference(narrow, schedule, 5), s) < 1e-2);
  }
  SECTION("zero and NaN matrices") {
    const rt::BatchShape s{3, 16, 24};
    Batch batch = make_batch<float>(s, 1e-2, 48);
    std::fill_n(batch.values.begin(), 16 * 24, 0.0f);
    batch.values[16 * 24 + 1] = std::numeric_limits<float>::quiet_NaN();
    const Result r = emulate<NanochatTable, float, Kernel::kSimt>(batch, Options{});
    CHECK(status(r.stats[0]) == rt::MatrixStatus::kZero);
    CHECK(status(r.stats[1]) == rt::MatrixStatus::kNonFinite);
    CHECK(status(r.stats[2]) == rt::MatrixStatus::kOk);
    CHECK(rt::test::unpack(r.output, 0, 16, 24).isZero(0));
    CHECK(rt::test::unpack(r.output, 1, 16, 24).array().isNaN().all());
  }
}


namespace {

using polar_express::warp_emulation::TraceEvent;

// What a fused kernel must do for `program`: its Gram matrices, k x k
// products and applies, in order, each with the step it belongs to (the
// Gram form's identity additions are folded into the kernel's products; the
// normalisation and the store frame every program).
std::vector<std::pair<int, int>> program_work(const rt::Program& program) {
  std::vector<std::pair<int, int>> work;
  for (const rt::Operation& op : program.operations) {
    switch (op.kind) {
      case rt::OpKind::kGram: work.emplace_back(static_cast<int>(sp::FusedEvent::kGram), op.step); break;
      case rt::OpKind::kProduct: work.emplace_back(static_cast<int>(sp::FusedEvent::kProduct), op.step); break;
      case rt::OpKind::kApply: work.emplace_back(static_cast<int>(sp::FusedEvent::kApply), op.step); break;
      default: break;
    }
  }
  return work;
}

// A generated schedule's float table as the runtime schedule its kernel
// set encodes (SpecializedKernels::schedule: the float coefficients).
template <const auto& kList, const auto& kInfo>
rt::Schedule float_schedule() {
  return rt::schedule_from_generated(kList, kInfo);
}

// The plan's program for a fused kernel (fused_program), launched as the
// plan launches it (fused_launch), on the emulator: the kernel's recorded
// work is the program's, step by step, each step runs the table row whose
// coefficients the program uses at that step, and the result is the CPU
// f64 plan's to the kernel's precision.
template <class Table, class T>
void check_follows_program(const rt::Schedule& schedule, const rt::BatchShape& shape, pc::FusedKernel kernel,
                           const rt::PlanOptions& options, double tolerance) {
  const rt::Program program = pc::fused_program(shape, schedule, options, kernel);
  const pc::FusedArguments args = pc::fused_launch(program);
  INFO(program.to_string());
  REQUIRE(args.kernel == kernel);
  const Batch batch = make_batch<T>(shape, 1e-2, 70);
  polar_express::warp_emulation::take_trace();
  const Result result = run_launch<Table, T>(batch, args);
  std::vector<std::pair<int, int>> work;
  std::vector<TraceEvent> rows;
  for (const TraceEvent& e : polar_express::warp_emulation::take_trace()) {
    if (e.event == static_cast<int>(sp::FusedEvent::kRow)) rows.push_back(e);
    else work.emplace_back(e.event, e.step);
  }
  CHECK(work == program_work(program));
  REQUIRE(static_cast<int>(rows.size()) == program.steps);
  for (int t = 0; t < program.steps; ++t) {
    CAPTURE(t);
    CHECK(rows[static_cast<std::size_t>(t)].step == t);
    const int row = rows[static_cast<std::size_t>(t)].row;
    REQUIRE(row >= 0);
    REQUIRE(row < Table::kSteps);
    const std::vector<double>& used = schedule.step(t).coefficients;
    REQUIRE(static_cast<int>(used.size()) == (Table::kDegrees[static_cast<std::size_t>(row)] + 1) / 2);
    for (std::size_t j = 0; j < used.size(); ++j) {
      CHECK(static_cast<double>(Table::kCoefficients[static_cast<std::size_t>(row)][j]) == used[j]);
    }
  }
  // Without restarts the fp16 Gram form is not accurate (its own test above).
  if (std::isfinite(tolerance)) {
    CHECK(worst_relative_error(result.output, cpu_reference(batch, schedule, program.steps), shape) < tolerance);
  }
}

}  // namespace

TEST_CASE("emulated fused kernels follow their program: steps, rows, restarts", "[emulated][program]") {
  namespace gen = polar_express::schedules;
  const rt::Schedule nanochat = float_schedule<gen::polar_express_nanochat_d5_f32, gen::polar_express_nanochat_d5_info>();
  const auto options = [](int steps, int interval) {
    rt::PlanOptions o;
    o.steps = steps;
    o.gram_restart_interval = interval;
    return o;
  };
  SECTION("tensor-core kernel: planned restarts, every step, every other, none, steps past the list") {
    for (const rt::PlanOptions& o : {options(0, 0), options(5, 1), options(7, 2), options(6, 100), options(8, 0)}) {
      CAPTURE(o.steps, o.gram_restart_interval);
      const double tolerance = o.gram_restart_interval == 100 ? std::numeric_limits<double>::infinity() : 3e-2;
      check_follows_program<NanochatTable, __nv_bfloat16>(nanochat, {2, 24, 150}, pc::FusedKernel::kGramTensorCore, o,
                                                          tolerance);
      check_follows_program<NanochatTable, __half>(nanochat, {1, 70, 24}, pc::FusedKernel::kGramTensorCore, o,
                                                   tolerance);
    }
  }
  SECTION("SIMT kernel: the direct form, steps past the list") {
    for (const int steps : {5, 7}) {
      check_follows_program<NanochatTable, float>(nanochat, {2, 20, 36}, pc::FusedKernel::kSimt, options(steps, 0), 1e-4);
      check_follows_program<NanochatTable, float>(nanochat, {1, 30, 12}, pc::FusedKernel::kSimt, options(steps, 0), 1e-4);
    }
  }
  SECTION("degrees 3 and 7: Horner without and with two passes") {
    const rt::Schedule d3 = float_schedule<gen::polar_express_d3_f32, gen::polar_express_d3_info>();
    const rt::Schedule d7 = float_schedule<gen::polar_express_d7_f32, gen::polar_express_d7_info>();
    check_follows_program<D3Table, __half>(d3, {1, 20, 90}, pc::FusedKernel::kGramTensorCore, options(0, 0), 3e-2);
    check_follows_program<D7Table, __half>(d7, {1, 20, 90}, pc::FusedKernel::kGramTensorCore, options(0, 0), 3e-2);
    check_follows_program<D3Table, float>(d3, {1, 12, 20}, pc::FusedKernel::kSimt, options(0, 0), 1e-4);
    check_follows_program<D7Table, float>(d7, {1, 12, 20}, pc::FusedKernel::kSimt, options(0, 0), 1e-4);
  }
}

TEST_CASE("emulated fused kernels: a launch that drops the program's restarts does other work",
          "[emulated][program]") {
  namespace gen = polar_express::schedules;
  const rt::Schedule nanochat = float_schedule<gen::polar_express_nanochat_d5_f32, gen::polar_express_nanochat_d5_info>();
  const rt::BatchShape shape{1, 24, 150};
  const rt::Program program = pc::fused_program(shape, nanochat, {}, pc::FusedKernel::kGramTensorCore);
  REQUIRE_FALSE(program.products.restarts.empty());
  pc::FusedArguments args = pc::fused_launch(program);
  args.restarts = 0;
  polar_express::warp_emulation::take_trace();
  run_launch<NanochatTable, __nv_bfloat16>(make_batch<__nv_bfloat16>(shape, 1e-2, 71), args);
  std::vector<std::pair<int, int>> work;
  for (const TraceEvent& e : polar_express::warp_emulation::take_trace()) {
    if (e.event != static_cast<int>(sp::FusedEvent::kRow)) work.emplace_back(e.event, e.step);
  }
  CHECK(work != program_work(program));
}

TEST_CASE("fused launches come from the program and refuse what no kernel runs", "[emulated][program]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  rt::PlanOptions options;
  options.steps = 9;
  const rt::Program gram = pc::fused_program({3, 16, 40}, paper, options, pc::FusedKernel::kGramTensorCore);
  const pc::FusedArguments launch = pc::fused_launch(gram);
  CHECK(launch.kernel == pc::FusedKernel::kGramTensorCore);
  CHECK((launch.batch == 3 && launch.rows == 16 && launch.cols == 40 && launch.steps == 9));
  std::uint64_t mask = 0;
  for (int t : gram.products.restarts) mask |= std::uint64_t{1} << t;
  CHECK(launch.restarts == mask);
  CHECK(pc::fused_launch(pc::fused_program({3, 16, 40}, paper, options, pc::FusedKernel::kSimt)).kernel ==
        pc::FusedKernel::kSimt);
  // The program the generic path would run with symmetric products, AOL, or
  // restarts past the mask: no fused kernel runs those.
  rt::PlanOptions symmetric = options;
  symmetric.symmetric = rt::ProductMode::kOn;
  CHECK_THROWS_AS(pc::fused_launch(rt::compile_program({1, 16, 40}, paper, symmetric, rt::cpu_traits<float>())),
                  std::invalid_argument);
  CHECK_THROWS_AS(pc::fused_launch(rt::compile_program({1, 16, 40}, rt::builtin_schedule("turbo-muon-aol-4step"), {},
                                                       rt::cpu_traits<float>())),
                  std::invalid_argument);
  rt::PlanOptions long_run;
  long_run.steps = 80;
  long_run.gram_restart_interval = 10;
  CHECK_THROWS_AS(pc::fused_launch(pc::fused_program({1, 16, 40}, paper, long_run, pc::FusedKernel::kGramTensorCore)),
                  std::invalid_argument);
  rt::Schedule cycling = paper;
  cycling.after_list = rt::AfterList::kCycle;
  CHECK_THROWS_AS(pc::fused_program({1, 16, 40}, cycling, options, pc::FusedKernel::kSimt), std::invalid_argument);
}
