// The CPU emulator of warp_emulator.hpp.  Compiled, like its test, wherever
// the CUDA headers are (it needs their fp16 types), with or without nvcc.
#define POLAR_EXPRESS_WARP_EMULATION 1
#include "warp_emulator.hpp"

#include <barrier>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

thread_local EmulatedIndex threadIdx, blockIdx, blockDim;

namespace polar_express::runtime::cuda::detail {
alignas(16) unsigned char dynamic_shared[kEmulatedSharedBytes];
}  // namespace polar_express::runtime::cuda::detail

namespace {

constexpr int kLanes = 32;

// What the lanes of one warp hand each other.
struct Exchange {
  const __half* address[kLanes];
  unsigned a[kLanes][4];
  unsigned b[kLanes][2];
  double value[kLanes];
};

struct Block {
  explicit Block(int threads) : all(threads) {
    for (int w = 0; w < threads / kLanes; ++w) warps.push_back(std::make_unique<std::barrier<>>(kLanes));
    exchange.resize(static_cast<std::size_t>(threads / kLanes));
  }
  std::barrier<> all;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::vector<Exchange> exchange;
};

Block* block = nullptr;  // the block being run

int lane() { return static_cast<int>(threadIdx.x) % kLanes; }
int warp() { return static_cast<int>(threadIdx.x) / kLanes; }
void warp_sync() { block->warps[static_cast<std::size_t>(warp())]->arrive_and_wait(); }
Exchange& exchange() { return block->exchange[static_cast<std::size_t>(warp())]; }

float to_float(std::uint16_t bits) {
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}
std::uint16_t bits_at(const __half* p) {
  std::uint16_t bits;
  std::memcpy(&bits, p, sizeof bits);
  return bits;
}
unsigned pack(std::uint16_t low, std::uint16_t high) { return static_cast<unsigned>(low) | (static_cast<unsigned>(high) << 16); }
float low(unsigned v) { return to_float(static_cast<std::uint16_t>(v & 0xffffu)); }
float high(unsigned v) { return to_float(static_cast<std::uint16_t>(v >> 16)); }

template <class V>
V shuffle_xor(V value, int lane_mask) {
  Exchange& ex = exchange();
  ex.value[lane()] = static_cast<double>(value);
  warp_sync();
  const V result = static_cast<V>(ex.value[lane() ^ lane_mask]);
  warp_sync();
  return result;
}

}  // namespace

void __syncthreads() { block->all.arrive_and_wait(); }
float __shfl_xor_sync(unsigned, float value, int lane_mask) { return shuffle_xor(value, lane_mask); }
unsigned __shfl_xor_sync(unsigned, unsigned value, int lane_mask) { return shuffle_xor(value, lane_mask); }
double __shfl_xor_sync(unsigned, double value, int lane_mask) { return shuffle_xor(value, lane_mask); }

namespace polar_express::warp_emulation {

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8m..8m+7 give the
// row addresses of tile m; register m of lane l holds row l/4, columns
// 2(l%4) and 2(l%4)+1 of tile m (with .trans: rows 2(l%4) and 2(l%4)+1 of
// column l/4), the lower column (row) in the low half.
void load_x4(unsigned (&r)[4], const __half* address, bool transposed) {
  Exchange& ex = exchange();
  ex.address[lane()] = address;
  warp_sync();
  const int l = lane();
  for (int m = 0; m < 4; ++m) {
    const __half* const* rows = ex.address + 8 * m;
    if (transposed) {
      r[m] = pack(bits_at(rows[2 * (l % 4)] + l / 4), bits_at(rows[2 * (l % 4) + 1] + l / 4));
    } else {
      r[m] = pack(bits_at(rows[l / 4] + 2 * (l % 4)), bits_at(rows[l / 4] + 2 * (l % 4) + 1));
    }
  }
  warp_sync();
}

// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 with group g = l/4 and
// pair t = l%4 of lane l:
//   A: a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..);
//   B: b0 = (k 2t..2t+1, n g), b1 = (k 2t+8..2t+9, n g);
//   C, D: c0, c1 = (g, 2t..2t+1), c2, c3 = (g+8, 2t..2t+1).
void mma_16x8x16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  Exchange& ex = exchange();
  const int l = lane();
  for (int i = 0; i < 4; ++i) ex.a[l][i] = a[i];
  ex.b[l][0] = b0;
  ex.b[l][1] = b1;
  warp_sync();
  float matrix_a[16][16], matrix_b[16][8];
  for (int source = 0; source < kLanes; ++source) {
    const int g = source / 4, t = source % 4;
    const unsigned* fa = ex.a[source];
    const int rows[4] = {g, g + 8, g, g + 8}, cols[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
    for (int i = 0; i < 4; ++i) {
      matrix_a[rows[i]][cols[i]] = low(fa[i]);
      matrix_a[rows[i]][cols[i] + 1] = high(fa[i]);
    }
    matrix_b[2 * t][g] = low(ex.b[source][0]);
    matrix_b[2 * t + 1][g] = high(ex.b[source][0]);
    matrix_b[2 * t + 8][g] = low(ex.b[source][1]);
    matrix_b[2 * t + 9][g] = high(ex.b[source][1]);
  }
  const int g = l / 4, t = l % 4;
  const int out_rows[4] = {g, g, g + 8, g + 8}, out_cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
  for (int i = 0; i < 4; ++i) {
    float sum = c[i];
    for (int k = 0; k < 16; ++k) sum += matrix_a[out_rows[i]][k] * matrix_b[k][out_cols[i]];
    c[i] = sum;
  }
  warp_sync();
}

namespace {

// Written by thread 0 of block 0 only, read after its launch has joined.
std::vector<TraceEvent> recorded;

}  // namespace

void trace(int event, int step, int row) {
  if (threadIdx.x == 0 && blockIdx.x == 0) recorded.push_back({event, step, row});
}

std::vector<TraceEvent> take_trace() {
  std::vector<TraceEvent> events;
  events.swap(recorded);
  return events;
}

void run_grid(int blocks, int threads, std::size_t dynamic_bytes, const std::function<void()>& kernel) {
  if (threads % kLanes != 0 || threads < kLanes) throw std::invalid_argument("emulated blocks are whole warps");
  if (dynamic_bytes > runtime::cuda::detail::kEmulatedSharedBytes) {
    throw std::invalid_argument("emulated dynamic shared memory: " + std::to_string(dynamic_bytes) + " bytes");
  }
  unsigned char* const shared = runtime::cuda::detail::dynamic_shared;
  constexpr unsigned char kPoison = 0x7e;  // 0x7e7e is an fp16 NaN
  for (int b = 0; b < blocks; ++b) {
    std::memset(shared, kPoison, runtime::cuda::detail::kEmulatedSharedBytes);
    Block state(threads);
    block = &state;
    std::vector<std::thread> team;
    team.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      team.emplace_back([&, t] {
        threadIdx = {static_cast<unsigned>(t), 0, 0};
        blockIdx = {static_cast<unsigned>(b), 0, 0};
        blockDim = {static_cast<unsigned>(threads), 1, 1};
        kernel();
      });
    }
    for (std::thread& thread : team) thread.join();
    block = nullptr;
    // On a GPU the launch gets exactly `dynamic_bytes`: a write past them
    // would land outside the block's shared memory.
    for (std::size_t i = dynamic_bytes; i < runtime::cuda::detail::kEmulatedSharedBytes; ++i) {
      if (shared[i] != kPoison) {
        throw std::runtime_error("emulated block " + std::to_string(b) + " wrote shared memory at byte " +
                                 std::to_string(i) + ", past the " + std::to_string(dynamic_bytes) +
                                 " bytes its launch asked for");
      }
    }
  }
}

}  // namespace polar_express::warp_emulation
