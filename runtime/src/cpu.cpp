#include "polar_express/runtime/cpu.hpp"

#include "cpu_kernels.hpp"
#include "polar_express/runtime/cpu_info.hpp"
#include "polar_express/runtime/half.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace polar_express::runtime {
namespace {

// Symmetric k x k products computed by block rows: below this k per BLAS
// thread the triangle saves less than the extra, smaller calls cost
// (measured: 256^2 runs 1.2x faster by block rows on one thread, 1.1-1.5x
// slower on two, whose block GEMMs split 64 rows in two).
constexpr std::int64_t kSymmetricFromK = 256;
// Block rows of a symmetric product: about eight per matrix, whole
// multiples of 64 so that every GEMM keeps the BLAS's preferred blocking.
std::int64_t symmetric_block_rows(std::int64_t k) { return std::max<std::int64_t>(64, (k / 8 + 63) / 64 * 64); }

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// How the batch's elements are stored: as the plan's T, or as 16-bit bit
// patterns widened on read (normalise) and rounded on write (store).
template <class T>
struct NativeElements {
  using Stored = T;
  static double read(T v) { return static_cast<double>(v); }
  static T write(T v) { return v; }
};
struct HalfElements {
  using Stored = std::uint16_t;
  static double read(std::uint16_t v) { return static_cast<double>(half_to_float(v)); }
  static std::uint16_t write(float v) { return float_to_half(v); }
};
struct BFloat16Elements {
  using Stored = std::uint16_t;
  static double read(std::uint16_t v) { return static_cast<double>(bfloat16_to_float(v)); }
  static std::uint16_t write(float v) { return float_to_bfloat16(v); }
};
enum class Storage { kNative, kHalf, kBFloat16 };

// Matrices run side by side, and BLAS threads inside each.
struct ThreadSplit {
  int workers = 1, blas = 1;
};

// A rows x cols iterate and k x k matrices, one set per worker, indexed by
// Buffer; `scratch` is the backend's own k x k buffer for H = c0 I + P and
// `diagonal` AOL's D.
template <class T>
struct Workspace {
  std::vector<T> buffers[kBufferCount];
  std::vector<T> scratch;
  std::vector<double> diagonal;
  T* operator[](Buffer b) { return buffers[static_cast<int>(b)].data(); }
};

// Forks this process has gone through, counted in each child: a pool whose
// count differs was started by an ancestor, and its threads do not exist in
// this process (fork copies only the thread that called it).
std::atomic<std::uint64_t> forks{0};
void count_fork_in_child() { forks.fetch_add(1, std::memory_order_relaxed); }
std::uint64_t fork_count() {
  // Registered before the first pool exists, so that every later fork counts.
  static const int registered = pthread_atfork(nullptr, nullptr, count_fork_in_child);
  static_cast<void>(registered);
  return forks.load(std::memory_order_relaxed);
}

// The worker threads of one plan and what they synchronise on, made anew in
// a forked child.
struct Pool {
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::condition_variable start, done;
  std::uint64_t generation = 0;
  int running = 0;
  bool stopping = false;
  std::exception_ptr failure;
  std::uint64_t forks_at_start = fork_count();

  bool inherited() const { return forks_at_start != fork_count(); }
};

}  // namespace

int max_cpu_threads() { return cpu::blas().max_threads; }

template <class T>
BackendTraits cpu_traits() {
  return {element_type_of<T>(), kSymmetricFromK};
}

template <class T>
struct CpuPlan<T>::Impl {
  ThreadSplit threads;
  Schedule schedule;
  Program program;
  std::int64_t k = 0, big = 0;  // short and long side
  std::vector<Workspace<T>> workspaces;
  Report last;  // statuses and <G, U> written in place by the workers

  // The job of the current execute, read by the workers.
  const void* input = nullptr;
  void* output = nullptr;
  Storage storage = Storage::kNative;
  std::atomic<std::int64_t> next_matrix{0};

  // A fixed pool so that execute neither creates threads nor allocates
  // (except the first execute in a forked child, which starts a new one):
  // the caller's thread is worker 0, the pool threads are workers 1..n-1.
  std::unique_ptr<Pool> pool;

  Impl(const BatchShape& shape, const Schedule& s, const PlanOptions& options)
      : threads(split_threads(shape, options)), schedule(s), program(compile(shape, s, options, threads)) {
    cpu::blas();  // loaded here, so that a missing library fails the plan, not an execute
    k = program.short_side();
    big = program.long_side();
    if (big > INT_MAX || k * k > std::int64_t{1} << 40) {
      throw std::invalid_argument("shape " + std::to_string(shape.rows) + "x" + std::to_string(shape.cols) +
                                  " exceeds the BLAS's 32-bit dimensions");
    }
    const int workers = threads.workers;
    workspaces.resize(static_cast<std::size_t>(workers));
    const std::vector<Buffer> used = program.buffers();
    for (Workspace<T>& w : workspaces) {
      for (Buffer b : used) {
        w.buffers[static_cast<int>(b)].resize(static_cast<std::size_t>(is_iterate(b) ? k * big : k * k));
      }
      w.scratch.resize(static_cast<std::size_t>(k * k));
      w.diagonal.resize(static_cast<std::size_t>(k));
    }
    last.status.assign(static_cast<std::size_t>(shape.batch), MatrixStatus::kOk);
    if (options.nuclear_norm) last.nuclear_norms.assign(static_cast<std::size_t>(shape.batch), 0.0);
    start_pool();
  }

  // Threads of the plan (as asked, at most and by default usable_cpus()):
  // first one worker per matrix, the rest to the BLAS inside each.  More than
  // max_cpu_threads() is refused, whatever the CPUs.
  static ThreadSplit split_threads(const BatchShape& shape, const PlanOptions& options) {
    const int limit = max_cpu_threads();
    if (options.threads > limit) {
      throw std::invalid_argument("threads " + std::to_string(options.threads) + " is above " + std::to_string(limit) +
                                  ", the most OpenBLAS's memory buffers allow");
    }
    const int allowed = std::min(usable_cpus(), limit);
    const int threads = options.threads <= 0 ? allowed : std::min(options.threads, allowed);
    ThreadSplit split;
    split.workers = static_cast<int>(std::min<std::int64_t>(threads, std::max<std::int64_t>(1, shape.batch)));
    split.blas = std::max(1, threads / split.workers);
    return split;
  }
  // The program, its symmetric products from kSymmetricFromK per BLAS thread.
  static Program compile(const BatchShape& shape, const Schedule& s, const PlanOptions& options, ThreadSplit split) {
    BackendTraits traits = cpu_traits<T>();
    traits.symmetric_from_k *= split.blas;
    return compile_program(shape, s, options, traits);
  }

  ~Impl() {
    if (pool->inherited()) {
      abandon_pool();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(pool->mutex);
      pool->stopping = true;
    }
    pool->start.notify_all();
    for (std::thread& t : pool->threads) t.join();
  }

  void start_pool() {
    pool = std::make_unique<Pool>();
    for (int id = 1; id < static_cast<int>(workspaces.size()); ++id) {
      pool->threads.emplace_back([this, p = pool.get(), id] { worker_loop(*p, id); });
    }
  }

  // Leaks a pool inherited through fork: its threads are not in this
  // process, so they can be neither joined nor destroyed (std::thread would
  // terminate), and its mutex may have been held by one of them.
  void abandon_pool() { static_cast<void>(pool.release()); }

  void worker_loop(Pool& p, int id) {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(p.mutex);
      p.start.wait(lock, [&] { return p.stopping || p.generation != seen; });
      if (p.stopping) return;
      seen = p.generation;
      lock.unlock();
      drain(id);
      lock.lock();
      if (--p.running == 0) p.done.notify_one();
    }
  }

  // Takes matrices off the shared counter until the batch is done.
  void drain(int id) {
    try {
      Workspace<T>& w = workspaces[static_cast<std::size_t>(id)];
      for (std::int64_t b = next_matrix.fetch_add(1); b < program.shape.batch; b = next_matrix.fetch_add(1)) {
        run_matrix(b, w);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(pool->mutex);
      if (!pool->failure) pool->failure = std::current_exception();
    }
  }

  bool execute(const void* in, void* out, Storage elements) {
    if (in == nullptr || out == nullptr) throw std::invalid_argument("execute: null input or output pointer");
    if (in == out && program.shape.input_step() != program.shape.output_step()) {
      throw std::invalid_argument("execute in place needs equal input and output strides");
    }
    if (pool->inherited()) {
      abandon_pool();
      start_pool();
    }
    input = in;
    output = out;
    storage = elements;
    next_matrix.store(0);
    cpu::blas().set_num_threads(threads.blas);
    {
      std::lock_guard<std::mutex> lock(pool->mutex);
      pool->failure = nullptr;
      pool->running = static_cast<int>(pool->threads.size());
      ++pool->generation;
    }
    pool->start.notify_all();
    drain(0);
    {
      std::unique_lock<std::mutex> lock(pool->mutex);
      pool->done.wait(lock, [&] { return pool->running == 0; });
      if (pool->failure) std::rethrow_exception(pool->failure);
    }
    summarize(last, schedule, program.steps, element_type_of<T>());
    return last.all_succeeded;
  }

  void run_matrix(std::int64_t b, Workspace<T>& w) {
    switch (storage) {
      case Storage::kNative: run_matrix<NativeElements<T>>(b, w); break;
      case Storage::kHalf: run_matrix<HalfElements>(b, w); break;
      case Storage::kBFloat16: run_matrix<BFloat16Elements>(b, w); break;
    }
  }

  // One matrix through the program, its elements stored as `Elements` says.
  template <class Elements>
  void run_matrix(std::int64_t b, Workspace<T>& w) {
    using Stored = typename Elements::Stored;
    const Stored* g = static_cast<const Stored*>(input) + b * program.shape.input_step();
    Stored* u = static_cast<Stored*>(output) + b * program.shape.output_step();
    const auto index = static_cast<std::size_t>(b);
    for (const Operation& op : program.operations) {
      switch (op.kind) {
        case OpKind::kNormalize:
          if (!normalize<Elements>(g, u, w[op.dst], index)) return;
          break;
        case OpKind::kGram: gram(op, w); break;
        case OpKind::kAolScale: aol_scale(w[op.dst], w[op.lhs], w.diagonal); break;
        case OpKind::kProduct: product(op, w); break;
        case OpKind::kAddIdentity: add_identity(w[op.dst], w[op.lhs], static_cast<T>(op.alpha), static_cast<T>(op.beta)); break;
        case OpKind::kApply: apply(op, w); break;
        case OpKind::kStore: store<Elements>(g, u, w[op.lhs], index); break;
      }
    }
  }

  // X = G scaled by the normalisation, the statistics in double.  Zero and
  // non-finite inputs get their output and status here; returns false then.
  template <class Elements>
  bool normalize(const typename Elements::Stored* g, typename Elements::Stored* u, T* x, std::size_t index) {
    const std::int64_t size = k * big;
    double largest = 0;
    bool finite = true;
    for (std::int64_t i = 0; i < size; ++i) {
      const double v = std::abs(Elements::read(g[i]));
      finite = finite && std::isfinite(v);
      largest = std::max(largest, v);
    }
    if (!finite || largest == 0) {
      last.status[index] = finite ? MatrixStatus::kZero : MatrixStatus::kNonFinite;
      if (!last.nuclear_norms.empty()) last.nuclear_norms[index] = finite ? 0.0 : kNaN;
      std::fill(u, u + size, Elements::write(static_cast<T>(finite ? 0.0 : kNaN)));
      return false;
    }
    const Normalization& n = program.normalization;
    double ratio = 1.0;
    if (n.kind == NormalizationKind::kFrobenius) {
      double sum = 0;
      for (std::int64_t i = 0; i < size; ++i) {
        const double s = Elements::read(g[i]) / largest;
        sum += s * s;
      }
      ratio = frobenius_ratio(largest, sum, n.factor, n.eps);
    }
    for (std::int64_t i = 0; i < size; ++i) x[i] = static_cast<T>(Elements::read(g[i]) / largest * ratio);
    return true;
  }

  void gram(const Operation& op, Workspace<T>& w) const {
    const T* x = w[op.lhs];
    T* a = w[op.dst];
    const int n = static_cast<int>(k), depth = static_cast<int>(big);
    // Wide X is k x K (A = X X^T); tall X is K x k (A = X^T X).
    const CBLAS_TRANSPOSE first = program.wide ? CblasNoTrans : CblasTrans;
    const int ld = program.wide ? depth : n;
    if (op.symmetric) {
      cpu::syrk_lower(first, n, depth, T(1), x, ld, a, n);
      cpu::mirror_lower(a, k);
    } else {
      const CBLAS_TRANSPOSE second = program.wide ? CblasTrans : CblasNoTrans;
      cpu::gemm(first, second, n, n, depth, T(1), x, ld, x, ld, T(0), a, n);
    }
  }

  // D = diag(aol_row_scale(sum_j |A_ij|)) (vocabulary.hpp); X <- D X (wide)
  // or X D (tall); A <- D A D, the Gram matrix of the rescaled X.
  void aol_scale(T* a, T* x, std::vector<double>& d) const {
    aol_diagonal(a, k, d.data());
    const auto scale = [&](std::int64_t i) { return d[static_cast<std::size_t>(i)]; };
    if (program.wide) {
      for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < big; ++j) x[i * big + j] = static_cast<T>(x[i * big + j] * scale(i));
    } else {
      for (std::int64_t r = 0; r < big; ++r)
        for (std::int64_t i = 0; i < k; ++i) x[r * k + i] = static_cast<T>(x[r * k + i] * scale(i));
    }
    for (std::int64_t i = 0; i < k; ++i)
      for (std::int64_t j = 0; j < k; ++j) a[i * k + j] = static_cast<T>(a[i * k + j] * scale(i) * scale(j));
  }

  // dst = alpha lhs rhs + beta addend, k x k; by block rows of the lower
  // triangle, then mirrored, when the product is symmetric.
  void product(const Operation& op, Workspace<T>& w) const {
    T* dst = w[op.dst];
    const T* lhs = w[op.lhs];
    const T* rhs = w[op.rhs];
    const auto alpha = static_cast<T>(op.alpha);
    T beta = 0;
    if (op.addend != Buffer::kNone && op.beta != 0) {
      const T* addend = w[op.addend];
      std::copy(addend, addend + k * k, dst);
      beta = static_cast<T>(op.beta);
    }
    const int n = static_cast<int>(k);
    if (!op.symmetric) {
      cpu::gemm(CblasNoTrans, CblasNoTrans, n, n, n, alpha, lhs, n, rhs, n, beta, dst, n);
      return;
    }
    const std::int64_t block = symmetric_block_rows(k);
    for (std::int64_t r0 = 0; r0 < k; r0 += block) {
      const std::int64_t r1 = std::min(k, r0 + block);
      cpu::gemm(CblasNoTrans, CblasNoTrans, static_cast<int>(r1 - r0), static_cast<int>(r1), n, alpha, lhs + r0 * k, n,
                rhs, n, beta, dst + r0 * k, n);
    }
    cpu::mirror_lower(dst, k);
  }

  // dst = alpha lhs + beta I.
  void add_identity(T* dst, const T* lhs, T alpha, T beta) const {
    for (std::int64_t i = 0; i < k * k; ++i) dst[i] = alpha * lhs[i];
    for (std::int64_t i = 0; i < k; ++i) dst[i * k + i] += beta;
  }

  // dst = alpha lhs X + beta X (wide) or alpha X lhs + beta X (tall), as one
  // GEMM with H = alpha lhs + beta I (k x k, cheaper to form than the K x k
  // copy a beta epilogue would need).
  void apply(const Operation& op, Workspace<T>& w) const {
    const T* h = w[op.lhs];
    T alpha = static_cast<T>(op.alpha);
    if (op.addend != Buffer::kNone) {
      add_identity(w.scratch.data(), h, alpha, static_cast<T>(op.beta));
      h = w.scratch.data();
      alpha = T(1);
    }
    const T* x = w[op.rhs];
    T* dst = w[op.dst];
    const int n = static_cast<int>(k), depth = static_cast<int>(big);
    if (program.wide) cpu::gemm(CblasNoTrans, CblasNoTrans, n, depth, n, alpha, h, n, x, depth, T(0), dst, depth);
    else cpu::gemm(CblasNoTrans, CblasNoTrans, depth, n, n, alpha, x, n, h, n, T(0), dst, n);
  }

  // The output, or NaN and kDiverged for a result that is not finite or is
  // too large to be a polar-factor estimate (iterate_diverged).  <G, U> is
  // reduced before U is written: in place, `g` and `u` are the same memory.
  template <class Elements>
  void store(const typename Elements::Stored* g, typename Elements::Stored* u, const T* x, std::size_t index) {
    const std::int64_t size = k * big;
    double squares = 0;
    for (std::int64_t i = 0; i < size; ++i) {
      const double v = static_cast<double>(x[i]);
      squares += v * v;
    }
    if (iterate_diverged(squares, k)) {
      last.status[index] = MatrixStatus::kDiverged;
      if (!last.nuclear_norms.empty()) last.nuclear_norms[index] = kNaN;
      std::fill(u, u + size, Elements::write(static_cast<T>(kNaN)));
      return;
    }
    if (!last.nuclear_norms.empty()) {
      double inner = 0;
      for (std::int64_t i = 0; i < size; ++i) inner += Elements::read(g[i]) * static_cast<double>(x[i]);
      last.nuclear_norms[index] = inner;
    }
    for (std::int64_t i = 0; i < size; ++i) u[i] = Elements::write(x[i]);
    last.status[index] = MatrixStatus::kOk;
  }
};

template <class T>
CpuPlan<T>::CpuPlan(const BatchShape& shape, const Schedule& schedule, const PlanOptions& options)
    : impl_(std::make_unique<Impl>(shape, schedule, options)) {}
template <class T>
CpuPlan<T>::~CpuPlan() = default;
template <class T>
CpuPlan<T>::CpuPlan(CpuPlan&&) noexcept = default;
template <class T>
CpuPlan<T>& CpuPlan<T>::operator=(CpuPlan&&) noexcept = default;

template <class T>
bool CpuPlan<T>::execute(const T* input, T* output) {
  return impl_->execute(input, output, Storage::kNative);
}
template <class T>
bool CpuPlan<T>::execute_16bit(const std::uint16_t* input, std::uint16_t* output, ElementType element) {
  if (!std::is_same_v<T, float>) throw std::invalid_argument("16-bit elements run in float plans");
  if (element != ElementType::kF16 && element != ElementType::kBF16) {
    throw std::invalid_argument(std::string("execute of 16-bit elements takes f16 or bf16, not ") + to_string(element));
  }
  return impl_->execute(input, output, element == ElementType::kF16 ? Storage::kHalf : Storage::kBFloat16);
}
template <class T>
const Report& CpuPlan<T>::report() const {
  return impl_->last;
}
template <class T>
const Program& CpuPlan<T>::program() const {
  return impl_->program;
}
template <class T>
const Schedule& CpuPlan<T>::schedule() const {
  return impl_->schedule;
}
template <class T>
int CpuPlan<T>::workers() const {
  return static_cast<int>(impl_->workspaces.size());
}
template <class T>
int CpuPlan<T>::blas_threads() const {
  return impl_->threads.blas;
}

template class CpuPlan<float>;
template class CpuPlan<double>;
template BackendTraits cpu_traits<float>();
template BackendTraits cpu_traits<double>();

}  // namespace polar_express::runtime
