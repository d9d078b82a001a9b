// The CUDA plan: workspace, cuBLASLt descriptors chosen once, and the
// enqueue-only execute.
#include "generic_kernels.hpp"

#include "polar_express/runtime/cuda/device.cuh"
#include "polar_express/runtime/cuda/plan.hpp"

#include <cublasLt.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

namespace polar_express::cuda {
namespace {

void check_lt(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw CudaError(std::string(what) + " failed: " + cublasLtGetStatusName(status) + " (" +
                    cublasLtGetStatusString(status) + ")");
  }
}

// cuBLASLt's suggested workspace for Hopper; shared by the plan's GEMMs,
// which run one after another on the plan's stream.
constexpr std::size_t kLtWorkspaceBytes = std::size_t{32} << 20;

struct HandleDeleter {
  void operator()(cublasLtHandle_t h) const { cublasLtDestroy(h); }
};
struct DescDeleter {
  void operator()(cublasLtMatmulDesc_t d) const { cublasLtMatmulDescDestroy(d); }
};
struct LayoutDeleter {
  void operator()(cublasLtMatrixLayout_t l) const { cublasLtMatrixLayoutDestroy(l); }
};
struct PreferenceDeleter {
  void operator()(cublasLtMatmulPreference_t p) const { cublasLtMatmulPreferenceDestroy(p); }
};
using Handle = std::unique_ptr<cublasLtContext, HandleDeleter>;
using Desc = std::unique_ptr<cublasLtMatmulDescOpaque_t, DescDeleter>;
using Layout = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, LayoutDeleter>;
using Preference = std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, PreferenceDeleter>;

cudaDataType_t data_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
  }
  throw std::invalid_argument("unknown dtype");
}

// A column-major rows x cols matrix with leading dimension ld, `batch` of
// them `stride` elements apart.
Layout make_layout(cudaDataType_t type, std::int64_t rows, std::int64_t cols, std::int64_t ld, int batch,
                   std::int64_t stride) {
  cublasLtMatrixLayout_t raw = nullptr;
  check_lt(cublasLtMatrixLayoutCreate(&raw, type, static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols),
                                      ld),
           "cublasLtMatrixLayoutCreate");
  Layout layout(raw);
  check_lt(cublasLtMatrixLayoutSetAttribute(raw, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch),
           "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)");
  check_lt(cublasLtMatrixLayoutSetAttribute(raw, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
           "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
  return layout;
}

// D = alpha op(A) op(B) + beta C with C and D of one layout, accumulated and
// scaled in fp32, and the algorithm cuBLASLt's heuristic picks for it.
struct Gemm {
  Desc desc;
  Layout a, b, cd;
  cublasLtMatmulAlgo_t algo{};

  Gemm(cublasLtHandle_t handle, cublasLtMatmulPreference_t preference, cublasOperation_t trans_a,
       cublasOperation_t trans_b, Layout layout_a, Layout layout_b, Layout layout_cd, const char* name)
      : a(std::move(layout_a)), b(std::move(layout_b)), cd(std::move(layout_cd)) {
    cublasLtMatmulDesc_t raw = nullptr;
    check_lt(cublasLtMatmulDescCreate(&raw, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    desc.reset(raw);
    check_lt(cublasLtMatmulDescSetAttribute(raw, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
             "cublasLtMatmulDescSetAttribute(TRANSA)");
    check_lt(cublasLtMatmulDescSetAttribute(raw, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
             "cublasLtMatmulDescSetAttribute(TRANSB)");
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    check_lt(cublasLtMatmulAlgoGetHeuristic(handle, raw, a.get(), b.get(), cd.get(), cd.get(), preference, 1, &result,
                                            &found),
             "cublasLtMatmulAlgoGetHeuristic");
    if (found == 0) throw CudaError(std::string("cuBLASLt has no algorithm for the ") + name + " GEMM of this shape");
    algo = result.algo;
  }

  void run(cublasLtHandle_t handle, float alpha, const void* pa, const void* pb, float beta, const void* pc, void* pd,
           void* workspace, cudaStream_t stream, const char* what) const {
    check_lt(cublasLtMatmul(handle, desc.get(), &alpha, pa, a.get(), pb, b.get(), &beta, pc, cd.get(), pd, cd.get(),
                            &algo, workspace, kLtWorkspaceBytes, stream),
             what);
  }
};

}  // namespace

struct Plan::Impl {
  runtime::BatchShape shape;
  DType dtype;
  runtime::Schedule schedule;
  runtime::PlanOptions options;
  int steps = 0;
  std::shared_ptr<const ScheduleKernels> kernels;  // set when the fused kernel runs
  DeviceBuffer stats;

  // The generic path.
  std::int64_t k = 0;  // min(rows, cols): the Gram matrices are k x k
  DeviceBuffer x[2], gram, poly[2], workspace;
  Handle handle;
  std::unique_ptr<Gemm> gram_gemm, poly_gemm, update_gemm;

  Impl(const runtime::BatchShape& s, DType d, runtime::Schedule sched, const runtime::PlanOptions& o)
      : shape(s), dtype(d), schedule(std::move(sched)), options(o) {
    runtime::validate(shape);
    runtime::validate(schedule);
    if (shape.batch > INT_MAX || shape.rows > INT_MAX || shape.cols > INT_MAX) {
      throw std::invalid_argument("CUDA plan: batch, rows and cols must each fit an int");
    }
    if (options.steps < 0) throw std::invalid_argument("steps " + std::to_string(options.steps) + " is negative");
    steps = options.steps == 0 ? static_cast<int>(schedule.steps.size()) : options.steps;
    if (device_count() == 0) throw CudaError("no CUDA device is available");
    stats = DeviceBuffer(static_cast<std::size_t>(shape.batch) * sizeof(MatrixStats));
  }

  void build_generic() {
    const std::int64_t m = shape.rows, n = shape.cols;
    const int batch = static_cast<int>(shape.batch);
    k = std::min(m, n);
    const std::size_t elem = element_size(dtype);
    for (DeviceBuffer& b : x) b = DeviceBuffer(static_cast<std::size_t>(shape.batch * m * n) * elem);
    gram = DeviceBuffer(static_cast<std::size_t>(shape.batch * k * k) * elem);
    // Horner needs the ping-pong pair only from degree 5 up.
    const bool horner = std::any_of(schedule.steps.begin(), schedule.steps.end(),
                                    [](const runtime::Step& st) { return st.coefficients.size() > 2; });
    if (horner) {
      for (DeviceBuffer& b : poly) b = DeviceBuffer(static_cast<std::size_t>(shape.batch * k * k) * elem);
    }
    workspace = DeviceBuffer(kLtWorkspaceBytes);

    cublasLtHandle_t raw = nullptr;
    check_lt(cublasLtCreate(&raw), "cublasLtCreate");
    handle.reset(raw);
    cublasLtMatmulPreference_t pref_raw = nullptr;
    check_lt(cublasLtMatmulPreferenceCreate(&pref_raw), "cublasLtMatmulPreferenceCreate");
    Preference preference(pref_raw);
    const std::uint64_t ws = kLtWorkspaceBytes;
    check_lt(cublasLtMatmulPreferenceSetAttribute(pref_raw, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
             "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");

    // Row-major X (m x n) is column-major Xc = X^T (n x m, ld n): no copy.
    const cudaDataType_t type = data_type(dtype);
    auto xc = [&] { return make_layout(type, n, m, n, batch, m * n); };
    auto square = [&] { return make_layout(type, k, k, k, batch, k * k); };
    const bool wide = m <= n;
    // Wide: A = X X^T = Xc^T Xc and Xc' = Xc P^T + c0 Xc (X' = P X + c0 X).
    // Tall: A = X^T X = Xc Xc^T and Xc' = P^T Xc + c0 Xc (X' = X P + c0 X).
    gram_gemm = std::make_unique<Gemm>(handle.get(), pref_raw, wide ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       wide ? CUBLAS_OP_N : CUBLAS_OP_T, xc(), xc(), square(), "Gram");
    if (horner) {
      poly_gemm = std::make_unique<Gemm>(handle.get(), pref_raw, CUBLAS_OP_N, CUBLAS_OP_N, square(), square(),
                                         square(), "polynomial");
    }
    if (wide) {
      update_gemm = std::make_unique<Gemm>(handle.get(), pref_raw, CUBLAS_OP_N, CUBLAS_OP_T, xc(), square(), xc(),
                                           "update");
    } else {
      update_gemm = std::make_unique<Gemm>(handle.get(), pref_raw, CUBLAS_OP_T, CUBLAS_OP_N, square(), xc(), xc(),
                                           "update");
    }
  }

  void execute(const void* input, void* output, cudaStream_t stream) {
    if (input == nullptr || output == nullptr) throw std::invalid_argument("execute: null input or output pointer");
    if (input == output && shape.input_step() != shape.output_step()) {
      throw std::invalid_argument("execute in place needs equal input and output strides");
    }
    MatrixStats* st = static_cast<MatrixStats*>(stats.data());
    check_cuda(cudaMemsetAsync(st, 0, stats.bytes(), stream), "cudaMemsetAsync (statistics)");
    if (kernels) {
      FusedArguments args;
      args.input = input;
      args.output = output;
      args.dtype = dtype;
      args.batch = static_cast<int>(shape.batch);
      args.rows = static_cast<int>(shape.rows);
      args.cols = static_cast<int>(shape.cols);
      args.input_stride = shape.input_step();
      args.output_stride = shape.output_step();
      args.steps = steps;
      args.nuclear_norm = options.nuclear_norm;
      args.stats = st;
      kernels->launch_fused(args, stream);
      return;
    }
    const std::int64_t size = shape.matrix_size();
    const int batch = static_cast<int>(shape.batch);
    detail::launch_input_scan(dtype, input, shape.input_step(), size, batch, st, stream);
    detail::launch_normalise(dtype, input, shape.input_step(), size, batch, st, schedule.normalization.factor,
                             schedule.normalization.eps, x[0].data(), stream);
    int current = 0;
    for (int t = 0; t < steps; ++t) {
      const std::vector<double>& c = schedule.step(t).coefficients;
      const std::size_t q = c.size();
      void* xs = x[current].data();
      gram_gemm->run(handle.get(), 1.0f, xs, xs, 0.0f, gram.data(), gram.data(), workspace.data(), stream,
                     "cublasLtMatmul (Gram)");
      // P = c1 A + ... + c_{q-1} A^{q-1} by Horner: next = alpha A P + c_j A,
      // the sum fused into the GEMM through beta with C = A.
      const void* p = gram.data();
      float alpha = static_cast<float>(c[q - 1]);
      int slot = 0;
      for (std::size_t j = q - 1; j-- > 1;) {
        poly_gemm->run(handle.get(), alpha, gram.data(), p, static_cast<float>(c[j]), gram.data(), poly[slot].data(),
                       workspace.data(), stream, "cublasLtMatmul (polynomial)");
        p = poly[slot].data();
        slot ^= 1;
        alpha = 1.0f;
      }
      void* next = x[current ^ 1].data();
      const bool wide = shape.rows <= shape.cols;
      // X' = alpha P X + c0 X, the c0 X term through beta with C = X.
      gemm_update(wide, alpha, p, xs, static_cast<float>(c[0]), next, stream);
      current ^= 1;
    }
    detail::launch_finish(dtype, x[current].data(), input, shape.input_step(), output, shape.output_step(), size, batch,
                          st, options.nuclear_norm, stream);
  }

  void gemm_update(bool wide, float alpha, const void* p, const void* xs, float c0, void* next,
                   cudaStream_t stream) const {
    if (wide) {
      update_gemm->run(handle.get(), alpha, xs, p, c0, xs, next, workspace.data(), stream, "cublasLtMatmul (update)");
    } else {
      update_gemm->run(handle.get(), alpha, p, xs, c0, xs, next, workspace.data(), stream, "cublasLtMatmul (update)");
    }
  }

  Report report(cudaStream_t stream) const {
    synchronize(stream);
    std::vector<MatrixStats> host(static_cast<std::size_t>(shape.batch));
    check_cuda(cudaMemcpy(host.data(), stats.data(), stats.bytes(), cudaMemcpyDeviceToHost),
               "cudaMemcpy (statistics)");
    Report r;
    r.all_succeeded = true;
    bool all_ok = true;
    for (const MatrixStats& s : host) {
      const runtime::MatrixStatus status = status_of(s);
      r.status.push_back(status);
      r.all_succeeded = r.all_succeeded && runtime::succeeded(status);
      all_ok = all_ok && status == runtime::MatrixStatus::kOk;
      if (options.nuclear_norm) {
        r.nuclear_norms.push_back(runtime::succeeded(status) ? s.nuclear : std::numeric_limits<double>::quiet_NaN());
      }
    }
    if (all_ok) r.sigma_error_bound = options.certified_error;
    return r;
  }
};

Plan::Plan(const runtime::BatchShape& shape, DType dtype, runtime::Schedule schedule,
           const runtime::PlanOptions& options)
    : impl_(std::make_unique<Impl>(shape, dtype, std::move(schedule), options)) {
  impl_->build_generic();
}

Plan::Plan(const runtime::BatchShape& shape, DType dtype, std::shared_ptr<const ScheduleKernels> kernels,
           const runtime::PlanOptions& options) {
  if (!kernels) throw std::invalid_argument("CUDA plan: null kernel set");
  impl_ = std::make_unique<Impl>(shape, dtype, kernels->schedule(), options);
  if (shape.rows <= INT_MAX && shape.cols <= INT_MAX &&
      kernels->prepare_fused(static_cast<int>(shape.rows), static_cast<int>(shape.cols), dtype)) {
    impl_->kernels = std::move(kernels);
  } else {
    impl_->build_generic();
  }
}

Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

void Plan::execute(const void* input, void* output, cudaStream_t stream) { impl_->execute(input, output, stream); }
Report Plan::report(cudaStream_t stream) const { return impl_->report(stream); }
bool Plan::uses_fused_kernel() const { return impl_->kernels != nullptr; }
const runtime::BatchShape& Plan::shape() const { return impl_->shape; }
DType Plan::dtype() const { return impl_->dtype; }
const runtime::Schedule& Plan::schedule() const { return impl_->schedule; }
int Plan::steps() const { return impl_->steps; }

}  // namespace polar_express::cuda
