// The CUDA plan: workspace, cuBLASLt descriptors chosen once, and the
// enqueue-only execute.
#include "generic_kernels.hpp"

#include "polar_express/runtime/cuda/detail/device.cuh"
#include "polar_express/runtime/cuda/plan.hpp"
#include "polar_express/runtime/program.hpp"

#include <cublasLt.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

namespace polar_express::runtime::cuda {
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

cudaDataType_t data_type(ElementType dtype) {
  switch (dtype) {
    case ElementType::kF32: return CUDA_R_32F;
    case ElementType::kF16: return CUDA_R_16F;
    case ElementType::kBF16: return CUDA_R_16BF;
    case ElementType::kF64: break;
  }
  require_device_element(dtype);
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

// The byte alignment of the pointers a GEMM runs with.  cuBLASLt's heuristic
// assumes 256 unless told, and may pick an algorithm that fails or reads
// misaligned on a pointer aligned less.
struct Alignment {
  std::uint32_t a = 256, b = 256, cd = 256;
};

// The alignment, up to 256, of a pointer `offset_bytes` past a cudaMalloc'd
// (256-byte aligned) base.
std::uint32_t alignment_at(std::int64_t offset_bytes) {
  std::uint32_t alignment = 256;
  while (offset_bytes % alignment != 0) alignment /= 2;
  return alignment;
}

// D = alpha op(A) op(B) + beta C with C and D of one layout, accumulated and
// scaled in fp32, and the algorithm cuBLASLt's heuristic picks for it with
// pointers of the given alignment.
struct Gemm {
  Desc desc;
  Layout a, b, cd;
  cublasLtMatmulAlgo_t algo{};

  // `preference` is shared by the plan's GEMMs: each sets the alignments it
  // runs with before its own query.
  Gemm(cublasLtHandle_t handle, cublasLtMatmulPreference_t preference, cublasOperation_t trans_a,
       cublasOperation_t trans_b, Layout layout_a, Layout layout_b, Layout layout_cd, const char* name,
       cublasComputeType_t compute = CUBLAS_COMPUTE_32F, Alignment alignment = {})
      : a(std::move(layout_a)), b(std::move(layout_b)), cd(std::move(layout_cd)) {
    cublasLtMatmulDesc_t raw = nullptr;
    check_lt(cublasLtMatmulDescCreate(&raw, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
    desc.reset(raw);
    check_lt(cublasLtMatmulDescSetAttribute(raw, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
             "cublasLtMatmulDescSetAttribute(TRANSA)");
    check_lt(cublasLtMatmulDescSetAttribute(raw, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
             "cublasLtMatmulDescSetAttribute(TRANSB)");
    const std::pair<cublasLtMatmulPreferenceAttributes_t, std::uint32_t> alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment.a},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment.b},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment.cd},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment.cd}};
    for (const auto& [attribute, bytes] : alignments) {
      check_lt(cublasLtMatmulPreferenceSetAttribute(preference, attribute, &bytes, sizeof bytes),
               "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
    }
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

// A column-major matrix as stored: rows x cols, leading dimension ld, and
// `stride` elements between the matrices of the batch.
struct Operand {
  cudaDataType_t type;
  std::int64_t rows, cols, ld, stride;
};

std::size_t type_bytes(cudaDataType_t type) { return type == CUDA_R_32F ? 4 : 2; }

// D = alpha op(A) op(B) + beta C for a k x k column-major D that is symmetric
// in exact arithmetic (X X^T, polynomials in one matrix).  Either one GEMM,
// or, `symmetric`, the lower block triangle only: D is cut into T block rows
// [r0, r1), and block row i computes D[r0:r1, 0:r1] = op(A)[r0:r1, :] op(B)[:, 0:r1]
// with one GEMM (about (T + 1) / 2T of the work), then the upper triangle is
// mirrored from the lower one, which also makes D exactly symmetric.
class Product {
 public:
  Product(cublasLtHandle_t handle, cublasLtMatmulPreference_t preference, cublasOperation_t op_a,
          cublasOperation_t op_b, const Operand& a, const Operand& b, cudaDataType_t cd_type, std::int64_t k,
          int batch, bool symmetric, cublasComputeType_t compute, const char* name)
      : ab_bytes_(type_bytes(a.type)), cd_bytes_(type_bytes(cd_type)), k_(k), batch_(batch), symmetric_(symmetric) {
    const std::int64_t inner = op_a == CUBLAS_OP_N ? a.cols : a.rows;
    auto layout = [&](const Operand& o, std::int64_t rows, std::int64_t cols) {
      return make_layout(o.type, rows, cols, o.ld, batch, o.stride);
    };
    const Operand d{cd_type, k, k, k, k * k};
    if (!symmetric) {
      blocks_.push_back({std::make_unique<Gemm>(handle, preference, op_a, op_b, layout(a, a.rows, a.cols),
                                                layout(b, b.rows, b.cols), layout(d, k, k), name, compute),
                         0, 0});
      return;
    }
    // Block rows of ~k / T, T = 2..8 by size, on 64-element boundaries so
    // that tiles line up; the first rows' GEMMs are small, so T stays low.
    const std::int64_t parts = std::clamp<std::int64_t>(k / 512, 2, 8);
    const std::int64_t step = std::max<std::int64_t>(64, (k + parts * 64 - 1) / (parts * 64) * 64);
    for (std::int64_t r0 = 0; r0 < k; r0 += step) {
      const std::int64_t r1 = std::min(k, r0 + step), h = r1 - r0;
      // op(A)[r0:r1, :]: rows r0.. of A (N), or columns r0.. of A (T).
      Layout la = op_a == CUBLAS_OP_N ? layout(a, h, inner) : layout(a, inner, h);
      const std::int64_t a_offset = op_a == CUBLAS_OP_N ? r0 : r0 * a.ld;
      // op(B)[:, 0:r1]: the first r1 columns of B (N) or rows of B (T).
      Layout lb = op_b == CUBLAS_OP_N ? layout(b, inner, r1) : layout(b, r1, inner);
      // A and C/D start past their bases (for 16-bit elements, r0 = 64
      // is 128 bytes in); B starts at its base.
      const Alignment alignment{alignment_at(a_offset * static_cast<std::int64_t>(ab_bytes_)), 256,
                                alignment_at(r0 * static_cast<std::int64_t>(cd_bytes_))};
      blocks_.push_back({std::make_unique<Gemm>(handle, preference, op_a, op_b, std::move(la), std::move(lb),
                                                make_layout(cd_type, h, r1, k, batch, k * k), name, compute,
                                                alignment),
                         a_offset, r0});
    }
  }

  // C may equal D (each block reads C only where it writes D).
  void run(cublasLtHandle_t handle, float alpha, const void* pa, const void* pb, float beta, const void* pc, void* pd,
           void* workspace, cudaStream_t stream, const char* what) const {
    for (const Block& block : blocks_) {
      const char* a = static_cast<const char*>(pa) + block.a_offset * static_cast<std::int64_t>(ab_bytes_);
      const std::int64_t d_offset = block.d_offset * static_cast<std::int64_t>(cd_bytes_);
      block.gemm->run(handle, alpha, a, pb, beta, static_cast<const char*>(pc) + d_offset,
                      static_cast<char*>(pd) + d_offset, workspace, stream, what);
    }
    if (symmetric_) detail::launch_mirror_lower(pd, cd_bytes_, k_, batch_, stream);
  }

 private:
  struct Block {
    std::unique_ptr<Gemm> gemm;
    std::int64_t a_offset, d_offset;  // elements
  };
  std::vector<Block> blocks_;
  std::size_t ab_bytes_, cd_bytes_;
  std::int64_t k_;
  int batch_;
  bool symmetric_;
};

}  // namespace

runtime::BackendTraits traits(ElementType dtype) { return runtime::cuda_traits(dtype); }

struct Plan::Impl {
  ElementType dtype;
  runtime::Schedule schedule;
  runtime::PlanOptions options;
  runtime::Program program;
  std::shared_ptr<const ScheduleKernels> kernels;  // set when a fused kernel runs
  FusedKernel fused = FusedKernel::kNone;
  FusedArguments launch;          // the fused kernel's launch but for the data of an execute
  DeviceBuffer fused_workspace;   // kGramTensorCore with restarts: the fp16 iterate
  DeviceBuffer stats;

  // The generic path: the program's buffers, the k x k ones in fp32 for the
  // Gram form (R squares the condition number; TF32 tensor cores for 16-bit
  // elements keep more bits than the elements do), else in the element type.
  std::int64_t k = 0, big = 0;
  bool side_f32 = false;
  DeviceBuffer buffers[runtime::kBufferCount];
  DeviceBuffer narrow;    // an fp32 k x k matrix rounded to the element type for an apply
  DeviceBuffer diagonal;  // AOL's D, batch x k floats
  DeviceBuffer partials;  // per-block partial sums (generic_kernels.hpp)
  DeviceBuffer workspace;
  Handle handle;
  std::unique_ptr<Product> gram_gemm, square_gemm;
  std::unique_ptr<Gemm> apply_gemm;

  Impl(const runtime::BatchShape& shape, ElementType d, runtime::Schedule sched, const runtime::PlanOptions& o)
      : dtype((require_device_element(d), d)),
        schedule(std::move(sched)),
        options(o),
        program(runtime::compile_program(shape, schedule, options, traits(dtype))) {
    if (shape.batch > INT_MAX || shape.rows > INT_MAX || shape.cols > INT_MAX) {
      throw std::invalid_argument("CUDA plan: batch, rows and cols must each fit an int");
    }
    if (device_count() == 0) throw CudaError("no CUDA device is available");
    k = program.short_side();
    big = program.long_side();
    stats = DeviceBuffer(static_cast<std::size_t>(shape.batch) * sizeof(MatrixStats));
  }

  const runtime::BatchShape& shape() const { return program.shape; }

  // Takes the kernel set's fused kernel when it has one for this shape (the
  // fused kernels normalise by the Frobenius norm only).  The plan's program
  // is then the one that kernel runs (fused_program), and the launch takes
  // its form, steps and restarts from it (fused_launch).
  bool choose_fused(std::shared_ptr<const ScheduleKernels> set) {
    if (program.normalization.kind != runtime::NormalizationKind::kFrobenius) return false;
    std::optional<runtime::Program> gram;
    if (options.gram != runtime::ProductMode::kOff) {
      gram = fused_program(shape(), schedule, options, FusedKernel::kGramTensorCore);
      const std::vector<int>& restarts = gram->products.restarts;
      if (!restarts.empty() && restarts.back() >= kFusedRestartLimit) gram.reset();
    }
    fused = set->prepare_fused(static_cast<int>(shape().rows), static_cast<int>(shape().cols), dtype, gram.has_value());
    if (fused == FusedKernel::kNone) return false;
    kernels = std::move(set);
    program = fused == FusedKernel::kGramTensorCore ? std::move(*gram)
                                                    : fused_program(shape(), schedule, options, FusedKernel::kSimt);
    launch = fused_launch(program);
    launch.dtype = dtype;
    launch.nuclear_norm = options.nuclear_norm;
    if (launch.restarts != 0) {
      fused_workspace = DeviceBuffer(static_cast<std::size_t>(shape().batch * shape().matrix_size()) * 2);
      launch.workspace = fused_workspace.data();
    }
    return true;
  }

  void* buffer(runtime::Buffer b) const { return buffers[static_cast<int>(b)].data(); }

  void build_generic() {
    const std::int64_t m = shape().rows, n = shape().cols;
    const int batch = static_cast<int>(shape().batch);
    const std::size_t elem = element_bytes(dtype);
    side_f32 = program.products.gram;
    const std::size_t square_bytes = static_cast<std::size_t>(shape().batch * k * k) * (side_f32 ? 4 : elem);
    for (runtime::Buffer b : program.buffers()) {
      buffers[static_cast<int>(b)] =
          DeviceBuffer(runtime::is_iterate(b) ? static_cast<std::size_t>(shape().batch * m * n) * elem : square_bytes);
    }
    if (side_f32 && dtype != ElementType::kF32) narrow = DeviceBuffer(static_cast<std::size_t>(shape().batch * k * k) * elem);
    if (program.normalization.kind == runtime::NormalizationKind::kAol) {
      diagonal = DeviceBuffer(static_cast<std::size_t>(shape().batch * k) * sizeof(float));
    }
    partials = DeviceBuffer(detail::reduction_partials(m * n, batch) * sizeof(double));
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
    // Wide: A = X X^T = Xc^T Xc and Xc' = Xc P^T + c0 Xc (X' = P X + c0 X).
    // Tall: A = X^T X = Xc Xc^T and Xc' = P^T Xc + c0 Xc (X' = X P + c0 X).
    const cudaDataType_t type = data_type(dtype);
    const cudaDataType_t square_type = side_f32 ? CUDA_R_32F : type;
    auto xc = [&] { return make_layout(type, n, m, n, batch, m * n); };
    auto square = [&] { return make_layout(type, k, k, k, batch, k * k); };
    const Operand x_operand{type, n, m, n, m * n};
    const Operand square_operand{square_type, k, k, k, k * k};
    const bool wide = program.wide;
    const bool sym = program.products.symmetric;
    const auto uses = [&](runtime::OpKind kind) {
      return std::any_of(program.operations.begin(), program.operations.end(),
                         [&](const runtime::Operation& op) { return op.kind == kind; });
    };
    gram_gemm = std::make_unique<Product>(handle.get(), pref_raw, wide ? CUBLAS_OP_T : CUBLAS_OP_N,
                                          wide ? CUBLAS_OP_N : CUBLAS_OP_T, x_operand, x_operand, square_type, k, batch,
                                          sym, CUBLAS_COMPUTE_32F, "Gram");
    if (uses(runtime::OpKind::kProduct)) {
      const cublasComputeType_t compute =
          side_f32 && dtype != ElementType::kF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      square_gemm = std::make_unique<Product>(handle.get(), pref_raw, CUBLAS_OP_N, CUBLAS_OP_N, square_operand,
                                              square_operand, square_type, k, batch, sym, compute, "k x k");
    }
    if (uses(runtime::OpKind::kAddIdentity) && !side_f32) {
      throw std::logic_error("CUDA plan: add-identity on k x k matrices stored in the element type");
    }
    if (wide) {
      apply_gemm = std::make_unique<Gemm>(handle.get(), pref_raw, CUBLAS_OP_N, CUBLAS_OP_T, xc(), square(), xc(),
                                          "apply");
    } else {
      apply_gemm = std::make_unique<Gemm>(handle.get(), pref_raw, CUBLAS_OP_T, CUBLAS_OP_N, square(), xc(), xc(),
                                          "apply");
    }
  }

  void execute(const void* input, void* output, cudaStream_t stream) {
    if (input == nullptr || output == nullptr) throw std::invalid_argument("execute: null input or output pointer");
    if (input == output && shape().input_step() != shape().output_step()) {
      throw std::invalid_argument("execute in place needs equal input and output strides");
    }
    MatrixStats* st = static_cast<MatrixStats*>(stats.data());
    detail::check_cuda(cudaMemsetAsync(st, 0, stats.bytes(), stream), "cudaMemsetAsync (statistics)");
    if (kernels) {
      FusedArguments args = launch;
      args.input = input;
      args.output = output;
      args.stats = st;
      kernels->launch_fused(args, stream);
      return;
    }
    for (const runtime::Operation& op : program.operations) run(op, input, output, st, stream);
  }

  // One operation of the program as kernel launches and cuBLASLt calls.
  void run(const runtime::Operation& op, const void* input, void* output, MatrixStats* st, cudaStream_t stream) {
    const std::int64_t size = shape().matrix_size();
    const int batch = static_cast<int>(shape().batch);
    double* sums = static_cast<double*>(partials.data());
    void* ws = workspace.data();
    const auto alpha = static_cast<float>(op.alpha);
    const auto beta = static_cast<float>(op.addend == runtime::Buffer::kNone ? 0.0 : op.beta);
    switch (op.kind) {
      case runtime::OpKind::kNormalize: {
        const runtime::Normalization& n = program.normalization;
        detail::launch_input_scan(dtype, input, shape().input_step(), size, batch, st, sums, stream);
        detail::launch_normalise(dtype, input, shape().input_step(), size, batch, st, n.factor, n.eps,
                                 n.kind == runtime::NormalizationKind::kAol, buffer(op.dst), stream);
        return;
      }
      case runtime::OpKind::kGram:
        gram_gemm->run(handle.get(), 1.0f, buffer(op.lhs), buffer(op.lhs), 0.0f, buffer(op.dst), buffer(op.dst), ws,
                       stream, "cublasLtMatmul (Gram)");
        return;
      case runtime::OpKind::kAolScale:
        detail::launch_aol_scale(dtype, side_f32, buffer(op.dst), buffer(op.lhs), k, big, program.wide, batch,
                                 static_cast<float*>(diagonal.data()), stream);
        return;
      case runtime::OpKind::kProduct: {
        void* addend = op.addend == runtime::Buffer::kNone ? buffer(op.dst) : buffer(op.addend);
        square_gemm->run(handle.get(), alpha, buffer(op.lhs), buffer(op.rhs), beta, addend, buffer(op.dst), ws, stream,
                         "cublasLtMatmul (k x k product)");
        return;
      }
      case runtime::OpKind::kAddIdentity:
        detail::launch_scaled_plus_identity(static_cast<const float*>(buffer(op.lhs)), alpha,
                                            static_cast<float>(op.beta), static_cast<float*>(buffer(op.dst)), k, batch,
                                            stream);
        return;
      case runtime::OpKind::kApply: {
        // The k x k factor in the element type: an fp32 side matrix is
        // rounded once (the Gram form's Q, for Q X0).
        const void* p = buffer(op.lhs);
        if (side_f32 && dtype != ElementType::kF32) {
          detail::launch_narrow(dtype, static_cast<const float*>(p), narrow.data(), k * k, batch, stream);
          p = narrow.data();
        }
        // X' = alpha P X + beta X, the beta X term through cuBLASLt's C.
        const void* x = buffer(op.rhs);
        if (program.wide) {
          apply_gemm->run(handle.get(), alpha, x, p, beta, x, buffer(op.dst), ws, stream, "cublasLtMatmul (apply)");
        } else {
          apply_gemm->run(handle.get(), alpha, p, x, beta, x, buffer(op.dst), ws, stream, "cublasLtMatmul (apply)");
        }
        return;
      }
      case runtime::OpKind::kStore:
        detail::launch_finish(dtype, buffer(op.lhs), input, shape().input_step(), output, shape().output_step(), size,
                              k, batch, st, options.nuclear_norm, sums, stream);
        return;
    }
  }

  runtime::Report report(cudaStream_t stream) const {
    synchronize(stream);
    std::vector<MatrixStats> host(static_cast<std::size_t>(shape().batch));
    detail::check_cuda(cudaMemcpy(host.data(), stats.data(), stats.bytes(), cudaMemcpyDeviceToHost),
                       "cudaMemcpy (statistics)");
    runtime::Report r;
    for (const MatrixStats& s : host) {
      const runtime::MatrixStatus status = status_of(s);
      r.status.push_back(status);
      if (options.nuclear_norm) {
        r.nuclear_norms.push_back(runtime::succeeded(status) ? s.nuclear : std::numeric_limits<double>::quiet_NaN());
      }
    }
    runtime::summarize(r, schedule, program.steps, dtype);
    return r;
  }
};

Plan::Plan(const runtime::BatchShape& shape, ElementType dtype, runtime::Schedule schedule,
           const runtime::PlanOptions& options)
    : impl_(std::make_unique<Impl>(shape, dtype, std::move(schedule), options)) {
  impl_->build_generic();
}

Plan::Plan(const runtime::BatchShape& shape, ElementType dtype, std::shared_ptr<const ScheduleKernels> kernels,
           const runtime::PlanOptions& options, std::optional<runtime::Certificate> certificate) {
  if (!kernels) throw std::invalid_argument("CUDA plan: null kernel set");
  runtime::Schedule schedule = kernels->schedule();
  schedule.certificate = std::move(certificate);
  runtime::validate(schedule);
  impl_ = std::make_unique<Impl>(shape, dtype, std::move(schedule), options);
  if (!impl_->choose_fused(std::move(kernels))) impl_->build_generic();
}

Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

void Plan::execute(const void* input, void* output, cudaStream_t stream) { impl_->execute(input, output, stream); }

Graph Plan::capture(const void* input, void* output, cudaStream_t stream) {
  if (stream == nullptr) throw std::invalid_argument("capture needs a created stream (the legacy default stream cannot be captured)");
  detail::check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  cudaGraph_t graph = nullptr;
  try {
    impl_->execute(input, output, stream);
  } catch (...) {
    // End the capture so the stream is usable again, then report the first error.
    if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
    throw;
  }
  detail::check_cuda(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
  Graph result;
  result.graph_ = graph;
  detail::check_cuda(cudaGraphInstantiate(&result.exec_, graph, 0), "cudaGraphInstantiate");
  return result;
}

Graph::~Graph() {
  // A destructor cannot throw; failed destroys leave nothing to do.
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) cudaGraphDestroy(graph_);
}
Graph::Graph(Graph&& other) noexcept
    : graph_(std::exchange(other.graph_, nullptr)), exec_(std::exchange(other.exec_, nullptr)) {}
Graph& Graph::operator=(Graph&& other) noexcept {
  if (this != &other) {
    Graph old(std::move(*this));
    graph_ = std::exchange(other.graph_, nullptr);
    exec_ = std::exchange(other.exec_, nullptr);
  }
  return *this;
}
void Graph::launch(cudaStream_t stream) const {
  if (exec_ == nullptr) throw std::logic_error("launch of an empty graph");
  detail::check_cuda(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch");
}
runtime::Report Plan::report(cudaStream_t stream) const { return impl_->report(stream); }
bool Plan::uses_fused_kernel() const { return impl_->kernels != nullptr; }
FusedKernel Plan::fused_kernel() const { return impl_->fused; }
const runtime::Program& Plan::program() const { return impl_->program; }
const runtime::Schedule& Plan::schedule() const { return impl_->schedule; }
ElementType Plan::dtype() const { return impl_->dtype; }

}  // namespace polar_express::runtime::cuda
