#pragma once
// Warp-level fp16 tensor-core products on shared memory for the fused Gram
// kernel (fused_gram_mma.cuh): ldmatrix loads and mma.sync m16n8k16 with fp32
// accumulation (sm_80 and later; on sm_90a these are the legacy-path MMAs,
// no wgmma).  Compiled for an older virtual architecture they trap instead;
// kRequiredArch is what the host checks (cudaFuncAttributes::ptxVersion)
// before choosing the kernel, so that trap is never reached.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"), with
// group = lane / 4 and pair = lane % 4:
//   A (16 x 16, row-major): a0 = (group, 2 pair..+1), a1 = (group + 8, same),
//       a2 = (group, 8 + 2 pair..+1), a3 = (group + 8, 8 + 2 pair..+1);
//   B (16 x 8): b0 = (k = 2 pair..+1, n = group), b1 = (k = 8 + 2 pair..+1, n = group);
//   C (16 x 8, fp32): c0, c1 = (group, 2 pair..+1), c2, c3 = (group + 8, 2 pair..+1).
// ldmatrix.x4 fills four registers from four 8 x 8 tiles whose row addresses
// lanes 0-7, 8-15, 16-23 and 24-31 give; each thread receives (row lane / 4,
// columns 2 (lane % 4)..+1) of every tile, or with .trans the transpose.
//
// Operands live in shared memory as fp16, row-major with a leading dimension
// (in elements) that is a multiple of 8 and an odd multiple of 8 halves
// (16 bytes) per row: the eight row addresses of one ldmatrix tile then fall
// in distinct 16-byte bank groups.
#include <cuda_fp16.h>

namespace polar_express::runtime::cuda::detail::mma {

inline constexpr int kRequiredArch = 80;  // compute capability 8.0, as ptxVersion counts it
inline constexpr int kWarps = 8;        // warps per block of the fused Gram kernel
inline constexpr int kMaxPairs = 8;     // 16-column pairs of n-tiles per warp: up to 128 columns
inline constexpr int kTile = 16;        // rows per strip, columns per pair, k per mma

// The leading dimension for `columns` columns: padded by 8 halves so that a
// row is an odd number of 16-byte units (see above).
__host__ __device__ constexpr int padded_ld(int columns) { return columns + 8; }

// The accumulators of one warp: kMaxPairs * 2 n-tiles of 16 x 8, four floats
// per thread each.
struct Accumulators {
  float c[kMaxPairs * 2][4];
  __device__ void clear() {
#pragma unroll
    for (int t = 0; t < kMaxPairs * 2; ++t) {
#pragma unroll
      for (int r = 0; r < 4; ++r) c[t][r] = 0.0f;
    }
  }
};

// A run of 16-column pairs of one 16-row strip of a product.
struct Segment {
  int strip = 0, first_pair = 0, pairs = 0;
};

// What one warp computes of a product: up to two segments, kMaxPairs pairs
// in all; the first segment's pairs take accumulator slots 0.., the
// second's follow.  No segment: the warp idles.
struct WarpTask {
  Segment first, second;
  int segments = 0;
  __device__ bool idle() const { return segments == 0; }
  // Slot u (0 <= u < kMaxPairs): its strip and pair, if used.
  struct Slot {
    bool used, in_first;
    int strip, pair;
  };
  __device__ Slot slot(int u) const {
    if (segments > 0 && u < first.pairs) return {true, true, first.strip, first.first_pair + u};
    if (segments > 1 && u - first.pairs < second.pairs) {
      return {true, false, second.strip, second.first_pair + (u - first.pairs)};
    }
    return {false, false, 0, 0};
  }
};

// The whole rows x cols product (rows <= 128, cols <= 128 * 8, both multiples
// of 16): strips go first to warps; when there are fewer strips than warps
// the columns are split among them too.
__device__ inline WarpTask full_task(int warp, int rows, int cols) {
  const int strips = rows / kTile, column_pairs = cols / kTile;
  const int groups = min(max(1, kWarps / strips), column_pairs);
  WarpTask task;
  if (warp >= strips * groups) return task;
  const int per_group = (column_pairs + groups - 1) / groups;
  const int first = (warp / strips) * per_group;
  const int end = min(column_pairs, first + per_group);
  if (end <= first) return task;
  task.first = {warp % strips, first, end - first};
  task.segments = 1;
  return task;
}

// The 16 x 16 blocks on and below the diagonal of a symmetric side x side
// product (side <= 128), balanced over the warps: strip i is coupled with
// strip S-1-i (i + 1 and S - i blocks, S + 1 together), and each couple's
// block list is cut into equal runs for its warps, so no warp holds more
// than 5 of the 36 blocks at side 128 (8 in the full product).
__device__ inline WarpTask lower_task(int warp, int side) {
  const int strips = side / kTile;
  const int couples = (strips + 1) / 2;
  const int per_couple = kWarps / couples;
  WarpTask task;
  const int couple = warp / per_couple, part = warp % per_couple;
  if (couple >= couples) return task;
  const int high = strips - 1 - couple, low = couple;
  const int high_blocks = high + 1, total = high_blocks + (low != high ? low + 1 : 0);
  const int run = (total + per_couple - 1) / per_couple;
  const int begin = part * run, end = min(total, begin + run);
  if (begin >= end) return task;
  const int from = max(begin, high_blocks) - high_blocks;  // the run's part on strip `low`
  const Segment on_low{low, from, max(0, end - high_blocks - from)};
  if (begin < high_blocks) {
    task.first = {high, begin, min(end, high_blocks) - begin};
    task.second = on_low;
    task.segments = on_low.pairs > 0 ? 2 : 1;
  } else {
    task.first = on_low;
    task.segments = 1;
  }
  return task;
}

}  // namespace polar_express::runtime::cuda::detail::mma

#if defined(POLAR_EXPRESS_WARP_EMULATION)
// A host build of the kernels for tests: the emulator
// (tests/runtime/warp_emulator.cpp) defines these from the PTX ISA's
// fragment layouts, independently of the addressing above and below.
namespace polar_express::warp_emulation {
void load_x4(unsigned (&r)[4], const __half* address, bool transposed);
void mma_16x8x16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1);
}  // namespace polar_express::warp_emulation
#endif

namespace polar_express::runtime::cuda::detail::mma {

#if !defined(POLAR_EXPRESS_WARP_EMULATION)
__device__ inline unsigned shared_address(const void* pointer) {
  return static_cast<unsigned>(__cvta_generic_to_shared(pointer));
}
#endif

// Four 8 x 8 tiles, plain or transposed (.trans).
template <bool kTransposed>
__device__ inline void load_x4(unsigned (&r)[4], const __half* address) {
#if defined(POLAR_EXPRESS_WARP_EMULATION)
  warp_emulation::load_x4(r, address, kTransposed);
#elif __CUDA_ARCH__ >= 800
  if constexpr (kTransposed) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(address)));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(address)));
  }
#else
  (void)r, (void)address;
  __trap();
#endif
}

// c += a b for one 16 x 8 tile.
__device__ inline void mma_16x8x16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#if defined(POLAR_EXPRESS_WARP_EMULATION)
  warp_emulation::mma_16x8x16(c, a, b0, b1);
#elif __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  (void)c, (void)a, (void)b0, (void)b1;
  __trap();
#endif
}

// How the right operand B (depth x cols) is stored.
enum class BLayout {
  kDepthMajor,   // B[k][n] row-major (ld per k): ldmatrix .trans
  kColumnMajor,  // B^T[n][k] row-major (ld per n), e.g. X for X X^T: plain ldmatrix
};

// acc += A[strip rows, 0..depth) * B[0..depth, pair columns) for the task's
// segments, A row-major with leading dimension lda; depth a multiple of 16.
// Slots are walked in a fully unrolled loop so that the accumulators stay in
// registers (a run-time slot index would put them in local memory).
template <BLayout kB>
__device__ inline void warp_product(const __half* a, int lda, const __half* b, int ldb, int depth,
                                    const WarpTask task, Accumulators& acc) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int tile = lane / 8, row_in_tile = lane % 8;
  // A tiles 0..3: rows 0-7 / 8-15 / 0-7 / 8-15, columns 0-7 / 0-7 / 8-15 / 8-15.
  const int a_offset = (row_in_tile + 8 * (tile % 2)) * lda + 8 * (tile / 2);
  const __half* a_first = a + task.first.strip * kTile * lda + a_offset;
  const __half* a_second = a + task.second.strip * kTile * lda + a_offset;
  for (int k0 = 0; k0 < depth; k0 += kTile) {
    unsigned fa_first[4], fa_second[4];
    load_x4<false>(fa_first, a_first + k0);
    if (task.segments > 1) load_x4<false>(fa_second, a_second + k0);
#pragma unroll
    for (int u = 0; u < kMaxPairs; ++u) {
      const WarpTask::Slot slot = task.slot(u);
      if (slot.used) {
        unsigned fa[4];
#pragma unroll
        for (int r = 0; r < 4; ++r) fa[r] = slot.in_first ? fa_first[r] : fa_second[r];
        const int n0 = slot.pair * kTile;
        unsigned fb[4];
        if constexpr (kB == BLayout::kDepthMajor) {
          // Tiles (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15), (k 8-15, n 8-15), transposed.
          load_x4<true>(fb, b + (k0 + row_in_tile + 8 * (tile % 2)) * ldb + n0 + 8 * (tile / 2));
        } else {
          // Tiles (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15).
          load_x4<false>(fb, b + (n0 + row_in_tile + 8 * (tile / 2)) * ldb + k0 + 8 * (tile % 2));
        }
        mma_16x8x16(acc.c[2 * u], fa, fb[0], fb[1]);
        mma_16x8x16(acc.c[2 * u + 1], fa, fb[2], fb[3]);
      }
    }
  }
}

// Calls f(row, col, v0, v1) for the two adjacent entries (row, col) and
// (row, col + 1) of every accumulator pair a thread holds.
template <class F>
__device__ inline void for_each_pair(const WarpTask task, const Accumulators& acc, F&& f) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int col = 2 * (lane % 4);
#pragma unroll
  for (int u = 0; u < kMaxPairs; ++u) {
    const WarpTask::Slot slot = task.slot(u);
    if (slot.used) {
      const int row = slot.strip * kTile + lane / 4;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int c = slot.pair * kTile + half * 8 + col;
        f(row, c, acc.c[2 * u + half][0], acc.c[2 * u + half][1]);
        f(row + 8, c, acc.c[2 * u + half][2], acc.c[2 * u + half][3]);
      }
    }
  }
}

}  // namespace polar_express::runtime::cuda::detail::mma
