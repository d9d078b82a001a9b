#pragma once
// The fused tensor-core kernel for batches of small matrices (bf16 and fp16;
// k = min(rows, cols) <= 128, any K = max(rows, cols)): one thread block per
// matrix runs the whole schedule in the Gram form (gram.hpp) with every k x k
// matrix in shared memory.
//
//   R = X X^T over 64-column chunks of X (read from global, normalised and
//   rounded to fp16 on the way in; tall matrices are read transposed);
//   per step: Z = h(R) by Horner, Q <- Z Q, R <- Z R Z (skipped when the
//   next step restarts or there is none);
//   at a restart: X <- Q X into the fp16 workspace, R recomputed, Q = I;
//   at the end: U = Q X, written chunk by chunk in the element type.
//
// Every product is an fp16 mma.sync with fp32 accumulation (warp_mma.cuh);
// the k x k ones (and R) are symmetric, so only their lower 16 x 16 blocks
// are computed and then mirrored.  R, Z and Q are stored in fp16 between
// products.  fp16 keeps 11 significant bits (bf16 8) and the normalised
// values all lie in [-1, 1] up to the bounded growth of Q, so nothing
// overflows; the restarts are its program's (fused_program: the fp16 growth
// budget, gram_growth_budget(11, k)).  What fp16 cannot hold is an input whose norm
// is far below the normalisation's eps: its normalised entries fall under
// fp16's smallest subnormal and it comes out as zeros (the formula gives
// ~1e-21 for a norm of 1e-30 and eps = 1e-6).  bench/gpu/gram_numerics.py
// emulates these roundings on the CPU and compares them with exact
// arithmetic and with the bf16 reference formulation.
//
// Padding: k is rounded up to a multiple of 16 with zero rows and columns;
// the identity terms of the polynomials are added on the real diagonal only,
// so the padding stays exactly zero through every product.
#include "polar_express/runtime/cuda/detail/fused_common.cuh"
#include "polar_express/runtime/cuda/detail/warp_mma.cuh"

#include <cstdint>

namespace polar_express::runtime::cuda::detail {

inline constexpr int kGramThreads = mma::kWarps * 32;
inline constexpr int kGramMaxSide = 128;
inline constexpr int kGramChunk = 64;  // columns of the k x K iterate per pass

// Shared-memory layout: R, Q and Z (side x ld each) and one chunk of the
// iterate (side x chunk_ld), fp16, then the reduction scratch.
struct GramLayout {
  int side = 0, ld = 0, chunk_ld = 0;
  __host__ __device__ int square_elements() const { return side * ld; }
  __host__ __device__ std::size_t payload() const {
    return sizeof(__half) * (3 * static_cast<std::size_t>(square_elements()) + static_cast<std::size_t>(side) * chunk_ld);
  }
  __host__ __device__ std::size_t bytes() const { return with_scratch(payload()); }
};

__host__ __device__ inline GramLayout gram_layout(int k) {
  GramLayout layout;
  layout.side = (k + mma::kTile - 1) / mma::kTile * mma::kTile;
  layout.ld = mma::padded_ld(layout.side);
  layout.chunk_ld = mma::padded_ld(kGramChunk);
  return layout;
}

namespace gram {

// Where the k x K iterate comes from: the input, normalised on the fly
// (tall inputs are read transposed), or the fp16 workspace after a restart.
// `vector` says a wide source may be read 8 elements (16 bytes) at a time:
// rows of a multiple of 8 elements from a 16-byte aligned start.
template <class T>
struct InputSource {
  const T* g;
  bool tall, vector;
  int k, kk;
  float largest, ratio;
  __device__ float operator()(int i, int j) const {
    return device::to_float(g[tall ? static_cast<std::int64_t>(j) * k + i : static_cast<std::int64_t>(i) * kk + j]) /
           largest * ratio;
  }
  // Elements (i, j..j+7) of a wide source, j a multiple of 8.
  __device__ void eight(int i, int j, float (&v)[8]) const {
    const uint4 bits = *reinterpret_cast<const uint4*>(g + static_cast<std::int64_t>(i) * kk + j);
    const T* e = reinterpret_cast<const T*>(&bits);
#pragma unroll
    for (int t = 0; t < 8; ++t) v[t] = device::to_float(e[t]) / largest * ratio;
  }
};

struct WorkspaceSource {
  __half* w;
  bool tall, vector;  // tall always false: the workspace holds the wide form
  int k, kk;
  __device__ float operator()(int i, int j) const { return __half2float(w[static_cast<std::int64_t>(i) * kk + j]); }
  __device__ void eight(int i, int j, float (&v)[8]) const {
    const uint4 bits = *reinterpret_cast<const uint4*>(w + static_cast<std::int64_t>(i) * kk + j);
    const __half* e = reinterpret_cast<const __half*>(&bits);
#pragma unroll
    for (int t = 0; t < 8; ++t) v[t] = __half2float(e[t]);
  }
};

// chunk[i][jj] = x(i, j0 + jj) in fp16, zero outside k x K.  The loop order
// follows the source's memory order so that global reads coalesce; wide
// sources that allow it are read and written 16 bytes at a time.
template <class Source>
__device__ inline void load_chunk(const Source& x, int j0, const GramLayout& layout, __half* chunk) {
  if (x.vector) {
    constexpr int kGroups = kGramChunk / 8;
    const int total = layout.side * kGroups;
    for (int idx = static_cast<int>(threadIdx.x); idx < total; idx += static_cast<int>(blockDim.x)) {
      const int i = idx / kGroups, jj = idx % kGroups * 8;
      float v[8] = {};
      // K is a multiple of 8 here, so a group is wholly inside or outside.
      if (i < x.k && j0 + jj < x.kk) x.eight(i, j0 + jj, v);
      __half2 h[4];
#pragma unroll
      for (int t = 0; t < 4; ++t) h[t] = __floats2half2_rn(v[2 * t], v[2 * t + 1]);
      *reinterpret_cast<uint4*>(chunk + i * layout.chunk_ld + jj) = *reinterpret_cast<const uint4*>(h);
    }
    return;
  }
  const int total = layout.side * kGramChunk;
  for (int idx = static_cast<int>(threadIdx.x); idx < total; idx += static_cast<int>(blockDim.x)) {
    const int i = x.tall ? idx % layout.side : idx / kGramChunk;
    const int jj = x.tall ? idx / layout.side : idx % kGramChunk;
    const int j = j0 + jj;
    chunk[i * layout.chunk_ld + jj] = __float2half_rn(i < x.k && j < x.kk ? x(i, j) : 0.0f);
  }
}

// Copies the lower 16 x 16 blocks of a side x side matrix onto the upper
// ones: every k x k product here is symmetric (all are polynomials in the
// first R), so only the blocks on and below the diagonal are computed
// (mma::lower_task) and the rest mirrored, which also keeps the stored
// matrices exactly symmetric.
__device__ inline void mirror_lower_blocks(__half* m, const GramLayout& layout) {
  const int total = layout.side * layout.side;
  for (int idx = static_cast<int>(threadIdx.x); idx < total; idx += static_cast<int>(blockDim.x)) {
    const int i = idx / layout.side, j = idx % layout.side;
    if (i / mma::kTile < j / mma::kTile) m[i * layout.ld + j] = m[j * layout.ld + i];
  }
  __syncthreads();
}

// dst = acc (+ diagonal on the real diagonal), rounded to fp16.
__device__ inline void store_square(const mma::WarpTask& task, const mma::Accumulators& acc, __half* dst, int ld,
                                    int k, float diagonal) {
  mma::for_each_pair(task, acc, [&](int row, int col, float v0, float v1) {
    if (row < k) {
      if (row == col) v0 += diagonal;
      if (row == col + 1) v1 += diagonal;
    }
    *reinterpret_cast<__half2*>(dst + row * ld + col) = __floats2half2_rn(v0, v1);
  });
}

// dst = a b (+ diagonal I) for side x side matrices whose product is
// symmetric, `task` a lower_task; dst may be a or b: the product completes in
// registers before any thread stores.
__device__ inline void square_product_into(const __half* a, const __half* b, __half* dst, int k,
                                           const GramLayout& layout, const mma::WarpTask& task, float diagonal) {
  mma::Accumulators acc;
  acc.clear();
  if (!task.idle()) mma::warp_product<mma::BLayout::kDepthMajor>(a, layout.ld, b, layout.ld, layout.side, task, acc);
  __syncthreads();
  if (!task.idle()) store_square(task, acc, dst, layout.ld, k, diagonal);
  __syncthreads();
  mirror_lower_blocks(dst, layout);
}

// r = X X^T over the chunks of the source (`task` a lower_task).
template <class Source>
__device__ inline void form_gram(const Source& x, const GramLayout& layout, __half* chunk, __half* r,
                                 const mma::WarpTask& task) {
  mma::Accumulators acc;
  acc.clear();
  for (int j0 = 0; j0 < x.kk; j0 += kGramChunk) {
    load_chunk(x, j0, layout, chunk);
    __syncthreads();
    if (!task.idle()) {
      mma::warp_product<mma::BLayout::kColumnMajor>(chunk, layout.chunk_ld, chunk, layout.chunk_ld, kGramChunk, task,
                                                    acc);
    }
    __syncthreads();  // before the next chunk overwrites this one
  }
  if (!task.idle()) store_square(task, acc, r, layout.ld, x.k, 0.0f);
  __syncthreads();
  mirror_lower_blocks(r, layout);
}

// For each chunk of the source: Y = Q X on it, handed to sink(j0, task, acc)
// after every thread has finished reading the chunk (the sink may reuse it).
template <class Source, class Sink>
__device__ inline void apply_q(const Source& x, const __half* q, const GramLayout& layout, __half* chunk,
                               const mma::WarpTask& task, Sink&& sink) {
  for (int j0 = 0; j0 < x.kk; j0 += kGramChunk) {
    load_chunk(x, j0, layout, chunk);
    __syncthreads();
    mma::Accumulators acc;
    acc.clear();
    if (!task.idle()) {
      mma::warp_product<mma::BLayout::kDepthMajor>(q, layout.ld, chunk, layout.chunk_ld, layout.side, task, acc);
    }
    __syncthreads();
    sink(j0, acc);
    __syncthreads();
  }
}

// Horner passes J = q-3 .. 0 of table row S at step t: z <- z r + c_J I.
template <class Table, int S, int J>
__device__ inline void horner(const __half* r, __half* z, int k, const GramLayout& layout, const mma::WarpTask& task,
                              int t) {
  if constexpr (J >= 0) {
    square_product_into(z, r, z, k, layout, task, Constants<Table>::coefficient(S, J));
    POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kProduct, t, S);
    horner<Table, S, J - 1>(r, z, k, layout, task, t);
  }
}

// z = h_S(r) = c0 I + c1 r + c2 r^2 + ... (table row S, at step t)
template <class Table, int S>
__device__ inline void polynomial(const __half* r, __half* z, int k, const GramLayout& layout,
                                  const mma::WarpTask& task, int t) {
  constexpr int q = Constants<Table>::count(S);
  constexpr float top = Constants<Table>::coefficient(S, q - 1);
  constexpr float next = Constants<Table>::coefficient(S, q - 2);
  const int total = layout.side * layout.side;
  for (int idx = static_cast<int>(threadIdx.x); idx < total; idx += static_cast<int>(blockDim.x)) {
    const int i = idx / layout.side, j = idx % layout.side;
    const float v = top * __half2float(r[i * layout.ld + j]) + (i == j && i < k ? next : 0.0f);
    z[i * layout.ld + j] = __float2half_rn(v);
  }
  __syncthreads();
  horner<Table, S, q - 3>(r, z, k, layout, task, t);
}

// The per-block state of the iteration.
template <class T>
struct State {
  InputSource<T> input;
  WorkspaceSource workspace;
  bool from_workspace;  // the iterate is the workspace (after a restart)
  std::uint64_t restarts;
  int steps;
  GramLayout layout;
  __half *r, *q, *z, *chunk;
  mma::WarpTask square_task, chunk_task;  // lower blocks of k x k products; k x 64 chunks

  __device__ bool restart_before(int t) const { return t > 0 && t < kFusedRestartLimit && ((restarts >> t) & 1u); }

  template <class F>
  __device__ void with_source(F&& f) const {
    if (from_workspace) f(workspace);
    else f(input);
  }

  // Before step t: X <- Q X into the workspace (the last apply of the
  // segment that ends at step t - 1), R = X X^T.
  __device__ void restart(int t) {
    __half* w = workspace.w;
    const int k = input.k, kk = input.kk;
    with_source([&](const auto& x) {
      apply_q(x, q, layout, chunk, chunk_task, [&](int j0, const mma::Accumulators& acc) {
        if (chunk_task.idle()) return;
        mma::for_each_pair(chunk_task, acc, [&](int row, int col, float v0, float v1) {
          const int j = j0 + col;
          if (row >= k) return;
          const std::int64_t at = static_cast<std::int64_t>(row) * kk + j;
          if (j < kk) w[at] = __float2half_rn(v0);
          if (j + 1 < kk) w[at + 1] = __float2half_rn(v1);
        });
      });
    });
    // The workspace writes above are visible to the whole block after the
    // barriers apply_q ends with.
    POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kApply, t - 1, -1);
    from_workspace = true;
    form_gram(workspace, layout, chunk, r, square_task);
    POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kGram, t, -1);
  }

  template <class Table, int S>
  __device__ void step(int t) {
    POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kRow, t, S);
    const bool restarting = restart_before(t);
    if (restarting) restart(t);
    const int k = input.k;
    polynomial<Table, S>(r, z, k, layout, square_task, t);
    if (t == 0 || restarting) {
      // Q was the identity: Q = Z.
      for (int idx = static_cast<int>(threadIdx.x); idx < layout.square_elements(); idx += static_cast<int>(blockDim.x)) {
        q[idx] = z[idx];
      }
      __syncthreads();
    } else {
      square_product_into(z, q, q, k, layout, square_task, 0.0f);
      POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kProduct, t, -1);
    }
    if (t + 1 < steps && !restart_before(t + 1)) {
      square_product_into(z, r, r, k, layout, square_task, 0.0f);
      POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kProduct, t, -1);
      square_product_into(r, z, r, k, layout, square_task, 0.0f);
      POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kProduct, t, -1);
    }
  }

  // Steps S, S+1, ... below `steps`; the table's last step repeats.
  template <class Table, int S>
  __device__ void run_from() {
    if constexpr (S < Table::kSteps) {
      if (S >= steps) return;
      if constexpr (S == Table::kSteps - 1) {
        for (int t = S; t < steps; ++t) step<Table, S>(t);
      } else {
        step<Table, S>(S);
        run_from<Table, S + 1>();
      }
    }
  }
};

}  // namespace gram

template <class Table, class T>
__global__ void __launch_bounds__(kGramThreads, 1) gram_mma_kernel(FusedArguments args) {
  extern __shared__ __align__(16) unsigned char dynamic_shared[];

  const BlockMatrix<T> matrix(args);
  const bool tall = matrix.tall;
  const int k = matrix.k, kk = matrix.kk, size = matrix.size;
  const T* g = matrix.g;
  T* out = matrix.out;
  MatrixStats& stats = matrix.stats;
  gram::State<T> st;
  st.layout = gram_layout(k);
  ReductionScratch& scratch = scratch_in(dynamic_shared, st.layout.payload());
  const InputScan scan = scan_input<Table>(g, out, size, stats, scratch);
  if (!scan.normal) return;

  const bool wide_by_eight = !tall && kk % 8 == 0;
  st.input = {g, tall, wide_by_eight && reinterpret_cast<std::uintptr_t>(g) % 16 == 0, k, kk, scan.largest, scan.ratio};
  // The workspace is cudaMalloc'd (aligned) and packed: row starts are
  // 16-byte aligned exactly when K is a multiple of 8.
  st.workspace = {args.workspace == nullptr
                      ? nullptr
                      : static_cast<__half*>(args.workspace) + static_cast<std::int64_t>(blockIdx.x) * k * kk,
                  false, kk % 8 == 0, k, kk};
  st.from_workspace = false;
  st.restarts = args.workspace == nullptr ? 0u : args.restarts;
  st.steps = args.steps;
  st.r = reinterpret_cast<__half*>(dynamic_shared);
  st.q = st.r + st.layout.square_elements();
  st.z = st.q + st.layout.square_elements();
  st.chunk = st.z + st.layout.square_elements();
  const int warp = static_cast<int>(threadIdx.x) / 32;
  st.square_task = mma::lower_task(warp, st.layout.side);
  st.chunk_task = mma::full_task(warp, st.layout.side, kGramChunk);

  gram::form_gram(st.input, st.layout, st.chunk, st.r, st.square_task);
  POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kGram, 0, -1);
  st.template run_from<Table, 0>();

  // U = Q X, staged chunk by chunk in the element type (in the chunk buffer)
  // and written in the output's layout.  The input element is read before
  // the output one is written: in place they are the same.
  T* staged = reinterpret_cast<T*>(st.chunk);
  const int ld = st.layout.chunk_ld, side = st.layout.side;
  unsigned diverged = 0;
  float squares = 0;
  double inner = 0;
  st.with_source([&](const auto& x) {
    gram::apply_q(x, st.q, st.layout, st.chunk, st.chunk_task, [&](int j0, const mma::Accumulators& acc) {
      if (!st.chunk_task.idle()) {
        mma::for_each_pair(st.chunk_task, acc, [&](int row, int col, float v0, float v1) {
          staged[row * ld + col] = device::from_float<T>(v0);
          staged[row * ld + col + 1] = device::from_float<T>(v1);
        });
      }
      __syncthreads();
      for (int idx = static_cast<int>(threadIdx.x); idx < side * kGramChunk; idx += static_cast<int>(blockDim.x)) {
        const int i = tall ? idx % side : idx / kGramChunk;
        const int jj = tall ? idx / side : idx % kGramChunk;
        const int j = j0 + jj;
        if (i >= k || j >= kk) continue;
        const std::int64_t at = tall ? static_cast<std::int64_t>(j) * k + i : static_cast<std::int64_t>(i) * kk + j;
        const T v = staged[i * ld + jj];
        const float f = device::to_float(v);
        if (!isfinite(f)) diverged = 1;
        squares += f * f;
        if (args.nuclear_norm) inner += static_cast<double>(device::to_float(g[at])) * f;
        out[at] = v;
      }
    });
  });
  POLAR_EXPRESS_FUSED_TRACE(FusedEvent::kApply, st.steps - 1, -1);
  diverged = device::block_reduce(diverged, device::Or{}, scratch.flags);
  squares = device::block_reduce(squares, device::Sum{}, scratch.floats);
  if (iterate_diverged(squares, k)) diverged = 1;
  if (diverged) {
    const T nan = device::from_float<T>(device::quiet_nan());
    for (int i = static_cast<int>(threadIdx.x); i < size; i += static_cast<int>(blockDim.x)) out[i] = nan;
  }
  if (args.nuclear_norm) inner = device::block_reduce(inner, device::Sum{}, scratch.doubles);
  record_stats(stats, scan, diverged != 0, diverged ? 0.0 : inner);
}

}  // namespace polar_express::runtime::cuda::detail
