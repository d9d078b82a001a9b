#include "polar_express/runtime/cpu.hpp"

#include "polar_express/runtime/gram.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

namespace polar_express::runtime {
namespace {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMatrix<T>>;
template <class T>
using Map = Eigen::Map<RowMatrix<T>>;

// Symmetric products pay off once the triangular GEMM's bookkeeping is small
// next to the k^3 work (Eigen's blocking is 64-256 wide).
constexpr std::int64_t kSymmetricFromK = 256;

// One worker's buffers, sized once by the plan.
template <class T>
struct Workspace {
  RowMatrix<T> x, y;        // the iterate and the next one, rows x cols
  RowMatrix<T> a, p, next;  // the Gram matrix and the Horner accumulators, k x k
  RowMatrix<T> q, scratch;  // the Gram iteration's Q_t and a product buffer, k x k
};

// The polynomial part P = c1 A + ... of a step as `scale * *matrix` (no copy
// when it is c1 A).
template <class T>
struct Polynomial {
  const RowMatrix<T>* matrix;
  T scale;
};

// dst = alpha lhs rhs + beta addend for k x k operands whose product is
// symmetric in exact arithmetic (polynomials in one matrix): with `lower`,
// only the lower triangle is multiplied (Eigen's triangular GEMM, about half
// the work) and then mirrored, so the result is exactly symmetric.
template <class T>
void symmetric_product(RowMatrix<T>& dst, T alpha, const RowMatrix<T>& lhs, const RowMatrix<T>& rhs, T beta,
                       const RowMatrix<T>& addend, bool lower) {
  if (!lower) {
    dst.noalias() = (alpha * lhs) * rhs;
    dst += beta * addend;
    return;
  }
  dst.template triangularView<Eigen::Lower>() = (alpha * lhs) * rhs;
  dst.template triangularView<Eigen::Lower>() += beta * addend;
  for (Eigen::Index i = 0; i < dst.rows(); ++i)
    for (Eigen::Index j = i + 1; j < dst.cols(); ++j) dst(i, j) = dst(j, i);
}

}  // namespace

template <class T>
struct CpuPlan<T>::Impl {
  BatchShape shape;
  Schedule schedule;
  PlanOptions options;
  int steps = 0;
  bool wide = true;  // rows <= cols: A = X X^T, else A = X^T X
  ProductPlan products;
  std::vector<char> restart_before;  // per step: the Gram iteration restarts there
  std::vector<Workspace<T>> workspaces;
  std::vector<MatrixStatus> status;
  std::vector<double> nuclear;
  bool all_ok = false;

  // The job of the current execute, read by the workers.
  const T* input = nullptr;
  T* output = nullptr;
  std::atomic<std::int64_t> next_matrix{0};

  // A fixed pool so that execute neither creates threads nor allocates: the
  // caller's thread is worker 0, the pool threads are workers 1..n-1.
  std::vector<std::thread> pool;
  std::mutex mutex;
  std::condition_variable start, done;
  std::uint64_t generation = 0;
  int running = 0;
  bool stopping = false;
  std::exception_ptr failure;

  Impl(const BatchShape& s, Schedule sched, const PlanOptions& o)
      : shape(s), schedule(std::move(sched)), options(o) {
    validate(shape);
    validate(schedule);
    if (options.steps < 0) throw std::invalid_argument("steps " + std::to_string(options.steps) + " is negative");
    if (options.threads < 0) throw std::invalid_argument("threads " + std::to_string(options.threads) + " is negative");
    steps = options.steps == 0 ? static_cast<int>(schedule.steps.size()) : options.steps;
    wide = shape.rows <= shape.cols;
    products = plan_products(shape, schedule, steps, options, std::numeric_limits<T>::digits, kSymmetricFromK);
    restart_before.assign(static_cast<std::size_t>(steps), 0);
    for (int t : products.restarts) restart_before[static_cast<std::size_t>(t)] = 1;
    const auto k = static_cast<Eigen::Index>(std::min(shape.rows, shape.cols));
    const auto rows = static_cast<Eigen::Index>(shape.rows);
    const auto cols = static_cast<Eigen::Index>(shape.cols);

    const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int wanted = options.threads == 0 ? hardware : options.threads;
    const int workers = static_cast<int>(std::min<std::int64_t>(wanted, shape.batch));
    workspaces.resize(static_cast<std::size_t>(workers));
    for (Workspace<T>& w : workspaces) {
      w.x.resize(rows, cols);
      w.y.resize(rows, cols);
      w.a.resize(k, k);
      w.p.resize(k, k);
      w.next.resize(k, k);
      if (products.gram) {
        w.q.resize(k, k);
        w.scratch.resize(k, k);
      }
    }
    status.assign(static_cast<std::size_t>(shape.batch), MatrixStatus::kOk);
    if (options.nuclear_norm) nuclear.assign(static_cast<std::size_t>(shape.batch), 0.0);
    for (int id = 1; id < workers; ++id) pool.emplace_back([this, id] { worker_loop(id); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    start.notify_all();
    for (std::thread& t : pool) t.join();
  }

  void worker_loop(int id) {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex);
      start.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping) return;
      seen = generation;
      lock.unlock();
      drain(id);
      lock.lock();
      if (--running == 0) done.notify_one();
    }
  }

  // Takes matrices off the shared counter until the batch is done.
  void drain(int id) {
    try {
      Workspace<T>& w = workspaces[static_cast<std::size_t>(id)];
      for (std::int64_t b = next_matrix.fetch_add(1); b < shape.batch; b = next_matrix.fetch_add(1)) {
        process(b, w);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = std::current_exception();
    }
  }

  bool execute(const T* in, T* out) {
    if (in == nullptr || out == nullptr) throw std::invalid_argument("execute: null input or output pointer");
    input = in;
    output = out;
    next_matrix.store(0);
    {
      std::lock_guard<std::mutex> lock(mutex);
      failure = nullptr;
      running = static_cast<int>(pool.size());
      ++generation;
    }
    start.notify_all();
    drain(0);
    {
      std::unique_lock<std::mutex> lock(mutex);
      done.wait(lock, [&] { return running == 0; });
      if (failure) std::rethrow_exception(failure);
    }
    all_ok = std::all_of(status.begin(), status.end(), succeeded);
    return all_ok;
  }

  void process(std::int64_t b, Workspace<T>& w) {
    const auto index = static_cast<std::size_t>(b);
    const auto rows = static_cast<Eigen::Index>(shape.rows);
    const auto cols = static_cast<Eigen::Index>(shape.cols);
    ConstMap<T> g(input + b * shape.input_step(), rows, cols);
    Map<T> u(output + b * shape.output_step(), rows, cols);
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

    // Scan in double: the largest magnitude and whether everything is finite.
    double largest = 0;
    bool finite = true;
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < cols; ++j) {
        const double v = std::abs(static_cast<double>(g(i, j)));
        if (!std::isfinite(v)) finite = false;
        else largest = std::max(largest, v);
      }
    }
    if (!finite) {
      u.setConstant(static_cast<T>(kNaN));
      status[index] = MatrixStatus::kNonFinite;
      if (options.nuclear_norm) nuclear[index] = kNaN;
      return;
    }
    if (largest == 0) {
      u.setZero();
      status[index] = MatrixStatus::kZero;
      if (options.nuclear_norm) nuclear[index] = 0;
      return;
    }
    // ||G||_F = largest * sqrt(sum (g / largest)^2) with the sum >= 1, so the
    // ratio below is at most 1 / factor and never overflows; it only
    // underflows when eps dwarfs a norm near the smallest double, where the
    // exact result is below the smallest double as well.
    double sum = 0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < cols; ++j) {
        const double s = static_cast<double>(g(i, j)) / largest;
        sum += s * s;
      }
    }
    const Normalization& n = schedule.normalization;
    const double ratio = 1.0 / (n.factor * std::sqrt(sum) + n.eps / largest);
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < cols; ++j) {
        w.x(i, j) = static_cast<T>(static_cast<double>(g(i, j)) / largest * ratio);
      }
    }

    if (products.gram) run_gram(w);
    else
      for (int t = 0; t < steps; ++t) apply_step(schedule.step(t), w);

    if (!w.x.allFinite()) {
      u.setConstant(static_cast<T>(kNaN));
      status[index] = MatrixStatus::kDiverged;
      if (options.nuclear_norm) nuclear[index] = kNaN;
      return;
    }
    // <G, U> before U is written: in place, `g` and `u` are the same memory.
    if (options.nuclear_norm) nuclear[index] = g.template cast<double>().cwiseProduct(w.x.template cast<double>()).sum();
    u = w.x;
    status[index] = MatrixStatus::kOk;
  }

  // A = X X^T (wide) or X^T X (tall); by lower triangle (SYRK) when symmetric.
  void gram_matrix(const RowMatrix<T>& x, RowMatrix<T>& a) const {
    if (!products.symmetric) {
      if (wide) a.noalias() = x * x.transpose();
      else a.noalias() = x.transpose() * x;
      return;
    }
    a.setZero();
    if (wide) a.template selfadjointView<Eigen::Lower>().rankUpdate(x);
    else a.template selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      for (Eigen::Index j = i + 1; j < a.cols(); ++j) a(i, j) = a(j, i);
  }

  // P = c1 A + ... + c_{q-1} A^{q-1} from w.a by Horner, one GEMM per
  // coefficient past c1, each of the shape D = alpha A P + beta A the CUDA
  // backend fuses.
  Polynomial<T> horner(const Step& step, Workspace<T>& w) const {
    const std::vector<double>& c = step.coefficients;
    const std::size_t q = c.size();
    const RowMatrix<T>* poly = &w.a;
    T alpha = static_cast<T>(c[q - 1]);
    for (std::size_t j = q - 1; j-- > 1;) {
      symmetric_product(w.next, alpha, w.a, *poly, static_cast<T>(c[j]), w.a, products.symmetric);
      w.p.swap(w.next);
      poly = &w.p;
      alpha = T(1);
    }
    return {poly, alpha};
  }

  // X <- c0 X + P X (wide) or c0 X + X P (tall).
  void apply_step(const Step& step, Workspace<T>& w) const {
    gram_matrix(w.x, w.a);
    const Polynomial<T> p = horner(step, w);
    w.y = static_cast<T>(step.coefficients[0]) * w.x;
    if (wide) w.y.noalias() += p.scale * (*p.matrix * w.x);
    else w.y.noalias() += p.scale * (w.x * *p.matrix);
    w.x.swap(w.y);
  }

  // The Gram iteration (gram.hpp): per segment, A = X0 X0^T, then for each
  // step H = c0 I + P(A), Q <- H Q (Q = H on the segment's first step) and,
  // unless the segment ends, A <- H A H; at its end X0 <- Q X0 (X0 Q tall).
  void run_gram(Workspace<T>& w) const {
    for (int t = 0; t < steps; ++t) {
      const bool first = t == 0 || restart_before[static_cast<std::size_t>(t)];
      const bool last = t + 1 == steps || restart_before[static_cast<std::size_t>(t + 1)];
      const Step& step = schedule.step(t);
      const T c0 = static_cast<T>(step.coefficients[0]);
      if (first) gram_matrix(w.x, w.a);
      const Polynomial<T> p = horner(step, w);
      if (first) {
        w.q = p.scale * *p.matrix;
        w.q.diagonal().array() += c0;
      } else {
        symmetric_product(w.scratch, p.scale, *p.matrix, w.q, c0, w.q, products.symmetric);
        w.q.swap(w.scratch);
      }
      if (!last) {
        // A H = c0 A + P A into `next` (free after Horner), then H (A H).
        symmetric_product(w.next, p.scale, *p.matrix, w.a, c0, w.a, products.symmetric);
        symmetric_product(w.scratch, p.scale, *p.matrix, w.next, c0, w.next, products.symmetric);
        w.a.swap(w.scratch);
      } else {
        if (wide) w.y.noalias() = w.q * w.x;
        else w.y.noalias() = w.x * w.q;
        w.x.swap(w.y);
      }
    }
  }
};

template <class T>
CpuPlan<T>::CpuPlan(const BatchShape& shape, Schedule schedule, const PlanOptions& options)
    : impl_(std::make_unique<Impl>(shape, std::move(schedule), options)) {}
template <class T>
CpuPlan<T>::~CpuPlan() = default;
template <class T>
CpuPlan<T>::CpuPlan(CpuPlan&&) noexcept = default;
template <class T>
CpuPlan<T>& CpuPlan<T>::operator=(CpuPlan&&) noexcept = default;

template <class T>
bool CpuPlan<T>::execute(const T* input, T* output) {
  return impl_->execute(input, output);
}
template <class T>
const std::vector<MatrixStatus>& CpuPlan<T>::status() const {
  return impl_->status;
}
template <class T>
const std::vector<double>& CpuPlan<T>::nuclear_norms() const {
  return impl_->nuclear;
}
template <class T>
bool CpuPlan<T>::all_succeeded() const {
  return impl_->all_ok;
}
template <class T>
std::optional<double> CpuPlan<T>::sigma_error_bound() const {
  const auto& status = impl_->status;
  const bool all_ok = std::all_of(status.begin(), status.end(), [](MatrixStatus s) { return s == MatrixStatus::kOk; });
  if (!all_ok) return std::nullopt;
  return impl_->options.certified_error;
}
template <class T>
const BatchShape& CpuPlan<T>::shape() const {
  return impl_->shape;
}
template <class T>
const Schedule& CpuPlan<T>::schedule() const {
  return impl_->schedule;
}
template <class T>
int CpuPlan<T>::steps() const {
  return impl_->steps;
}
template <class T>
int CpuPlan<T>::threads() const {
  return static_cast<int>(impl_->workspaces.size());
}

template <class T>
const ProductPlan& CpuPlan<T>::products() const {
  return impl_->products;
}

template class CpuPlan<float>;
template class CpuPlan<double>;

}  // namespace polar_express::runtime
