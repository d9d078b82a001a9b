// The CPU backend's view of the machine: OpenBLAS's kernel set chosen from
// CPUID words (bit positions from the Intel SDM, vol. 2A, CPUID and XGETBV),
// the kernel that actually loads against what /proc/cpuinfo says, the cgroup
// CPU quota on made-up cgroup trees, and the affinity mask.
#include "common/files.hpp"
#include "common/prerequisite.hpp"
#include "support.hpp"

#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/cpu_info.hpp"

#include <catch2/catch.hpp>
#include <sched.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace rt = polar_express::runtime;
namespace fs = std::filesystem;

namespace {

// What a test machine advertises, as flags named like /proc/cpuinfo's.
struct Machine {
  std::string vendor;            // 12 characters
  std::uint32_t signature = 0;   // CPUID.1:EAX
  std::set<std::string> flags;   // sse3 ssse3 sse4_2 avx fma avx2 avx512f ...
  bool osxsave = true;
  std::uint64_t xcr0 = 0xe7;     // x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
};

std::uint32_t word(const std::string& s, int i) {
  std::uint32_t w = 0;
  for (int b = 0; b < 4; ++b) w |= std::uint32_t(static_cast<unsigned char>(s[static_cast<std::size_t>(4 * i + b)])) << (8 * b);
  return w;
}

rt::X86CpuId cpuid_of(const Machine& m) {
  rt::X86CpuId id;
  // The vendor string is EBX, EDX, ECX of leaf 0, four characters each.
  id.vendor[0] = word(m.vendor, 0);
  id.vendor[1] = word(m.vendor, 1);
  id.vendor[2] = word(m.vendor, 2);
  id.max_leaf = 0x16;
  id.signature = m.signature;
  auto has = [&](const char* f) { return m.flags.count(f) != 0; };
  // CPUID.1:EDX bit 26 SSE2; ECX bits 0 SSE3, 9 SSSE3, 12 FMA, 19 SSE4.1,
  // 20 SSE4.2, 27 OSXSAVE, 28 AVX.
  id.features_edx = 1u << 26;
  id.features_ecx = (has("sse3") ? 1u : 0u) | (has("ssse3") ? 1u << 9 : 0u) | (has("fma") ? 1u << 12 : 0u) |
                    (has("sse4_1") ? 1u << 19 : 0u) | (has("sse4_2") ? 1u << 20 : 0u) |
                    (m.osxsave ? 1u << 27 : 0u) | (has("avx") ? 1u << 28 : 0u);
  // CPUID.7.0:EBX bits 5 AVX2, 16 AVX512F, 17 DQ, 28 CD, 30 BW, 31 VL.
  id.extended_ebx = (has("avx2") ? 1u << 5 : 0u) | (has("avx512f") ? 1u << 16 : 0u) |
                    (has("avx512dq") ? 1u << 17 : 0u) | (has("avx512cd") ? 1u << 28 : 0u) |
                    (has("avx512bw") ? 1u << 30 : 0u) | (has("avx512vl") ? 1u << 31 : 0u);
  id.xcr0 = m.xcr0;
  return id;
}

const std::set<std::string> kSse = {"sse3", "ssse3", "sse4_1", "sse4_2"};
std::set<std::string> with(std::set<std::string> base, std::initializer_list<const char*> more) {
  for (const char* f : more) base.insert(f);
  return base;
}
const std::set<std::string> kAvx2 = with(kSse, {"avx", "fma", "avx2"});
const std::set<std::string> kAvx512 = with(kAvx2, {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"});

std::optional<std::string> core_of(const Machine& m) { return rt::openblas_core(rt::decode_x86(cpuid_of(m))); }

}  // namespace

TEST_CASE("CPUID signatures decode to the displayed family and model", "[cpu-info]") {
  // Sapphire Rapids: family 6, extended model 8, model 0xf.
  const rt::X86Cpu spr = rt::decode_x86(cpuid_of({"GenuineIntel", 0x000806f8, {}}));
  CHECK(spr.vendor == "GenuineIntel");
  CHECK(spr.family == 6);
  CHECK(spr.model == 0x8f);
  // Zen 3 (EPYC Milan): base family 0xf + extended family 0xa = 0x19, model 0x01.
  const rt::X86Cpu milan = rt::decode_x86(cpuid_of({"AuthenticAMD", 0x00a00f11, {}}));
  CHECK(milan.family == 0x19);
  CHECK(milan.model == 0x01);
  // Family 5 (no extended model): the base model alone.
  CHECK(rt::decode_x86(cpuid_of({"GenuineIntel", 0x000f0582, {}})).model == 0x8);
}

TEST_CASE("x86-64: the kernel set follows the instruction sets the OS enables", "[cpu-info]") {
  // The machine: an AVX-512 Xeon VM whose model OpenBLAS 0.3.21 does
  // not list (it gave it Prescott's SSE3 kernels).
  const Machine vm{"GenuineIntel", 0x000c06f1, kAvx512};
  CHECK(core_of(vm) == "SkylakeX");
  // The same CPU where the OS does not save the AVX-512 state (XCR0 without
  // bits 5-7): AVX2 kernels; without AVX state either: SSE4.2 kernels.
  Machine no_zmm = vm;
  no_zmm.xcr0 = 0x7;
  CHECK(core_of(no_zmm) == "Haswell");
  Machine no_ymm = vm;
  no_ymm.xcr0 = 0x3;
  CHECK(core_of(no_ymm) == "Nehalem");
  Machine no_xsave = vm;
  no_xsave.osxsave = false;
  CHECK(core_of(no_xsave) == "Nehalem");
  // Xeon Phi (AVX512F and CD, no BW/DQ/VL): not Skylake-SP's set.
  CHECK(core_of({"GenuineIntel", 0x00050671, with(kAvx2, {"avx512f", "avx512cd"})}) == "Haswell");
  CHECK(core_of({"GenuineIntel", 0x000306c3, kAvx2}) == "Haswell");                     // Haswell
  CHECK(core_of({"GenuineIntel", 0x000206a7, with(kSse, {"avx"})}) == "Sandybridge");  // Sandy Bridge
  CHECK(core_of({"GenuineIntel", 0x000106a5, kSse}) == "Nehalem");                     // Nehalem
  CHECK(core_of({"GenuineIntel", 0x000006f6, {"sse3", "ssse3"}}) == "Core2");          // Merom
  CHECK(core_of({"GenuineIntel", 0x00000f41, {"sse3"}}) == "Prescott");                // Prescott
  CHECK(core_of({"GenuineIntel", 0x00000f29, {}}) == std::nullopt);                    // SSE2 only
  // An AVX2 CPU without FMA does not run Haswell's FMA kernels.
  CHECK(core_of({"GenuineIntel", 0x000906ea, with(kSse, {"avx", "avx2"})}) == "Sandybridge");
  // Another vendor with AVX2 (Zhaoxin KX-7000): Haswell's kernels.
  CHECK(core_of({"  Shanghai  ", 0x000107b1, kAvx2}) == "Haswell");
}

TEST_CASE("x86-64: AMD and Hygon get Zen's kernels for AVX2, SkylakeX's for AVX-512", "[cpu-info]") {
  CHECK(core_of({"AuthenticAMD", 0x00a00f11, kAvx2}) == "Zen");       // Zen 3
  CHECK(core_of({"HygonGenuine", 0x00900f01, kAvx2}) == "Zen");       // Dhyana
  CHECK(core_of({"AuthenticAMD", 0x00a10f11, kAvx512}) == "SkylakeX"); // Zen 4
  // Bulldozer (AVX, no AVX2) and older: OpenBLAS's own table knows them.
  CHECK(core_of({"AuthenticAMD", 0x00600f12, with(kSse, {"avx"})}) == std::nullopt);
  CHECK(core_of({"AuthenticAMD", 0x00100f42, {"sse3"}}) == std::nullopt);
}

TEST_CASE("a CPUID without leaf 7 has no AVX2 or AVX-512", "[cpu-info]") {
  rt::X86CpuId id = cpuid_of({"GenuineIntel", 0x000c06f1, kAvx512});
  id.max_leaf = 6;
  const rt::X86Cpu cpu = rt::decode_x86(id);
  CHECK(cpu.avx);
  CHECK_FALSE(cpu.avx2);
  CHECK_FALSE(cpu.avx512);
  CHECK(rt::openblas_core(cpu) == "Sandybridge");
}

TEST_CASE("AArch64: parts OpenBLAS lists stay its choice, others go by features", "[cpu-info]") {
  rt::Arm64Cpu n1{0x41, 0xd0c, true, true, false};  // Neoverse N1 (Graviton 2): OpenBLAS's table
  CHECK(rt::openblas_core(n1) == std::nullopt);
  rt::Arm64Cpu v2{0x41, 0xd4f, true, true, true};  // Neoverse V2 (Graviton 4, Grace): not in 0.3.21's table
  CHECK(rt::openblas_core(v2) == "neoversev1");
  rt::Arm64Cpu apple{0x61, 0x022, true, true, false};  // Apple M1 under Linux
  CHECK(rt::openblas_core(apple) == "neoversen1");
  rt::Arm64Cpu old{0x41, 0xd04, true, false, false};  // Cortex-A35 (ARMv8.0): generic ARMV8 kernels
  CHECK(rt::openblas_core(old) == std::nullopt);
}

namespace {

// A made-up root with proc/self/{cgroup,mountinfo} and cgroup files.
class FakeRoot {
 public:
  const fs::path& path() const { return dir_.path(); }
  void write(const std::string& relative, const std::string& text) const {
    const fs::path file = dir_.path() / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
  }

 private:
  polar_express::test::TempDir dir_;
};

const char* const kV2Mount = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n";

}  // namespace

TEST_CASE("cgroup v2: cpu.max quota / period, rounded up, the tightest of the cgroup and its parents",
          "[cpu-info][cgroup]") {
  FakeRoot root;
  root.write("proc/self/cgroup", "0::/user.slice/job\n");
  root.write("proc/self/mountinfo", std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + kV2Mount);
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == std::nullopt);  // no cpu.max anywhere
  root.write("sys/fs/cgroup/user.slice/job/cpu.max", "max 100000\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == std::nullopt);
  root.write("sys/fs/cgroup/user.slice/job/cpu.max", "250000 100000\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == 3);
  root.write("sys/fs/cgroup/user.slice/cpu.max", "150000 100000\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == 2);
  root.write("sys/fs/cgroup/cpu.max", "50000 100000\n");  // half a CPU: at least one
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == 1);
}

TEST_CASE("cgroup v1: cfs_quota_us / cfs_period_us under the cpu controller's mount", "[cpu-info][cgroup]") {
  FakeRoot root;
  // Docker without a cgroup namespace: the mount's root is the container's cgroup.
  root.write("proc/self/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
  root.write("proc/self/mountinfo",
             "40 30 0:35 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
             "41 30 0:36 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n");
  root.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  root.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == std::nullopt);
  root.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "300000\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == 3);
  // A quota on the memory hierarchy's files means nothing.
  root.write("sys/fs/cgroup/memory/cpu.cfs_quota_us", "100000\n");
  root.write("sys/fs/cgroup/memory/cpu.cfs_period_us", "100000\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == 3);
}

TEST_CASE("no cgroup files: no limit", "[cpu-info][cgroup]") {
  FakeRoot root;
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == std::nullopt);
  root.write("proc/self/cgroup", "0::/\n");
  root.write("proc/self/mountinfo", kV2Mount);
  root.write("sys/fs/cgroup/cpu.max", "garbage\n");
  CHECK(rt::cgroup_cpu_limit(root.path().string()) == std::nullopt);
}

TEST_CASE("a plan uses the CPUs of the affinity mask, never more", "[cpu-info][threads]") {
  cpu_set_t original;
  REQUIRE(sched_getaffinity(0, sizeof original, &original) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const int usable = rt::usable_cpus();
  rt::PlanOptions many;
  many.threads = 8;
  rt::CpuPlan<float> by_default({16, 8, 8}, rt::test::nanochat_schedule());
  rt::CpuPlan<float> asked_more({16, 8, 8}, rt::test::nanochat_schedule(), many);
  REQUIRE(sched_setaffinity(0, sizeof original, &original) == 0);
  CHECK(usable == 1);
  CHECK(by_default.workers() * by_default.blas_threads() == 1);
  CHECK(asked_more.workers() * asked_more.blas_threads() == 1);
  // With the whole mask back, the plan takes what the mask allows (capped
  // by a cgroup quota where there is one).
  const int mask = CPU_COUNT(&original);
  const std::optional<int> quota = rt::cgroup_cpu_limit("");
  const int expected = quota ? std::min(mask, *quota) : mask;
  CHECK(rt::usable_cpus() == expected);
  rt::CpuPlan<float> wide({16, 8, 8}, rt::test::nanochat_schedule(), many);
  CHECK(wide.workers() == std::min(expected, 16));
}

namespace {

// /proc/cpuinfo's first processor: its vendor and flags.
struct CpuInfoText {
  std::string vendor;
  std::set<std::string> flags;
};

CpuInfoText read_proc_cpuinfo() {
  std::ifstream in("/proc/cpuinfo");
  CpuInfoText info;
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::istringstream value(line.substr(colon + 1));
    if (key == "vendor_id" && info.vendor.empty()) value >> info.vendor;
    if (key == "flags" && info.flags.empty()) {
      for (std::string f; value >> f;) info.flags.insert(f);
    }
  }
  return info;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// The kernel OpenBLAS runs once the runtime has loaded it, against the
// instruction sets Linux reports usable in /proc/cpuinfo (it drops the AVX
// and AVX-512 flags where XSAVE does not enable their state).
TEST_CASE("the loaded OpenBLAS runs the kernels /proc/cpuinfo's flags allow", "[.needs-x86-64]") {
#if !defined(__x86_64__)
  polar_express::test::skip_run("the kernel check reads x86-64 /proc/cpuinfo flags");
#endif
  const char* user_core = std::getenv("OPENBLAS_CORETYPE");
  const CpuInfoText cpuinfo = read_proc_cpuinfo();
  REQUIRE(!cpuinfo.flags.empty());
  const auto has = [&](const char* f) { return cpuinfo.flags.count(f) != 0; };
  const bool amd = cpuinfo.vendor == "AuthenticAMD" || cpuinfo.vendor == "HygonGenuine";
  std::string expected;
  if (has("avx512f") && has("avx512dq") && has("avx512cd") && has("avx512bw") && has("avx512vl")) expected = "skylakex";
  else if (has("avx2") && has("fma")) expected = amd ? "zen" : "haswell";
  else if (!amd && has("avx")) expected = "sandybridge";
  else if (!amd && has("sse4_2")) expected = "nehalem";

  const rt::BlasInfo& blas = rt::cpu_blas_info();
  INFO("library " << blas.library << ", " << blas.config << ", core " << blas.core << " (" << blas.core_source << ")");
  CHECK(blas.config.find("OpenBLAS") != std::string::npos);
  CHECK(blas.usable_cpus == rt::usable_cpus());
  if (user_core != nullptr) {
    // The user's choice stands.
    CHECK(blas.core_source == "OPENBLAS_CORETYPE (environment)");
    CHECK(blas.requested == user_core);
    return;
  }
  CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);  // set for the load only
  if (expected.empty()) return;  // older AMD: OpenBLAS's own table decides
  CHECK(blas.core_source == "polar-express (CPU features)");
  CHECK(lower(blas.core) == expected);
}
