// Polar factors of DLPack arrays: layout checks, the plan cache and the CPU
// and CUDA backends, with the GIL released while a plan is made and runs.
#include "bindings.hpp"

#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/cpu_info.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express/runtime/program.hpp"

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <unordered_map>
#include <vector>

namespace nb = nanobind;

namespace polar_express::python {
namespace {

using InputArray = nb::ndarray<nb::ro>;
using OutputArray = nb::ndarray<>;

constexpr int kDeviceCpu = 1;   // kDLCPU
constexpr int kDeviceCuda = 2;  // kDLCUDA

// The array libraries' name of an element type ("bfloat16").
const char* element_name(ElementType e) { return info(e).array_name; }

std::string dtype_name(nb::dlpack::dtype t) {
  using Code = nb::dlpack::dtype_code;
  std::string base;
  switch (static_cast<Code>(t.code)) {
    case Code::Int: base = "int"; break;
    case Code::UInt: base = "uint"; break;
    case Code::Float: base = "float"; break;
    case Code::Bfloat: base = "bfloat"; break;
    case Code::Complex: base = "complex"; break;
    case Code::Bool: return "bool";
    default: base = "dlpack-code-" + std::to_string(t.code) + "-"; break;
  }
  std::string name = base + std::to_string(t.bits);
  if (t.lanes != 1) name += "x" + std::to_string(t.lanes);
  return name;
}

std::optional<ElementType> element_of(nb::dlpack::dtype t) {
  using Code = nb::dlpack::dtype_code;
  if (t.lanes != 1) return std::nullopt;
  if (t.code == static_cast<std::uint8_t>(Code::Float)) {
    if (t.bits == 64) return ElementType::kF64;
    if (t.bits == 32) return ElementType::kF32;
    if (t.bits == 16) return ElementType::kF16;
  }
  if (t.code == static_cast<std::uint8_t>(Code::Bfloat) && t.bits == 16) return ElementType::kBF16;
  return std::nullopt;
}

std::string shape_text(const nb::ndarray<nb::ro>& a) {
  std::string text = "(";
  for (std::size_t i = 0; i < a.ndim(); ++i) text += (i ? ", " : "") + std::to_string(a.shape(i));
  return text + (a.ndim() == 1 ? ",)" : ")");
}

// Where the matrices of an array lie, as the runtime's BatchShape sees them:
// each matrix row-major (the PyTorch layout), or column-major (then the
// runtime works on the transpose: the polar factor of X^T is U^T), matrices
// `stride` elements apart without overlapping.
struct Layout {
  std::int64_t batch = 1, rows = 0, cols = 0, stride = 0;
  bool transposed = false;
};

std::optional<Layout> layout_of(const nb::ndarray<nb::ro>& a) {
  const std::size_t d = a.ndim();
  const std::int64_t m = static_cast<std::int64_t>(a.shape(d - 2)), n = static_cast<std::int64_t>(a.shape(d - 1));
  const std::int64_t row_stride = a.stride(d - 2), col_stride = a.stride(d - 1);
  const bool row_major = (n == 1 || col_stride == 1) && (m == 1 || row_stride == n);
  const bool column_major = (m == 1 || row_stride == 1) && (n == 1 || col_stride == m);
  if (!row_major && !column_major) return std::nullopt;
  Layout layout;
  layout.transposed = !row_major;
  layout.rows = layout.transposed ? n : m;
  layout.cols = layout.transposed ? m : n;
  if (d == 3) {
    layout.batch = static_cast<std::int64_t>(a.shape(0));
    if (layout.batch > 1) {
      layout.stride = a.stride(0);
      if (layout.stride < m * n) return std::nullopt;  // overlapping, broadcast or reversed matrices
    }
  }
  return layout;
}

// The checks every input and output passes, with the one clear error for
// what the package cannot take: TypeError for a dtype, ValueError otherwise.
struct Described {
  int device_type = 0, device_id = 0;
  ElementType element = ElementType::kF32;
  std::optional<Layout> layout;
};

Described describe(const nb::ndarray<nb::ro>& a, const char* what) {
  const std::string name = what;
  if (a.ndim() != 2 && a.ndim() != 3) {
    throw nb::value_error((name + " must be a 2-D matrix or a 3-D batch of matrices; got " +
                           std::to_string(a.ndim()) + "-D shape " + shape_text(a))
                              .c_str());
  }
  if (a.size() == 0) throw nb::value_error((name + " of shape " + shape_text(a) + " is empty").c_str());
  Described d;
  d.device_type = a.device_type();
  d.device_id = a.device_id();
  const std::optional<ElementType> element = element_of(a.dtype());
  const bool cpu = d.device_type == kDeviceCpu, cuda = d.device_type == kDeviceCuda;
  if (!cpu && !cuda) {
    throw nb::value_error((name + " lives on DLPack device type " + std::to_string(d.device_type) +
                           "; polar_express runs on the CPU and on CUDA")
                              .c_str());
  }
  if (!element) {
    throw nb::type_error((name + " has dtype " + dtype_name(a.dtype()) +
                          "; polar_express takes float64, float32, float16 or bfloat16 on the CPU, float32, "
                          "float16 or bfloat16 on CUDA")
                             .c_str());
  }
  d.element = *element;
  if (cuda && d.element == ElementType::kF64) {
    throw nb::type_error((name + " has dtype float64 on CUDA; the CUDA backend runs float32, float16 and bfloat16")
                             .c_str());
  }
  d.layout = layout_of(a);
  return d;
}

// ------------------------------------------------------------------ plans

struct PlanKey {
  int device_type = 0, device_id = 0;
  ElementType element = ElementType::kF32;
  runtime::BatchShape shape;
  std::string schedule;
  int steps = 0;
  bool nuclear_norm = false;
  std::uintptr_t stream = 0;  // CUDA: one execute in flight per plan, so one plan per stream

  bool operator==(const PlanKey& o) const {
    return device_type == o.device_type && device_id == o.device_id && element == o.element &&
           shape.batch == o.shape.batch && shape.rows == o.shape.rows && shape.cols == o.shape.cols &&
           shape.input_stride == o.shape.input_stride && shape.output_stride == o.shape.output_stride &&
           schedule == o.schedule && steps == o.steps && nuclear_norm == o.nuclear_norm && stream == o.stream;
  }
};

struct PlanKeyHash {
  std::size_t operator()(const PlanKey& k) const {
    std::size_t h = std::hash<std::string>()(k.schedule);
    auto mix = [&h](std::uint64_t v) { h ^= std::hash<std::uint64_t>()(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    for (std::uint64_t v : {std::uint64_t(k.device_type), std::uint64_t(k.device_id), std::uint64_t(k.element),
                            std::uint64_t(k.shape.batch), std::uint64_t(k.shape.rows), std::uint64_t(k.shape.cols),
                            std::uint64_t(k.shape.input_stride), std::uint64_t(k.shape.output_stride),
                            std::uint64_t(k.steps), std::uint64_t(k.nuclear_norm), std::uint64_t(k.stream)}) {
      mix(v);
    }
    return h;
  }
};

// One plan; plans are not reentrant, so executes of one plan take turns.
// On the CPU, f16 and bf16 batches run in a float plan (converted as it
// reads and writes them).
struct CachedPlan {
  std::mutex mutex;
  std::unique_ptr<runtime::CpuPlan<double>> f64;
  std::unique_ptr<runtime::CpuPlan<float>> f32;
  std::unique_ptr<runtime::DevicePlan> device;
};

// Plans by key, least recently used evicted past the capacity (a CPU plan
// holds its buffers and worker threads, a CUDA plan its workspace).
class PlanCache {
 public:
  explicit PlanCache(std::size_t capacity = 64) : capacity_(capacity) {}

  std::shared_ptr<CachedPlan> find(const PlanKey& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it == plans_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.second);
    return it->second.first;
  }

  // Inserts `plan` unless another thread got there first; returns the one kept.
  std::shared_ptr<CachedPlan> insert(const PlanKey& key, std::shared_ptr<CachedPlan> plan) {
    std::vector<std::shared_ptr<CachedPlan>> evicted;  // destroyed outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second.first;
    order_.push_front(key);
    plans_.emplace(key, std::make_pair(plan, order_.begin()));
    trim(evicted);
    return plan;
  }

  void clear() {
    std::unordered_map<PlanKey, Slot, PlanKeyHash> dropped;
    std::lock_guard<std::mutex> lock(mutex_);
    dropped.swap(plans_);
    order_.clear();
  }

  std::size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_.size();
  }

  std::size_t capacity() {
    std::lock_guard<std::mutex> lock(mutex_);
    return capacity_;
  }

  void set_capacity(std::size_t capacity) {
    if (capacity < 1) throw nb::value_error("the plan cache capacity must be at least 1");
    std::vector<std::shared_ptr<CachedPlan>> evicted;  // destroyed outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    capacity_ = capacity;
    trim(evicted);
  }

 private:
  using Slot = std::pair<std::shared_ptr<CachedPlan>, std::list<PlanKey>::iterator>;

  // Drops the least recently used plans past the capacity into `evicted`.
  void trim(std::vector<std::shared_ptr<CachedPlan>>& evicted) {
    while (plans_.size() > capacity_) {
      auto it = plans_.find(order_.back());
      evicted.push_back(std::move(it->second.first));
      plans_.erase(it);
      order_.pop_back();
    }
  }

  std::mutex mutex_;
  std::list<PlanKey> order_;  // most recently used first
  std::unordered_map<PlanKey, Slot, PlanKeyHash> plans_;
  std::size_t capacity_;

  friend void empty_cache_in_child();
};

// Never destroyed: plans may hold CUDA state that must not be torn down
// after the driver at interpreter exit.
PlanCache* cache = new PlanCache;

PlanCache& plan_cache() { return *cache; }

// A forked child starts with an empty cache, and leaks the one it inherited:
// a thread of the parent (which the child does not have) may have held its
// lock or a plan's at the fork, in the middle of an execute.  glibc's fork
// makes malloc usable again before the child handlers run.
// (The capacity is read without the lock, which no thread of the child holds.)
void empty_cache_in_child() { cache = new PlanCache(cache->capacity_); }

// Threads of each CPU plan (0: the hardware's count).  The CPU plan spreads
// them over the matrices of a batch and gives the rest to OpenBLAS, whose
// results depend on its thread count: with one thread a matrix's result does
// not depend on the batch it runs in.
std::atomic<int> cpu_threads{0};

void set_cpu_threads(int threads) {
  const int limit = runtime::max_cpu_threads();
  if (threads < 0 || threads > limit) {
    throw nb::value_error(("threads " + std::to_string(threads) + " is outside 0.." + std::to_string(limit)).c_str());
  }
  cpu_threads.store(threads);
  plan_cache().clear();  // plans keep the thread count they were made with
}

std::shared_ptr<CachedPlan> make_plan(const PlanKey& key, const runtime::Schedule& schedule,
                                      const runtime::PlanOptions& options) {
  auto plan = std::make_shared<CachedPlan>();
  if (key.device_type == kDeviceCuda) {
    plan->device =
        runtime::cuda_backend().make_plan(key.shape, key.element, schedule, options, key.device_id);
  } else if (key.element == ElementType::kF64) {
    plan->f64 = std::make_unique<runtime::CpuPlan<double>>(key.shape, schedule, options);
  } else {
    plan->f32 = std::make_unique<runtime::CpuPlan<float>>(key.shape, schedule, options);
  }
  return plan;
}

// The byte range [first, last) an array's elements span.
std::pair<std::uintptr_t, std::uintptr_t> byte_span(const nb::ndarray<nb::ro>& a) {
  auto first = reinterpret_cast<std::uintptr_t>(a.data()), last = first;
  for (std::size_t i = 0; i < a.ndim(); ++i) {
    const std::int64_t reach = (static_cast<std::int64_t>(a.shape(i)) - 1) * a.stride(i) * std::int64_t(a.itemsize());
    if (reach < 0) first += reach; else last += reach;
  }
  return {first, last + a.itemsize()};
}

// The polar factors of `input` into `output` (the same array for in place).
// Both are checked as describe() does and must agree in device, dtype, shape
// and orientation, each with a layout the runtime takes (the Python layer
// copies otherwise).  CPU: runs and returns the report.  CUDA: enqueues on
// `stream` and returns the report only when asked (reading it synchronises).
std::optional<runtime::Report> execute(const InputArray& input, const OutputArray& output, const ScheduleHandle& handle,
                                       int steps, bool nuclear_norm, std::uintptr_t stream, bool want_report) {
  const Described in = describe(input, "the input");
  const InputArray output_view(output);
  const Described out = describe(output_view, "out");
  bool same_shape = input.ndim() == output.ndim();
  for (std::size_t i = 0; same_shape && i < input.ndim(); ++i) same_shape = input.shape(i) == output.shape(i);
  if (!same_shape) {
    throw nb::value_error(("out has shape " + shape_text(output_view) + ", the input " + shape_text(input)).c_str());
  }
  if (in.device_type != out.device_type || in.device_id != out.device_id) {
    throw nb::value_error("out is on another device than the input");
  }
  if (in.element != out.element) {
    throw nb::type_error((std::string("out has dtype ") + element_name(out.element) + ", the input " +
                          element_name(in.element))
                             .c_str());
  }
  if (!in.layout || !out.layout || in.layout->transposed != out.layout->transposed) {
    throw nb::value_error("the input and out need matching row-major or column-major matrices (copy them first)");
  }
  const bool in_place = input.data() == output.data();
  if (in_place) {
    for (std::size_t i = 0; i < input.ndim(); ++i) {
      if (input.stride(i) != output.stride(i)) throw nb::value_error("out overlaps the input with other strides");
    }
  } else {
    const auto [a0, a1] = byte_span(input);
    const auto [b0, b1] = byte_span(output_view);
    if (a0 < b1 && b0 < a1) throw nb::value_error("out overlaps the input (pass the input itself for in place)");
  }
  if (steps < 0) throw nb::value_error(("steps " + std::to_string(steps) + " is negative").c_str());

  PlanKey key;
  key.device_type = in.device_type;
  key.device_id = in.device_id;
  key.element = in.element;
  key.shape = {in.layout->batch, in.layout->rows, in.layout->cols, in.layout->stride, out.layout->stride};
  key.schedule = handle.key;
  key.steps = steps;
  key.nuclear_norm = nuclear_norm;
  key.stream = in.device_type == kDeviceCuda ? stream : 0;

  runtime::PlanOptions options;
  options.steps = steps;
  options.nuclear_norm = nuclear_norm;
  options.threads = cpu_threads.load();

  const void* source = input.data();
  void* target = output.data();
  auto* cuda_stream = reinterpret_cast<void*>(stream);
  std::optional<runtime::Report> report;
  {
    nb::gil_scoped_release release;
    std::shared_ptr<CachedPlan> plan = plan_cache().find(key);
    if (!plan) plan = plan_cache().insert(key, make_plan(key, handle.schedule, options));
    std::lock_guard<std::mutex> lock(plan->mutex);
    if (plan->device) {
      plan->device->execute(source, target, cuda_stream);
      if (want_report) report = plan->device->report(cuda_stream);
    } else if (plan->f64) {
      plan->f64->execute(static_cast<const double*>(source), static_cast<double*>(target));
      report = plan->f64->report();
    } else if (key.element == ElementType::kF32) {
      plan->f32->execute(static_cast<const float*>(source), static_cast<float*>(target));
      report = plan->f32->report();
    } else {
      plan->f32->execute(static_cast<const std::uint16_t*>(source), static_cast<std::uint16_t*>(target),
                         key.element);
      report = plan->f32->report();
    }
  }
  return report;
}

// (device type, device id, dtype name, layout): layout is "row" or
// "column" for matrices the runtime takes as they are, None when a copy is
// needed.
// `what` names the array in errors; one that nanobind cannot take as a
// DLPack array (numpy's longdouble, say) is a TypeError naming its dtype.
std::tuple<int, int, std::string, std::optional<std::string>> inspect(nb::handle array, const std::string& what) {
  InputArray a;
  if (!nb::try_cast(array, a)) {
    const nb::object dtype = nb::getattr(array, "dtype", nb::none());
    throw nb::type_error((what + " (" + nb::inst_name(array).c_str() + " of dtype " + nb::str(dtype).c_str() +
                          ") is not an array of a dtype DLPack carries; polar_express takes float64 or float32 on "
                          "the CPU, float32, float16 or bfloat16 on CUDA")
                             .c_str());
  }
  const Described d = describe(a, what.c_str());
  std::optional<std::string> layout;
  if (d.layout) layout = d.layout->transposed ? "column" : "row";
  return {d.device_type, d.device_id, element_name(d.element), layout};
}

// Throws BackendUnavailable unless CUDA device `device` can run plans.
void require_cuda(int device) {
  const int count = runtime::cuda_backend().device_count();
  if (device < 0 || device >= count) {
    throw runtime::BackendUnavailable("CUDA device " + std::to_string(device) + " is not available (the CUDA backend sees " +
                                      std::to_string(count) + ")");
  }
}

// The matrix-multiply FLOPs of one call on a batch of rows x cols matrices:
// the program the runtime would compile for an iterate of `dtype` (whose
// precision places the Gram iteration's restarts), counted by
// Program::flops.  The cost model that places matrices on ranks
// (polar_express.distributed).
double program_flops(const ScheduleHandle& handle, std::int64_t rows, std::int64_t cols, std::int64_t batch,
                     int steps, const std::string& dtype) {
  runtime::BatchShape shape;
  shape.batch = batch;
  shape.rows = rows;
  shape.cols = cols;
  runtime::PlanOptions options;
  options.steps = steps;
  runtime::BackendTraits traits;
  traits.storage = parse_element_type(dtype);
  return runtime::compile_program(shape, handle.schedule, options, traits).flops();
}

// The BLAS the CPU backend runs and the machine it sees (loads the BLAS).
nb::dict cpu_info() {
  const runtime::BlasInfo* info = nullptr;
  {
    nb::gil_scoped_release release;
    info = &runtime::cpu_blas_info();
  }
  nb::dict d;
  d["blas"] = "OpenBLAS";
  d["library"] = info->library;
  d["config"] = info->config;
  d["core"] = info->core;
  d["core_source"] = info->core_source;
  d["requested_core"] = info->requested.empty() ? nb::none() : nb::cast(info->requested);
  d["cpu"] = info->cpu;
  d["features"] = info->features;
  d["usable_cpus"] = runtime::usable_cpus();
  return d;
}

}  // namespace

void bind_execute(nb::module_& m) {
  pthread_atfork(nullptr, nullptr, empty_cache_in_child);
  nb::class_<runtime::Report>(m, "Report", "What one orthogonalize call produced, per matrix of the batch")
      .def_prop_ro("status",
                   [](const runtime::Report& r) {
                     std::vector<std::string> names;
                     for (runtime::MatrixStatus s : r.status) names.emplace_back(runtime::to_string(s));
                     return names;
                   },
                   "per matrix: 'ok', 'zero', 'non-finite input' or 'diverged' (the last two: the output is all NaN)")
      .def_prop_ro("nuclear_norms", [](const runtime::Report& r) { return r.nuclear_norms; },
                   "per matrix <G, U> (NaN where the status is not a success); empty unless asked for")
      .def_prop_ro("all_succeeded", [](const runtime::Report& r) { return r.all_succeeded; })
      .def_prop_ro("sigma_error_bound", [](const runtime::Report& r) { return r.sigma_error_bound; },
                   "the schedule's certified bound on max |1 - sigma| when every matrix is ok, else None");

  m.def("inspect", &inspect, nb::arg("array"), nb::arg("what"));
  m.def("execute", &execute, nb::arg("input"), nb::arg("output"), nb::arg("schedule"), nb::arg("steps"),
        nb::arg("nuclear_norm"), nb::arg("stream"), nb::arg("want_report"));
  m.def("require_cuda", &require_cuda, nb::arg("device"));
  m.def("program_flops", &program_flops, nb::arg("schedule"), nb::arg("rows"), nb::arg("cols"), nb::arg("batch"),
        nb::arg("steps"), nb::arg("dtype"));
  m.def("plan_cache_size", [] { return plan_cache().size(); });
  m.def("plan_cache_capacity", [] { return plan_cache().capacity(); });
  m.def("set_plan_cache_capacity", [](std::size_t capacity) { plan_cache().set_capacity(capacity); },
        nb::arg("capacity"));
  m.def("clear_plan_cache", [] { plan_cache().clear(); });
  m.def("cpu_threads", [] { return cpu_threads.load(); });
  m.def("cpu_info", &cpu_info);
  m.def("set_cpu_threads", &set_cpu_threads, nb::arg("threads"));
  m.def("max_cpu_threads", &runtime::max_cpu_threads);
}

}  // namespace polar_express::python
