#pragma once
// OpenBLAS, loaded on the first CPU plan rather than with the program: its
// load-time initialisation starts a thread per core and allocates its
// buffers, which would cost every process that links the runtime (the CLI's
// design/verify/emit, `import polar_express`) milliseconds it never uses.
// The load names the kernel set for this machine (cpu_info.hpp says why).
// Internal to runtime/src.
#include "polar_express/runtime/cpu_info.hpp"

#include <cblas.h>

namespace polar_express::runtime::cpu {

// The CBLAS and OpenBLAS entry points the CPU backend calls, and what the
// library reported when it was loaded.
struct Blas {
  decltype(&cblas_sgemm) sgemm;
  decltype(&cblas_dgemm) dgemm;
  decltype(&cblas_ssyrk) ssyrk;
  decltype(&cblas_dsyrk) dsyrk;
  decltype(&openblas_set_num_threads) set_num_threads;
  BlasInfo info;
  // The build's NUM_THREADS (MAX_THREADS in openblas_get_config(); without
  // it, the default thread count, which OpenBLAS caps at NUM_THREADS).  Its
  // memory buffers, one held by each thread inside a call, number twice
  // that, and it aborts when more are needed (OpenBLAS's USAGE.md, "too many
  // memory regions").
  int max_threads;
};

// The library, loaded once (thread-safe) on the first call: the OpenBLAS
// the runtime was configured with, else the soname libopenblas.so.0 on the
// loader's path.  Unless the process already holds it or the user set
// OPENBLAS_CORETYPE, the load runs with OPENBLAS_CORETYPE naming the core
// openblas_core() chooses (and OPENBLAS_NUM_THREADS, unless a thread count
// is set, at usable_cpus()), both removed from the environment again once
// it is loaded.  Throws std::runtime_error naming what was tried and why it
// failed; a later call tries again.
const Blas& blas();

}  // namespace polar_express::runtime::cpu
