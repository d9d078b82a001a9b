#pragma once
// Runs the fused tensor-core kernel's source on the CPU, for tests on
// machines without a GPU.  A translation unit defines
// POLAR_EXPRESS_WARP_EMULATION, includes this header first and then the
// kernel header; g++ compiles the kernel as host code (the CUDA headers make
// __device__, __shared__ and friends empty for a host compiler), and this
// emulator supplies what the hardware would:
//   - one std::thread per CUDA thread, block after block, with threadIdx,
//     blockIdx and blockDim thread-local;
//   - __syncthreads as a barrier of the block, warp operations as barriers
//     of the 32 lanes with an exchange area;
//   - ldmatrix and mma.sync m16n8k16 computed from the fragment layouts the
//     PTX ISA documents (warp_emulator.cpp), independently of the kernel's
//     own addressing, so a wrong lane or tile index there gives wrong numbers;
//   - dynamic shared memory filled with fp16 NaNs before each block, so a
//     read of an element the kernel never wrote shows up in the result, and
//     checked after it, so a write past the bytes the launch asked for
//     throws.
// Products accumulate in float in a fixed order (the hardware's order is
// unspecified); everything else rounds exactly as on the device.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <vector>

#define __launch_bounds__(...)

struct EmulatedIndex {
  unsigned x = 0, y = 0, z = 0;
};
extern thread_local EmulatedIndex threadIdx, blockIdx, blockDim;

void __syncthreads();
float __shfl_xor_sync(unsigned mask, float value, int lane_mask);
unsigned __shfl_xor_sync(unsigned mask, unsigned value, int lane_mask);
double __shfl_xor_sync(unsigned mask, double value, int lane_mask);
inline unsigned __float_as_uint(float value) { return std::bit_cast<unsigned>(value); }
inline float __int_as_float(int value) { return std::bit_cast<float>(value); }
[[noreturn]] inline void __trap() { std::abort(); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
using std::isfinite;

namespace polar_express::runtime::cuda::detail {
// The kernel's `extern __shared__` array resolves to this one.
inline constexpr std::size_t kEmulatedSharedBytes = 232448;  // sm_90's 227 KiB opt-in limit
extern unsigned char dynamic_shared[kEmulatedSharedBytes];
}  // namespace polar_express::runtime::cuda::detail

// The fused kernels report what they do through this hook
// (fused_common.cuh); the emulator records it from thread 0 of block 0.
#define POLAR_EXPRESS_FUSED_TRACE(event, step, row) \
  ::polar_express::warp_emulation::trace(static_cast<int>(event), (step), (row))

namespace polar_express::warp_emulation {

struct TraceEvent {
  int event;  // a runtime::cuda::detail::FusedEvent
  int step;
  int row;    // the table row (kRow, the products of a polynomial), else -1
  bool operator==(const TraceEvent& other) const {
    return event == other.event && step == other.step && row == other.row;
  }
};
void trace(int event, int step, int row);
// The events recorded since the last call, in order; clears the record.
std::vector<TraceEvent> take_trace();

// Runs `kernel` (a call of the kernel with its arguments) as `blocks` blocks
// of `threads` threads with `dynamic_bytes` of dynamic shared memory.
void run_grid(int blocks, int threads, std::size_t dynamic_bytes, const std::function<void()>& kernel);

}  // namespace polar_express::warp_emulation
