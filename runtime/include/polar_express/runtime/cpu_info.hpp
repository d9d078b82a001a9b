#pragma once
// What the CPU backend runs on: the processor's features, the cores this
// process may use, and the BLAS (OpenBLAS) with the kernel set it runs.
//
//   const polar_express::runtime::BlasInfo& blas = polar_express::runtime::cpu_blas_info();
//   blas.core        // e.g. "SkylakeX": OpenBLAS's kernel set
//   blas.core_source // who chose it
//
// Why the runtime chooses OpenBLAS's kernels itself: OpenBLAS built with
// DYNAMIC_ARCH picks them from the CPUID model when it loads, and 0.3.21
// (Debian 12's) sends an Intel family-6 model it does not list to its SSE3
// "Prescott" kernels (a missing `break`, fixed in 0.3.25), 4-5x slower than
// the machine's own on the AVX-512 VMs whose CPUID model is generic.  The
// feature bits, with the operating system's XSAVE support for the wide
// registers, say which kernels the machine runs; the runtime names that core
// in OPENBLAS_CORETYPE for the library's load (unless the user set it).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace polar_express::runtime {

// The CPUID words an x86-64 kernel choice reads (Intel SDM vol. 2A, CPUID;
// XGETBV for XCR0).  Zero where a leaf is absent.
struct X86CpuId {
  std::uint32_t vendor[3] = {0, 0, 0};  // leaf 0: EBX, EDX, ECX ("GenuineIntel")
  std::uint32_t max_leaf = 0;           // leaf 0: EAX
  std::uint32_t signature = 0;          // leaf 1: EAX (stepping, model, family)
  std::uint32_t features_ecx = 0;       // leaf 1: ECX
  std::uint32_t features_edx = 0;       // leaf 1: EDX
  std::uint32_t extended_ebx = 0;       // leaf 7, subleaf 0: EBX
  std::uint64_t xcr0 = 0;               // XGETBV(0), when leaf 1 reports OSXSAVE
};

// The decoded processor: family and model as Intel and AMD define the
// displayed values, and each instruction set only where the OS saves its
// registers (AVX: XCR0 SSE and AVX state; AVX-512: also opmask, ZMM_Hi256
// and Hi16_ZMM).
struct X86Cpu {
  std::string vendor;  // the 12-character vendor string
  int family = 0, model = 0;
  bool sse2 = false, sse3 = false, ssse3 = false, sse4_1 = false, sse4_2 = false;
  bool avx = false, fma = false, avx2 = false;
  bool avx512 = false;  // F, DQ, CD, BW and VL (Skylake-SP's set)
};
X86Cpu decode_x86(const X86CpuId& id);

// An AArch64 processor: the MIDR_EL1 implementer and part, and the HWCAP
// bits a kernel set needs.
struct Arm64Cpu {
  unsigned implementer = 0, part = 0;
  bool asimd = false, asimddp = false, sve = false;
};

// The OpenBLAS core (OPENBLAS_CORETYPE name) for this processor's
// matrix-multiply kernels, or nullopt to leave the choice to OpenBLAS.
// x86-64, by features: AVX-512 -> SkylakeX (Cooperlake's and Sapphire
// Rapids' sgemm/dgemm are SkylakeX's, and 0.3.21 cannot be forced to
// Cooperlake), AVX2 + FMA -> Zen on AMD and Hygon, Haswell elsewhere,
// AVX -> Sandybridge, SSE4.2 -> Nehalem, SSSE3 -> Core2, SSE3 -> Prescott;
// an AMD or Hygon processor without AVX2 (Bulldozer and older, all listed by
// OpenBLAS) and an x86-64 without SSE3 are left to OpenBLAS.  AArch64:
// parts OpenBLAS 0.3.21 lists are left to it, others (which it would run
// on its generic ARMV8 kernels) by features: SVE -> NeoverseV1,
// dot product -> NeoverseN1.
std::optional<std::string> openblas_core(const X86Cpu& cpu);
std::optional<std::string> openblas_core(const Arm64Cpu& cpu);

// The processors of this machine, read once (nullopt on the other
// architecture).
std::optional<X86Cpu> this_x86_cpu();
std::optional<Arm64Cpu> this_arm64_cpu();
// The core openblas_core chooses for this machine.
std::optional<std::string> this_machine_openblas_core();
// This processor's name (x86-64: the CPUID brand string; AArch64: MIDR's
// implementer and part) and the instruction sets its kernels may use, as
// decoded above, e.g. "sse2 sse3 ssse3 sse4_1 sse4_2 avx fma avx2 avx512".
std::string this_cpu_name();
std::string this_cpu_features();

// The CPUs this process may run on: its affinity mask, capped by a cgroup
// CPU quota (v2 cpu.max or v1 cpu.cfs_quota_us / cpu.cfs_period_us, rounded
// up, the tightest of its cgroup and the cgroup's ancestors); at least 1.
// The CPU backend never uses more threads.
int usable_cpus();

// The cgroup CPU limit (quota / period, rounded up) of this process with
// the file system under `root` ("" for the real one; for tests a directory
// holding proc/self/cgroup, proc/self/mountinfo and the cgroup files), or
// nullopt for no limit.
std::optional<int> cgroup_cpu_limit(const std::string& root);

// The BLAS the CPU backend loaded, and what it runs.
struct BlasInfo {
  std::string library;      // the file loaded
  std::string config;       // openblas_get_config(): version and build options
  std::string core;         // openblas_get_corename(): the kernel set running
  std::string requested;    // the core named in OPENBLAS_CORETYPE at load, if any
  std::string core_source;  // "polar-express (CPU features)", "OPENBLAS_CORETYPE (environment)",
                            // "OpenBLAS (its own detection)", or "loaded before polar-express"
  std::string cpu;       // this_cpu_name()
  std::string features;  // this_cpu_features()
  int usable_cpus = 1;
};

// Loads the BLAS (once, as the first CPU plan does) and says what it runs.
// Throws std::runtime_error when it cannot be loaded.
const BlasInfo& cpu_blas_info();

}  // namespace polar_express::runtime
