#include "blas.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace polar_express::runtime::cpu {
namespace {

template <class Function>
void resolve(void* library, const char* name, Function& entry) {
  entry = reinterpret_cast<Function>(dlsym(library, name));
  if (entry == nullptr) {
    throw std::runtime_error(std::string("the CPU backend's BLAS has no ") + name +
                             " (an OpenBLAS library is needed)");
  }
}

int max_threads(void* library) {
  if (auto config = reinterpret_cast<decltype(&openblas_get_config)>(dlsym(library, "openblas_get_config"))) {
    const std::string text = config();
    const std::string key = "MAX_THREADS=";
    const std::size_t at = text.find(key);
    if (at != std::string::npos) {
      const int value = std::atoi(text.c_str() + at + key.size());
      if (value > 0) return value;
    }
  }
  decltype(&openblas_get_num_threads) threads = nullptr;
  resolve(library, "openblas_get_num_threads", threads);
  return std::max(1, threads());
}

Blas load() {
  std::string failures;
  void* library = nullptr;
  for (const char* name : {POLAR_EXPRESS_OPENBLAS_LIBRARY, "libopenblas.so.0"}) {
    // Never closed: plans may run until the process exits.
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
    const char* reason = dlerror();
    failures += std::string(failures.empty() ? "" : "; ") + (reason != nullptr ? reason : name);
  }
  if (library == nullptr) throw std::runtime_error("the CPU backend cannot load OpenBLAS: " + failures);
  Blas blas{};
  resolve(library, "cblas_sgemm", blas.sgemm);
  resolve(library, "cblas_dgemm", blas.dgemm);
  resolve(library, "cblas_ssyrk", blas.ssyrk);
  resolve(library, "cblas_dsyrk", blas.dsyrk);
  resolve(library, "openblas_set_num_threads", blas.set_num_threads);
  blas.max_threads = max_threads(library);
  return blas;
}

}  // namespace

const Blas& blas() {
  static const Blas loaded = load();
  return loaded;
}

}  // namespace polar_express::runtime::cpu
