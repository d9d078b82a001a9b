#!/usr/bin/env bash
# Everything that needs a GPU, in one device call (run from the repository
# root on the device machine, with .deps carried: scripts/fetch-device-deps.sh):
#   1. build with sm_90a + sm_90, the solver and CLI included (MPFR from .deps);
#   2. the whole ctest suite, where the CUDA tests now run instead of skipping;
#   3. the emitted PyTorch function against the CPU runtime (tests/torch);
#   4. bench/gpu: the CUDA runtime against the PyTorch reference.
# Logs and JSON go to $OUT.  Exits non-zero if a check fails.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build-device/out}
mkdir -p "$out"
export CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}
status=0

nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee "$out/gpu.txt"
cmake -S . -B build-device -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PWD/.deps/root/usr" \
  "-DCMAKE_CUDA_ARCHITECTURES=90a;90" \
  >"$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
cmake --build build-device -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }

echo "== ctest (CUDA tests run here)"
ctest --test-dir build-device --output-on-failure -j 4 >"$out/ctest.log" 2>&1 || status=1
build-device/bin/test_runtime "[cuda]" -s -r compact >"$out/test_runtime_cuda.log" 2>&1 || status=1
grep -c "SKIPPED" "$out/test_runtime_cuda.log" | sed 's/^/skipped CUDA checks (must be 0): /'
tail -3 "$out/ctest.log"

echo "== emitted PyTorch function against the CPU runtime"
python3 tests/torch/compare_with_runtime.py --cli build-device/bin/polar-express >"$out/torch_compare.log" 2>&1 ||
  status=1
tail -5 "$out/torch_compare.log"

echo "== bench/gpu"
BUILD_DIR=build-device-bench OUT="$out" bench/gpu/run.sh >"$out/bench.log" 2>&1 || status=1
tail -30 "$out/bench.log"
exit $status
