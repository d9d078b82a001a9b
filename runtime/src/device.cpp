#include "polar_express/runtime/device.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace polar_express::runtime {
namespace {

using Entry = const DeviceBackend* (*)();

// The directory of the binary (executable or shared library) this code is
// linked into, so a module installed beside it is found wherever it lives.
std::string own_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 || info.dli_fname == nullptr) return {};
  const std::string path = info.dli_fname;
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

const DeviceBackend* load_cuda() {
#if !POLAR_EXPRESS_RUNTIME_CUDA
  throw BackendUnavailable("this build has no CUDA backend (nvcc was not found when it was configured)");
#else
  std::vector<std::string> candidates;
  if (const char* explicit_path = std::getenv("POLAR_EXPRESS_CUDA_MODULE")) {
    candidates.emplace_back(explicit_path);
  } else {
    const std::string here = own_directory();
    if (!here.empty()) {
      candidates.push_back(here + "/" + kCudaModuleFile);
      candidates.push_back(here + "/../lib/" + kCudaModuleFile);
    }
    candidates.emplace_back(kCudaModuleFile);
  }
  std::string reasons;
  for (const std::string& candidate : candidates) {
    // RTLD_LOCAL: the module's CUDA libraries stay out of the global namespace.
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      reasons += std::string(reasons.empty() ? "" : "; ") + (why ? why : candidate);
      continue;
    }
    auto entry = reinterpret_cast<Entry>(dlsym(handle, kCudaModuleEntry));
    if (entry == nullptr) {
      throw BackendUnavailable(candidate + " has no entry point " + kCudaModuleEntry + " (a module of another version)");
    }
    return entry();
  }
  throw BackendUnavailable("the CUDA backend cannot be loaded: " + reasons);
#endif
}

}  // namespace

const DeviceBackend& cuda_backend() {
  // Loaded once; a failure is remembered and reported the same way each time.
  static std::once_flag once;
  static const DeviceBackend* backend = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    try {
      backend = load_cuda();
    } catch (const BackendUnavailable& e) {
      failure = e.what();
    }
  });
  if (backend == nullptr) throw BackendUnavailable(failure);
  return *backend;
}

BackendTraits cuda_traits(ElementType dtype) {
  // Symmetric products pay once the saved half of a k x k x K GEMM outweighs
  // the extra launches and the smaller tiles of the first block rows.
  constexpr std::int64_t kSymmetricFromK = 2048;
  if (dtype == ElementType::kF64) throw std::invalid_argument("the CUDA backend runs f32, f16 and bf16, not f64");
  return {dtype, kSymmetricFromK};
}

}  // namespace polar_express::runtime
