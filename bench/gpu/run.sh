#!/usr/bin/env bash
# The CUDA runtime against the published PyTorch formulation of nanochat's
# 5-step schedule, on the same inputs in the same run (see README.md).
# Needs a GPU, nvcc and PyTorch; not MPFR (the solver is not built) nor Catch2.
#   bench/gpu/run.sh [--repeats R] [--shapes 1x1024x1024,32x512x512] ...
# Writes $OUT/bench_gpu.json when OUT is set; prints a table last.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-bench-gpu}"
if [[ -z "${CUDACXX:-}" && -x /usr/local/cuda/bin/nvcc ]]; then export CUDACXX=/usr/local/cuda/bin/nvcc; fi

# Hopper's arch-specific target only (the timed machine is an H100/H200):
# one device compilation per .cu.  On the device machine,
# scripts/device-bench.sh reuses scripts/device-build.sh's binary instead.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DPOLAR_EXPRESS_BUILD_SOLVER=OFF -DPOLAR_EXPRESS_BUILD_TESTS=OFF -DPOLAR_EXPRESS_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90a >/dev/null
cmake --build "$build" --target bench_gpu_runtime -j "$(nproc)"
exec python3 "$root/bench/gpu/run.py" --binary "$build/bin/bench_gpu_runtime" "$@"
