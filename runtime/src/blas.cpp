#include "blas.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace polar_express::runtime::cpu {
namespace {

const char* const kCandidates[] = {POLAR_EXPRESS_OPENBLAS_LIBRARY, "libopenblas.so.0"};

template <class Function>
void resolve(void* library, const char* name, Function& entry) {
  entry = reinterpret_cast<Function>(dlsym(library, name));
  if (entry == nullptr) {
    throw std::runtime_error(std::string("the CPU backend's BLAS has no ") + name +
                             " (an OpenBLAS library is needed)");
  }
}

// From the library's configuration text (openblas_get_config()).
int max_threads(const std::string& config, void* library) {
  const std::string key = "MAX_THREADS=";
  const std::size_t at = config.find(key);
  if (at != std::string::npos) {
    const int value = std::atoi(config.c_str() + at + key.size());
    if (value > 0) return value;
  }
  decltype(&openblas_get_num_threads) threads = nullptr;
  resolve(library, "openblas_get_num_threads", threads);
  return std::max(1, threads());
}

// Environment variables set for the library's load only: its initialisation
// reads them once.  (setenv is not safe against a concurrent getenv in
// another thread; the load happens once, at the first CPU plan.)
class LoadEnvironment {
 public:
  void set(const char* name, const std::string& value) {
    if (std::getenv(name) != nullptr) return;
    setenv(name, value.c_str(), 0);
    names_.push_back(name);
  }
  ~LoadEnvironment() {
    for (const char* name : names_) unsetenv(name);
  }

 private:
  std::vector<const char*> names_;
};

void* already_loaded() {
  for (const char* name : kCandidates) {
    if (void* library = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) return library;
  }
  return nullptr;
}

void* open_library(std::string& failures) {
  for (const char* name : kCandidates) {
    // Never closed: plans may run until the process exits.
    if (void* library = dlopen(name, RTLD_NOW | RTLD_LOCAL)) return library;
    const char* reason = dlerror();
    failures += std::string(failures.empty() ? "" : "; ") + (reason != nullptr ? reason : name);
  }
  return nullptr;
}

std::string text_of(void* library, const char* function) {
  using Getter = char* (*)();
  const auto get = reinterpret_cast<Getter>(dlsym(library, function));
  const char* text = get != nullptr ? get() : nullptr;
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

Blas load() {
  BlasInfo info;
  info.usable_cpus = usable_cpus();
  info.cpu = this_cpu_name();
  info.features = this_cpu_features();
  void* library = already_loaded();
  if (library != nullptr) {
    info.core_source = "loaded before polar-express";
  } else {
    LoadEnvironment environment;
    if (const char* user = std::getenv("OPENBLAS_CORETYPE")) {
      info.requested = user;
      info.core_source = "OPENBLAS_CORETYPE (environment)";
    } else if (const std::optional<std::string> core = this_machine_openblas_core()) {
      info.requested = *core;
      info.core_source = "polar-express (CPU features)";
      environment.set("OPENBLAS_CORETYPE", *core);
    } else {
      info.core_source = "OpenBLAS (its own detection)";
    }
    if (!std::getenv("OPENBLAS_NUM_THREADS") && !std::getenv("GOTO_NUM_THREADS") && !std::getenv("OMP_NUM_THREADS")) {
      environment.set("OPENBLAS_NUM_THREADS", std::to_string(info.usable_cpus));
    }
    std::string failures;
    library = open_library(failures);
    if (library == nullptr) throw std::runtime_error("the CPU backend cannot load OpenBLAS: " + failures);
  }
  Blas blas{};
  resolve(library, "cblas_sgemm", blas.sgemm);
  resolve(library, "cblas_dgemm", blas.dgemm);
  resolve(library, "cblas_ssyrk", blas.ssyrk);
  resolve(library, "cblas_dsyrk", blas.dsyrk);
  resolve(library, "openblas_set_num_threads", blas.set_num_threads);
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(blas.sgemm), &where) != 0 && where.dli_fname != nullptr) {
    info.library = where.dli_fname;
  }
  info.config = text_of(library, "openblas_get_config");
  info.core = text_of(library, "openblas_get_corename");
  blas.max_threads = max_threads(info.config, library);
  blas.info = std::move(info);
  return blas;
}

}  // namespace

const Blas& blas() {
  static const Blas loaded = load();
  return loaded;
}

}  // namespace polar_express::runtime::cpu

namespace polar_express::runtime {

const BlasInfo& cpu_blas_info() { return cpu::blas().info; }

}  // namespace polar_express::runtime
