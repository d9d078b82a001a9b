// polar-express run: the runtime on random matrices of a chosen spectrum,
// against the polar factor from an SVD in double.
#include "common.hpp"
#include "runtime_bridge.hpp"

#include "polar_express/runtime/cpu.hpp"
#if POLAR_EXPRESS_RUNTIME_CUDA
#include "polar_express/runtime/cuda/plan.hpp"
#include "polar_express_nanochat_d5_cuda.hpp"
#include "polar_express_paper_d5_cuda.hpp"
#endif

#include <Eigen/Dense>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <random>

namespace polar_express::cli {
namespace {

struct RunArguments {
  std::string backend;
  std::string shape;
  std::string dtype;
  ScheduleChoice schedule;
  std::optional<int> steps;
  std::string spectrum = "gaussian";
  std::uint64_t seed = 0;
  int repeats = 5;
  std::string format = "table";
};

using Matrix = Eigen::MatrixXd;

// The lowest singular value of "logspace:LO", or nullopt for "gaussian".
std::optional<double> parse_spectrum(const std::string& text) {
  if (text == "gaussian") return std::nullopt;
  const std::string prefix = "logspace:";
  if (text.rfind(prefix, 0) == 0) {
    const std::string number = text.substr(prefix.size());
    std::size_t used = 0;
    double lowest = 0;
    try {
      lowest = std::stod(number, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == number.size() && used > 0 && lowest > 0 && lowest <= 1) return lowest;
  }
  throw UsageError("--spectrum '" + text + "' is not gaussian or logspace:LO with 0 < LO <= 1");
}

Matrix gaussian(std::int64_t rows, std::int64_t cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  return Matrix::NullaryExpr(rows, cols, [&] { return normal(rng); });
}

// Gaussian entries, or U diag(logspace(LO, 1)) V^T with U, V the Q factors
// of Householder QR of Gaussian matrices.
Matrix random_matrix(const Shape& s, std::optional<double> lowest, std::mt19937_64& rng) {
  if (!lowest) return gaussian(s.rows, s.cols, rng);
  const std::int64_t k = std::min(s.rows, s.cols);
  auto orthonormal = [&](std::int64_t n) -> Matrix {
    Eigen::HouseholderQR<Matrix> qr(gaussian(n, k, rng));
    return qr.householderQ() * Matrix::Identity(n, k);
  };
  Eigen::VectorXd sigma(k);
  for (std::int64_t i = 0; i < k; ++i) sigma(i) = k == 1 ? 1.0 : std::pow(*lowest, double(i) / double(k - 1));
  const Matrix u = orthonormal(s.rows);
  const Matrix v = orthonormal(s.cols);
  return u * sigma.asDiagonal() * v.transpose();
}

// Row-major batch <-> double matrices.
template <class T>
void pack(const Matrix& m, T* out) {
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) out[i * m.cols() + j] = static_cast<T>(m(i, j));
}
template <class T>
Matrix unpack(const T* in, std::int64_t rows, std::int64_t cols) {
  Matrix m(rows, cols);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) m(i, j) = static_cast<double>(in[i * cols + j]);
  return m;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// What one backend run produced: the inputs as the backend saw them (after
// rounding to its dtype), the outputs, per-repeat times and statuses.
struct Outcome {
  std::vector<double> inputs, outputs;  // row-major batch
  std::vector<double> times_ms;
  std::vector<runtime::MatrixStatus> status;
  std::string kernels;  // CUDA: which path ran
};

template <class F>
double time_ms(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

template <class T>
Outcome run_cpu(const Shape& s, const runtime::Schedule& schedule, int steps, int repeats,
                const std::vector<double>& generated) {
  std::vector<T> input(generated.begin(), generated.end()), output(input.size());
  runtime::PlanOptions options;
  options.steps = steps;
  runtime::CpuPlan<T> plan({s.batch, s.rows, s.cols}, schedule, options);
  plan.execute(input.data(), output.data());  // warm-up: page in the buffers
  Outcome o;
  for (int r = 0; r < repeats; ++r) o.times_ms.push_back(time_ms([&] { plan.execute(input.data(), output.data()); }));
  o.inputs.assign(input.begin(), input.end());
  o.outputs.assign(output.begin(), output.end());
  o.status = plan.status();
  return o;
}

#if POLAR_EXPRESS_RUNTIME_CUDA
// The generated kernel set (generated/) of a shipped schedule, else null.
std::shared_ptr<const cuda::ScheduleKernels> shipped_kernels(const std::string& builtin) {
  if (builtin == "polar-express-paper-d5") return schedules::make_polar_express_paper_d5_cuda();
  if (builtin == "polar-express-nanochat-d5") return schedules::make_polar_express_nanochat_d5_cuda();
  return nullptr;
}

const char* describe(const cuda::Plan& plan, bool specialised) {
  switch (plan.fused_kernel()) {
    case cuda::FusedKernel::kGramTensorCore: return "fused tensor-core kernel (generated)";
    case cuda::FusedKernel::kSimt: return "fused SIMT kernel (generated)";
    case cuda::FusedKernel::kNone: break;
  }
  return specialised ? "cuBLASLt (generated set; no fused kernel for this shape)" : "cuBLASLt";
}

Outcome run_cuda(const Shape& s, cuda::DType dtype, const runtime::Schedule& schedule, int steps, int repeats,
                 const std::vector<double>& generated, std::shared_ptr<const cuda::ScheduleKernels> kernels) {
  const std::size_t count = generated.size();
  std::vector<float> host(generated.begin(), generated.end());
  cuda::DeviceBuffer in(count * cuda::element_size(dtype)), out(count * cuda::element_size(dtype));
  cuda::upload(host.data(), in.data(), count, dtype);
  runtime::PlanOptions options;
  options.steps = steps;
  const bool specialised = kernels != nullptr;
  cuda::Plan plan = specialised ? cuda::Plan({s.batch, s.rows, s.cols}, dtype, std::move(kernels), options)
                                : cuda::Plan({s.batch, s.rows, s.cols}, dtype, schedule, options);
  plan.execute(in.data(), out.data(), nullptr);  // warm-up: kernel loading, cuBLASLt caches
  cuda::synchronize();
  Outcome o;
  for (int r = 0; r < repeats; ++r) {
    o.times_ms.push_back(time_ms([&] {
      plan.execute(in.data(), out.data(), nullptr);
      cuda::synchronize();
    }));
  }
  o.status = plan.report(nullptr).status;
  o.kernels = describe(plan, specialised);
  cuda::download(in.data(), host.data(), count, dtype);
  o.inputs.assign(host.begin(), host.end());
  cuda::download(out.data(), host.data(), count, dtype);
  o.outputs.assign(host.begin(), host.end());
  return o;
}
#endif

int run_run(const RunArguments& args) {
  if (args.backend != "cpu" && args.backend != "cuda") {
    throw UsageError("unknown backend '" + args.backend + "' (expected cpu or cuda)");
  }
  const bool cpu = args.backend == "cpu";
  const std::string dtype = args.dtype.empty() ? (cpu ? "f64" : "bf16") : args.dtype;
  if (dtype != "f64" && dtype != "f32" && dtype != "bf16" && dtype != "f16") {
    throw UsageError("unknown dtype '" + dtype + "' (expected f64, f32, bf16 or f16)");
  }
  if (cpu && (dtype == "bf16" || dtype == "f16")) {
    throw UsageError("--dtype " + dtype + " needs --backend cuda (the CPU backend runs f64 and f32)");
  }
  if (!cpu && dtype == "f64") throw UsageError("--dtype f64 needs --backend cpu (the CUDA backend runs f32, bf16, f16)");
  if (args.format != "table" && args.format != "json") {
    throw UsageError("unknown format '" + args.format + "' (expected table or json)");
  }
  const Shape shape = parse_shape(args.shape);
  const std::optional<double> lowest = parse_spectrum(args.spectrum);
  if (args.steps && (*args.steps < 1 || *args.steps > 1000)) {
    throw UsageError("--steps " + std::to_string(*args.steps) + " is outside [1, 1000]");
  }
  if (args.repeats < 1 || args.repeats > 10000) {
    throw UsageError("--repeats " + std::to_string(args.repeats) + " is outside [1, 10000]");
  }
  check_schedule_choice(args.schedule);
#if POLAR_EXPRESS_RUNTIME_CUDA
  if (!cpu && cuda::device_count() == 0) throw UsageError("--backend cuda: no CUDA device is available");
#else
  if (!cpu) throw UsageError("--backend cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
  // Doubles are all the runtime takes; 64 bits read them exactly enough.
  constexpr unsigned kBits = 128;
  const Schedule source = load_schedule(args.schedule, kBits);
  const runtime::Schedule schedule = to_runtime(source);
  const int steps = args.steps.value_or(static_cast<int>(schedule.steps.size()));

  std::mt19937_64 rng(args.seed);
  const std::int64_t size = shape.rows * shape.cols;
  std::vector<double> generated(static_cast<std::size_t>(shape.batch * size));
  for (std::int64_t b = 0; b < shape.batch; ++b) pack(random_matrix(shape, lowest, rng), generated.data() + b * size);

  Outcome outcome;
  if (cpu) {
    outcome = dtype == "f64" ? run_cpu<double>(shape, schedule, steps, args.repeats, generated)
                             : run_cpu<float>(shape, schedule, steps, args.repeats, generated);
  } else {
#if POLAR_EXPRESS_RUNTIME_CUDA
    outcome = run_cuda(shape, cuda::parse_dtype(dtype), schedule, steps, args.repeats, generated,
                       shipped_kernels(args.schedule.builtin));
#endif
  }

  // The reference is the polar factor of what the backend saw, by SVD in double.
  double diff2 = 0, ref2 = 0, sigma_error = 0;
  int failed = 0;
  for (std::int64_t b = 0; b < shape.batch; ++b) {
    if (!runtime::succeeded(outcome.status[static_cast<std::size_t>(b)])) ++failed;
    const Matrix g = unpack(outcome.inputs.data() + b * size, shape.rows, shape.cols);
    const Matrix u = unpack(outcome.outputs.data() + b * size, shape.rows, shape.cols);
    Eigen::BDCSVD<Matrix> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Matrix reference = svd.matrixU() * svd.matrixV().transpose();
    diff2 += (u - reference).squaredNorm();
    ref2 += reference.squaredNorm();
    const Eigen::VectorXd sigma = Eigen::BDCSVD<Matrix>(u).singularValues();
    sigma_error = std::max(sigma_error, (1.0 - sigma.array()).abs().maxCoeff());
    if (!u.allFinite()) sigma_error = std::numeric_limits<double>::quiet_NaN();
  }
  const double rel_fro_error = std::sqrt(diff2 / ref2);
  const double median_ms = median(outcome.times_ms);
  const std::string shape_text = fmt::format("{}x{}x{}", shape.batch, shape.rows, shape.cols);

  std::string text;
  if (args.format == "json") {
    nlohmann::ordered_json j;
    j["backend"] = args.backend;
    j["dtype"] = dtype;
    j["shape"] = {{"batch", shape.batch}, {"rows", shape.rows}, {"cols", shape.cols}};
    j["schedule"] = schedule.name;
    j["steps"] = steps;
    j["spectrum"] = args.spectrum;
    j["seed"] = args.seed;
    j["repeats"] = args.repeats;
    j["rel_fro_error"] = rel_fro_error;
    j["max_sigma_error"] = sigma_error;
    j["median_ms"] = median_ms;
    j["times_ms"] = outcome.times_ms;
    j["failed_matrices"] = failed;
    if (!cpu) j["cuda_kernels"] = outcome.kernels;
    text = j.dump(2) + "\n";
  } else {
    text += fmt::format("{:<16} {}\n", "backend", args.backend);
    text += fmt::format("{:<16} {}\n", "dtype", dtype);
    text += fmt::format("{:<16} {}\n", "shape", shape_text);
    text += fmt::format("{:<16} {} ({} steps)\n", "schedule", schedule.name, steps);
    text += fmt::format("{:<16} {} (seed {})\n", "spectrum", args.spectrum, args.seed);
    text += fmt::format("{:<16} {:.3e}\n", "rel_fro_error", rel_fro_error);
    text += fmt::format("{:<16} {:.3e}\n", "max_sigma_error", sigma_error);
    text += fmt::format("{:<16} {:.4f} (median of {})\n", "median_ms", median_ms, args.repeats);
    text += fmt::format("{:<16} {} of {} ok\n", "matrices", shape.batch - failed, shape.batch);
    if (!cpu) text += fmt::format("{:<16} {}\n", "cuda kernels", outcome.kernels);
  }
  write_output("", text);
  return failed == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace

Command add_run_command(CLI::App& root) {
  auto args = std::make_shared<RunArguments>();
  CLI::App* app = root.add_subcommand(
      "run",
      "Run a schedule with the runtime on random matrices of a chosen spectrum and report the\n"
      "polar error against an SVD reference in double (relative Frobenius error and\n"
      "max |1 - sigma_i| of the output) and the median time.  Exit 1 if a matrix failed.\n"
      "With --backend cuda, --builtin polar-express-paper-d5 or polar-express-nanochat-d5\n"
      "runs the schedule's generated kernel set (generated/*.cu: the fused kernels where they\n"
      "take the shape); other schedules run the generic cuBLASLt path.  The output says which.");
  add_schedule_choice(*app, args->schedule);
  app->add_option("--backend", args->backend, "cpu or cuda")->required();
  app->add_option("--shape", args->shape, "MxN or BxMxN (B matrices of M rows, N columns)")->required();
  app->add_option("--dtype", args->dtype, "f64 or f32 (cpu; default f64), f32, bf16 or f16 (cuda; default bf16)");
  app->add_option("--steps", args->steps, "Steps to run (default: the schedule's list), past the list by its rule");
  app->add_option("--spectrum", args->spectrum,
                  "gaussian (Gaussian entries) or logspace:LO (singular values log-spaced from LO to 1)")
      ->capture_default_str();
  app->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  app->add_option("--repeats", args->repeats, "Timed runs after one warm-up; the median is reported")
      ->capture_default_str();
  app->add_option("--format", args->format, "table or json")->capture_default_str();
  return {app, [args] { return run_run(*args); }};
}

}  // namespace polar_express::cli
