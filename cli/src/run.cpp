// polar-express run: the runtime on random matrices of a chosen spectrum,
// against the polar factor from an SVD in double.
#include "common.hpp"
#include "shape.hpp"

#include "polar_express/bridge/bridge.hpp"
#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/cpu_info.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express/runtime/half.hpp"

#include <Eigen/Dense>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <type_traits>

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
  std::optional<double> max_memory;
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
    if (is_decimal_number(number) && used == number.size() && lowest > 0 && lowest <= 1) return lowest;
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
  std::string kernels;   // CUDA: which path ran
  double flops = 0;      // CPU: the program's matrix-multiply FLOPs (Program::flops)
  int workers = 0, blas_threads = 0;  // CPU: matrices side by side, BLAS threads in each
};

template <class F>
double time_ms(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// How the CPU batch is stored: as T, or (T = float) as f16/bf16 bit patterns.
template <class T>
struct CpuElements {
  using Stored = T;
  static Stored narrow(double v) { return static_cast<T>(v); }
  static double widen(Stored v) { return static_cast<double>(v); }
};
struct HalfElements {
  using Stored = std::uint16_t;
  static Stored narrow(double v) { return runtime::float_to_half(static_cast<float>(v)); }
  static double widen(Stored v) { return runtime::half_to_float(v); }
};
struct BFloat16Elements {
  using Stored = std::uint16_t;
  static Stored narrow(double v) { return runtime::float_to_bfloat16(static_cast<float>(v)); }
  static double widen(Stored v) { return runtime::bfloat16_to_float(v); }
};

// `T` computes, `Elements` stores the batch (16-bit ones in a float plan).
template <class T, class Elements>
Outcome run_cpu(const Shape& s, const runtime::Schedule& schedule, int steps, int repeats,
                const std::vector<double>& generated, ElementType storage = ElementType::kF32) {
  using Stored = typename Elements::Stored;
  std::vector<Stored> input(generated.size()), output(input.size());
  std::transform(generated.begin(), generated.end(), input.begin(), Elements::narrow);
  runtime::PlanOptions options;
  options.steps = steps;
  runtime::CpuPlan<T> plan({s.batch, s.rows, s.cols}, schedule, options);
  const auto execute = [&] {
    if constexpr (std::is_same_v<Stored, T>) plan.execute(input.data(), output.data());
    else plan.execute(input.data(), output.data(), storage);
  };
  execute();  // warm-up: page in the buffers
  Outcome o;
  for (int r = 0; r < repeats; ++r) o.times_ms.push_back(time_ms(execute));
  o.inputs.resize(input.size());
  o.outputs.resize(output.size());
  std::transform(input.begin(), input.end(), o.inputs.begin(), Elements::widen);
  std::transform(output.begin(), output.end(), o.outputs.begin(), Elements::widen);
  o.status = plan.report().status;
  o.flops = plan.program().flops();
  o.workers = plan.workers();
  o.blas_threads = plan.blas_threads();
  return o;
}

Outcome run_cpu(const Shape& s, ElementType element, const runtime::Schedule& schedule, int steps, int repeats,
                const std::vector<double>& generated) {
  switch (element) {
    case ElementType::kF64: return run_cpu<double, CpuElements<double>>(s, schedule, steps, repeats, generated);
    case ElementType::kF32: return run_cpu<float, CpuElements<float>>(s, schedule, steps, repeats, generated);
    case ElementType::kF16: return run_cpu<float, HalfElements>(s, schedule, steps, repeats, generated, element);
    case ElementType::kBF16: return run_cpu<float, BFloat16Elements>(s, schedule, steps, repeats, generated, element);
  }
  throw std::logic_error("run: unknown element type");
}

Outcome run_cuda(const Shape& s, runtime::ElementType dtype, const runtime::Schedule& schedule, int steps, int repeats,
                 const std::vector<double>& generated) {
  const runtime::DeviceBackend& cuda = runtime::cuda_backend();
  if (cuda.device_count() == 0) throw UsageError("--backend cuda: no CUDA device is available");
  const std::size_t count = generated.size();
  const std::size_t bytes = count * element_bytes(dtype);
  // Device memory owned for the length of the run.
  struct Buffer {
    const runtime::DeviceBackend& backend;
    void* data;
    ~Buffer() { backend.release(data); }
  };
  const Buffer in{cuda, cuda.allocate(bytes, 0)}, out{cuda, cuda.allocate(bytes, 0)};
  std::vector<float> host(generated.begin(), generated.end());
  cuda.upload(host.data(), in.data, count, dtype);
  runtime::PlanOptions options;
  options.steps = steps;
  const std::unique_ptr<runtime::DevicePlan> plan = cuda.make_plan({s.batch, s.rows, s.cols}, dtype, schedule, options, 0);
  plan->execute(in.data, out.data, nullptr);  // warm-up: kernel loading, cuBLASLt caches
  cuda.synchronize(nullptr);
  Outcome o;
  for (int r = 0; r < repeats; ++r) {
    o.times_ms.push_back(time_ms([&] {
      plan->execute(in.data, out.data, nullptr);
      cuda.synchronize(nullptr);
    }));
  }
  o.status = plan->report(nullptr).status;
  o.kernels = plan->kernels();
  cuda.download(in.data, host.data(), count, dtype);
  o.inputs.assign(host.begin(), host.end());
  cuda.download(out.data, host.data(), count, dtype);
  o.outputs.assign(host.begin(), host.end());
  return o;
}

// Bytes of host memory the run holds at its peak: the generated batch in
// double, the outcome's inputs and outputs in double, the SVD reference of
// one matrix, and the backend's copies: on the CPU the batch in and out in
// the element type plus every worker's plan buffers (counted from the
// program the plan will run); for CUDA the float staging copy.
double bytes_needed(const Shape& s, const runtime::Schedule& schedule, int steps, bool cpu, ElementType dtype) {
  const bool f64 = dtype == ElementType::kF64;
  const double size = static_cast<double>(s.rows) * static_cast<double>(s.cols);
  const double k = static_cast<double>(std::min(s.rows, s.cols));
  const double batch = static_cast<double>(s.batch);
  double bytes = batch * size * 8 * 3 + (4 * size + 4 * k * k) * 8;
  if (!cpu) return bytes + batch * size * 4;
  runtime::PlanOptions options;
  options.steps = steps;
  const runtime::Program program = runtime::compile_program(
      {s.batch, s.rows, s.cols}, schedule, options, f64 ? runtime::cpu_traits<double>() : runtime::cpu_traits<float>());
  double per_worker = k * k;  // the backend's own scratch
  for (runtime::Buffer b : program.buffers()) per_worker += runtime::is_iterate(b) ? size : k * k;
  const double workers = std::min(batch, static_cast<double>(runtime::usable_cpus()));
  const double element = static_cast<double>(element_bytes(dtype)), compute = f64 ? 8 : 4;
  return bytes + batch * size * 2 * element + workers * per_worker * compute;
}

// "3.1 GB", "512 kB".
std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) {
    bytes /= 1000;
    ++unit;
  }
  return fmt::format("{:.3g} {}", bytes, units[unit]);
}

// What --max-memory allows: the given value, else the memory the kernel
// reports available now.
double memory_limit(const std::optional<double>& max_memory) {
  if (max_memory) return *max_memory;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kilobytes = 0;
  std::string unit;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key == "MemAvailable:") return kilobytes * 1024;
  }
  const double pages = static_cast<double>(sysconf(_SC_PHYS_PAGES));
  return pages * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

int run_run(const RunArguments& args) {
  if (args.backend != "cpu" && args.backend != "cuda") {
    throw UsageError("unknown backend '" + args.backend + "' (expected cpu or cuda)");
  }
  const bool cpu = args.backend == "cpu";
  const ElementType element = args.dtype.empty() ? (cpu ? ElementType::kF64 : ElementType::kBF16) : parse_dtype(args.dtype);
  const std::string dtype = to_string(element);
  if (!cpu && element == ElementType::kF64) {
    throw UsageError("--dtype f64 needs --backend cpu (the CUDA backend runs f32, bf16, f16)");
  }
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
  // Doubles are all the runtime takes; 64 bits read them exactly enough.
  constexpr unsigned kBits = 128;
  const Schedule source = load_schedule(args.schedule, kBits);
  const runtime::Schedule schedule = bridge::to_runtime(source);
  const int steps = args.steps.value_or(static_cast<int>(schedule.steps.size()));
  const double needed = bytes_needed(shape, schedule, steps, cpu, element);
  const double limit = memory_limit(args.max_memory);
  if (needed > limit) {
    throw UsageError(fmt::format("--shape '{}' needs about {} of host memory (batch, plan buffers and the SVD "
                                 "reference), more than the {} {}",
                                 args.shape, human_bytes(needed), human_bytes(limit),
                                 args.max_memory ? "--max-memory allows" : "available"));
  }

  std::mt19937_64 rng(args.seed);
  const std::int64_t size = shape.rows * shape.cols;
  std::vector<double> generated(static_cast<std::size_t>(shape.batch * size));
  for (std::int64_t b = 0; b < shape.batch; ++b) pack(random_matrix(shape, lowest, rng), generated.data() + b * size);

  Outcome outcome;
  if (cpu) {
    outcome = run_cpu(shape, element, schedule, steps, args.repeats, generated);
  } else {
    try {
      outcome = run_cuda(shape, element, schedule, steps, args.repeats, generated);
    } catch (const runtime::BackendUnavailable& e) {
      throw UsageError(std::string("--backend cuda: ") + e.what());
    }
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
    if (cpu) {
      const runtime::BlasInfo& blas = runtime::cpu_blas_info();
      j["flops"] = outcome.flops;
      j["gflops_per_s"] = outcome.flops / median_ms / 1e6;
      j["cpu"] = {{"blas", "OpenBLAS"},
                  {"library", blas.library},
                  {"config", blas.config},
                  {"core", blas.core},
                  {"core_source", blas.core_source},
                  {"processor", blas.cpu},
                  {"features", blas.features},
                  {"usable_cpus", blas.usable_cpus},
                  {"workers", outcome.workers},
                  {"blas_threads", outcome.blas_threads}};
    }
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
    if (cpu) {
      const runtime::BlasInfo& blas = runtime::cpu_blas_info();
      text += fmt::format("{:<16} {:.1f} ({:.4g} GFLOP per run)\n", "GFLOP/s", outcome.flops / median_ms / 1e6,
                          outcome.flops / 1e9);
      text += fmt::format("{:<16} {} ({})\n", "blas", blas.config, blas.library);
      text += fmt::format("{:<16} {} (chosen by {})\n", "blas kernels", blas.core, blas.core_source);
      text += fmt::format("{:<16} {} [{}]\n", "processor", blas.cpu, blas.features);
      text += fmt::format("{:<16} {} matrices side by side x {} BLAS threads ({} CPUs usable)\n", "threads",
                          outcome.workers, outcome.blas_threads, blas.usable_cpus);
    }
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
      "With --backend cuda (loaded on demand from libpolar_express_cuda.so), the shipped\n"
      "schedules polar-express-paper-d5 and polar-express-nanochat-d5 run their generated kernel\n"
      "sets (the fused kernels where they take the shape); other schedules run the generic\n"
      "cuBLASLt path.  The output says which.");
  add_schedule_choice(*app, args->schedule);
  app->add_option("--backend", args->backend, "cpu or cuda")->required();
  app->add_option("--shape", args->shape, "MxN or BxMxN (B matrices of M rows, N columns)")->required();
  app->add_option("--dtype", args->dtype,
                  "f64, f32, bf16 or f16 (cpu, 16-bit computed in f32; default f64), f32, bf16 or f16 (cuda; default "
                  "bf16)");
  app->add_option("--steps", args->steps, "Steps to run (default: the schedule's list), past the list by its rule")
      ->transform(integer_text<int>());
  app->add_option("--spectrum", args->spectrum,
                  "gaussian (Gaussian entries) or logspace:LO (singular values log-spaced from LO to 1)")
      ->capture_default_str();
  app->add_option("--seed", args->seed, "Random seed, 0..2^64-1")->transform(integer_text<std::uint64_t>())->capture_default_str();
  app->add_option("--repeats", args->repeats, "Timed runs after one warm-up; the median is reported")
      ->transform(integer_text<int>())
      ->capture_default_str();
  app->add_option("--max-memory", args->max_memory,
                  "Refuse runs needing more host memory than this many bytes (default: what the system reports "
                  "available)")
      ->check(CLI::PositiveNumber);
  app->add_option("--format", args->format, "table or json")->capture_default_str();
  return {app, [args] { return run_run(*args); }};
}

}  // namespace polar_express::cli
