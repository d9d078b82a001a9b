#include "polar_express/runtime/cpu_info.hpp"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace polar_express::runtime {
namespace {

bool bit(std::uint64_t word, int position) { return ((word >> position) & 1u) != 0; }

// CPUID.1:ECX, CPUID.1:EDX and CPUID.7.0:EBX bits (Intel SDM vol. 2A, table 3-10, 3-11, 3-8).
constexpr int kEcxSse3 = 0, kEcxSsse3 = 9, kEcxFma = 12, kEcxSse41 = 19, kEcxSse42 = 20, kEcxOsxsave = 27,
              kEcxAvx = 28;
constexpr int kEdxSse2 = 26;
constexpr int kEbxAvx2 = 5, kEbxAvx512f = 16, kEbxAvx512dq = 17, kEbxAvx512cd = 28, kEbxAvx512bw = 30,
              kEbxAvx512vl = 31;
// XCR0: SSE (1) and AVX (2) state; opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7).
constexpr std::uint64_t kXcr0Avx = 0x6, kXcr0Avx512 = 0xe6;

// AArch64 parts OpenBLAS 0.3.21 recognises (driver/others/dynamic_arm64.c):
// implementer << 12 | part.
constexpr unsigned kKnownArm64Parts[] = {
    0x41d03, 0x41d07, 0x41d08, 0x41d09, 0x41d0c, 0x41d49, 0x41d40, 0x41d05,  // Arm Cortex and Neoverse
    0x42516,                                                                 // Broadcom Vulcan
    0x430a1, 0x430af, 0x430b8,                                               // Cavium ThunderX 1-3
    0x48d01,                                                                 // HiSilicon TSV110
    0x50000,                                                                 // Ampere eMAG
    0x51c00,                                                                 // Qualcomm Falkor
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// quota / period rounded up, or nullopt for "max" / a negative quota (no limit).
std::optional<int> cpus_of_quota(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return static_cast<int>(std::max<long long>(1, (quota + period - 1) / period));
}

std::optional<int> tighter(std::optional<int> a, std::optional<int> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// A cgroup hierarchy mounted at `mount_point`, whose own root is `mount_root`
// in the hierarchy (mountinfo's fields 4 and 5).
struct CgroupMount {
  std::string mount_root, mount_point;
};

// The mount of the cgroup v2 hierarchy (fstype cgroup2), or of the v1
// hierarchy holding the cpu controller, from /proc/self/mountinfo.
std::optional<CgroupMount> find_mount(const std::string& mountinfo, bool v2) {
  for (const std::string& line : split(mountinfo, '\n')) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream before(line.substr(0, dash)), after(line.substr(dash + 3));
    std::string id, parent, device, root, point, fstype, source, super_options;
    before >> id >> parent >> device >> root >> point;
    after >> fstype >> source >> super_options;
    if (v2 && fstype == "cgroup2") return CgroupMount{root, point};
    if (!v2 && fstype == "cgroup") {
      for (const std::string& option : split(super_options, ',')) {
        if (option == "cpu") return CgroupMount{root, point};
      }
    }
  }
  return std::nullopt;
}

// The directory of cgroup `path` (from /proc/self/cgroup) under the mount,
// and each of its ancestors up to the mount's root, innermost first.
std::vector<std::string> cgroup_directories(const std::string& root, const CgroupMount& mount,
                                            const std::string& path) {
  // The path below the mount's root ("" for the root itself); a path outside
  // it (a cgroup namespace shows "/") means the mount's root.
  std::string below;
  const std::string& base = mount.mount_root;
  if (base == "/") below = path;
  else if (path.compare(0, base.size(), base) == 0) below = path.substr(base.size());
  while (!below.empty() && below.back() == '/') below.pop_back();
  std::vector<std::string> directories;
  for (;;) {
    directories.push_back(root + mount.mount_point + below);
    if (below.empty()) break;
    const std::size_t slash = below.rfind('/');
    below.resize(slash == std::string::npos ? 0 : slash);
  }
  return directories;
}

}  // namespace

X86Cpu decode_x86(const X86CpuId& id) {
  X86Cpu cpu;
  char vendor[13] = {};
  std::memcpy(vendor, id.vendor, 12);
  cpu.vendor = vendor;
  // Displayed family and model (Intel SDM vol. 2A, CPUID leaf 1, figure 3-6;
  // AMD uses the same rule with family 0xf).
  const int base_family = static_cast<int>((id.signature >> 8) & 0xf);
  const int base_model = static_cast<int>((id.signature >> 4) & 0xf);
  const int extended_family = static_cast<int>((id.signature >> 20) & 0xff);
  const int extended_model = static_cast<int>((id.signature >> 16) & 0xf);
  cpu.family = base_family == 0xf ? base_family + extended_family : base_family;
  cpu.model = base_family == 0x6 || base_family == 0xf ? (extended_model << 4) + base_model : base_model;

  const std::uint32_t ecx = id.features_ecx, edx = id.features_edx, ebx7 = id.max_leaf >= 7 ? id.extended_ebx : 0;
  cpu.sse2 = bit(edx, kEdxSse2);
  cpu.sse3 = bit(ecx, kEcxSse3);
  cpu.ssse3 = bit(ecx, kEcxSsse3);
  cpu.sse4_1 = bit(ecx, kEcxSse41);
  cpu.sse4_2 = bit(ecx, kEcxSse42);
  const std::uint64_t xcr0 = bit(ecx, kEcxOsxsave) ? id.xcr0 : 0;
  const bool os_avx = (xcr0 & kXcr0Avx) == kXcr0Avx;
  const bool os_avx512 = (xcr0 & kXcr0Avx512) == kXcr0Avx512;
  cpu.avx = os_avx && bit(ecx, kEcxAvx);
  cpu.fma = cpu.avx && bit(ecx, kEcxFma);
  cpu.avx2 = cpu.avx && bit(ebx7, kEbxAvx2);
  cpu.avx512 = cpu.avx2 && os_avx512 && bit(ebx7, kEbxAvx512f) && bit(ebx7, kEbxAvx512dq) &&
               bit(ebx7, kEbxAvx512cd) && bit(ebx7, kEbxAvx512bw) && bit(ebx7, kEbxAvx512vl);
  return cpu;
}

std::optional<std::string> openblas_core(const X86Cpu& cpu) {
  const bool amd = cpu.vendor == "AuthenticAMD" || cpu.vendor == "HygonGenuine";
  if (cpu.avx512) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return amd ? "Zen" : "Haswell";
  if (amd) return std::nullopt;
  if (cpu.avx) return "Sandybridge";
  if (cpu.sse4_2) return "Nehalem";
  if (cpu.ssse3) return "Core2";
  if (cpu.sse3) return "Prescott";
  return std::nullopt;
}

std::optional<std::string> openblas_core(const Arm64Cpu& cpu) {
  const unsigned id = cpu.implementer << 12 | cpu.part;
  if (std::find(std::begin(kKnownArm64Parts), std::end(kKnownArm64Parts), id) != std::end(kKnownArm64Parts)) {
    return std::nullopt;
  }
  if (cpu.sve) return "neoversev1";
  if (cpu.asimddp) return "neoversen1";
  return std::nullopt;
}

std::optional<X86Cpu> this_x86_cpu() {
#if defined(__x86_64__)
  X86CpuId id;
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid(0, a, b, c, d);
  id.max_leaf = a;
  id.vendor[0] = b;
  id.vendor[1] = d;
  id.vendor[2] = c;
  if (id.max_leaf >= 1) {
    __cpuid(1, a, b, c, d);
    id.signature = a;
    id.features_ecx = c;
    id.features_edx = d;
  }
  if (id.max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    id.extended_ebx = b;
  }
  if (bit(id.features_ecx, kEcxOsxsave)) {
    std::uint32_t low = 0, high = 0;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    id.xcr0 = (std::uint64_t{high} << 32) | low;
  }
  return decode_x86(id);
#else
  return std::nullopt;
#endif
}

std::optional<Arm64Cpu> this_arm64_cpu() {
#if defined(__aarch64__)
  constexpr unsigned long kHwcapAsimd = 1ul << 1, kHwcapCpuid = 1ul << 11, kHwcapAsimddp = 1ul << 20,
                          kHwcapSve = 1ul << 22;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  Arm64Cpu cpu;
  cpu.asimd = (hwcap & kHwcapAsimd) != 0;
  cpu.asimddp = (hwcap & kHwcapAsimddp) != 0;
  cpu.sve = (hwcap & kHwcapSve) != 0;
  std::uint64_t midr = 0;
  const std::string text = read_text("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1");
  if (!text.empty()) {
    midr = std::stoull(text, nullptr, 16);
  } else if ((hwcap & kHwcapCpuid) != 0) {
    __asm__ volatile("mrs %0, midr_el1" : "=r"(midr));
  }
  cpu.implementer = static_cast<unsigned>((midr >> 24) & 0xff);
  cpu.part = static_cast<unsigned>((midr >> 4) & 0xfff);
  return cpu;
#else
  return std::nullopt;
#endif
}

std::optional<std::string> this_machine_openblas_core() {
  if (const std::optional<X86Cpu> x86 = this_x86_cpu()) return openblas_core(*x86);
  if (const std::optional<Arm64Cpu> arm = this_arm64_cpu()) return openblas_core(*arm);
  return std::nullopt;
}

std::string this_cpu_name() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid(0x80000000u, a, b, c, d);
  if (a < 0x80000004u) return "x86-64";
  char brand[49] = {};
  for (unsigned leaf = 0; leaf < 3; ++leaf) {
    __cpuid(0x80000002u + leaf, a, b, c, d);
    const unsigned words[4] = {a, b, c, d};
    std::memcpy(brand + 16 * leaf, words, 16);
  }
  std::string name = brand;
  name.erase(0, name.find_first_not_of(' '));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name;
#elif defined(__aarch64__)
  const std::optional<Arm64Cpu> cpu = this_arm64_cpu();
  char text[64];
  std::snprintf(text, sizeof text, "AArch64 implementer 0x%02x part 0x%03x", cpu->implementer, cpu->part);
  return text;
#else
  return "unknown";
#endif
}

std::string this_cpu_features() {
  std::string features;
  const auto add = [&](bool present, const char* name) {
    if (!present) return;
    if (!features.empty()) features += ' ';
    features += name;
  };
  if (const std::optional<X86Cpu> x86 = this_x86_cpu()) {
    add(x86->sse2, "sse2");
    add(x86->sse3, "sse3");
    add(x86->ssse3, "ssse3");
    add(x86->sse4_1, "sse4_1");
    add(x86->sse4_2, "sse4_2");
    add(x86->avx, "avx");
    add(x86->fma, "fma");
    add(x86->avx2, "avx2");
    add(x86->avx512, "avx512");
  } else if (const std::optional<Arm64Cpu> arm = this_arm64_cpu()) {
    add(arm->asimd, "asimd");
    add(arm->asimddp, "asimddp");
    add(arm->sve, "sve");
  }
  return features;
}

std::optional<int> cgroup_cpu_limit(const std::string& root) {
  const std::string cgroups = read_text(root + "/proc/self/cgroup");
  const std::string mountinfo = read_text(root + "/proc/self/mountinfo");
  std::optional<int> limit;
  for (const std::string& line : split(cgroups, '\n')) {
    // hierarchy-id:controllers:path; v2 is "0::path".
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
    const bool v2 = line.compare(0, first, "0") == 0 && controllers.empty();
    bool has_cpu = false;
    for (const std::string& c : split(controllers, ',')) has_cpu = has_cpu || c == "cpu";
    if (!v2 && !has_cpu) continue;
    const std::optional<CgroupMount> mount = find_mount(mountinfo, v2);
    if (!mount) continue;
    for (const std::string& directory : cgroup_directories(root, *mount, path)) {
      if (v2) {
        std::istringstream max(read_text(directory + "/cpu.max"));
        std::string quota;
        long long period = 0;
        if (max >> quota >> period && quota != "max") limit = tighter(limit, cpus_of_quota(std::stoll(quota), period));
      } else {
        std::istringstream quota(read_text(directory + "/cpu.cfs_quota_us")),
            period(read_text(directory + "/cpu.cfs_period_us"));
        long long q = 0, p = 0;
        if (quota >> q && period >> p) limit = tighter(limit, cpus_of_quota(q, p));
      }
    }
  }
  return limit;
}

int usable_cpus() {
  // The affinity mask, in a set large enough for the machine (EINVAL: too small).
  int cpus = 0;
  for (int size = 1024; size <= (1 << 20); size *= 4) {
    cpu_set_t* set = CPU_ALLOC(size);
    if (set == nullptr) break;
    const std::size_t bytes = CPU_ALLOC_SIZE(size);
    const int result = sched_getaffinity(0, bytes, set);
    const bool too_small = result != 0 && errno == EINVAL;
    if (result == 0) cpus = CPU_COUNT_S(bytes, set);
    CPU_FREE(set);
    if (!too_small) break;
  }
  if (cpus <= 0) cpus = 1;
  if (const std::optional<int> quota = cgroup_cpu_limit("")) cpus = std::min(cpus, *quota);
  return cpus;
}

}  // namespace polar_express::runtime
