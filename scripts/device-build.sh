#!/usr/bin/env bash
# Device stage 1 of 3: builds what the GPU checks run, for sm_90a only (the
# H200), with every core: the runtime and its CUDA module
# (lib/libpolar_express_cuda.so), test_runtime (CPU), test_fused_emulated
# (the fused kernels on the CPU warp emulator), test_runtime_cuda (the GPU
# tests), bench_gpu_runtime, and the CLI polar-express (for tests/torch).  Ninja when present, else Makefiles;
# Catch2, MPFR/GMP and OpenBLAS from .deps (scripts/fetch-device-deps.sh, run where apt
# works; carry .deps).  With OUT set it also packs the binaries into
# $OUT/device-bin.tar.gz, for stages 2 and 3 on a fresh machine (BIN_TARBALL).
#
# Cost, measured on the 2-core development machine shared with other
# builds (upper bounds; see bench/gpu/README.md): about 33 CPU-minutes in
# all, 24 of them the solver and CLI, the longest single compilation
# (plan.cu) 2.5 min; on the device's 16 cores, expect 3 to 4 minutes.
set -euo pipefail
# shellcheck source=scripts/device-env.sh
source "$(dirname "$0")/device-env.sh"
device_identity

generator=("Unix Makefiles")
if command -v ninja >/dev/null; then generator=(Ninja); fi
prefix=()
if [[ -d .deps/root/usr ]]; then prefix=("-DCMAKE_PREFIX_PATH=$PWD/.deps/root/usr"); fi
SECONDS=0
cmake -S . -B "$build" -G "${generator[0]}" -DCMAKE_BUILD_TYPE=Release "${prefix[@]}" \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DPOLAR_EXPRESS_CUDA=ON -DPOLAR_EXPRESS_BUILD_BENCH=ON \
  >"$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
if grep -q "MPFR_LIBRARY:FILEPATH=.*NOTFOUND" "$build/CMakeCache.txt"; then
  echo "MPFR not found: run scripts/fetch-device-deps.sh where apt works and carry .deps" >&2
  exit 1
fi
echo "configured in ${SECONDS} s (${generator[0]})"
cmake --build "$build" -j "$(nproc)" \
  --target polar_express_cuda test_runtime test_fused_emulated test_runtime_cuda bench_gpu_runtime polar-express \
  >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
echo "built in ${SECONDS} s"
if grep -i "warning" "$out/build.log"; then echo "(warnings above: the project keeps them at zero)"; fi
if [[ -n "${OUT:-}" ]]; then
  tar -czf "$OUT/device-bin.tar.gz" -C "$build" \
    bin/test_runtime bin/test_fused_emulated bin/test_runtime_cuda bin/bench_gpu_runtime bin/polar-express \
    lib/libpolar_express_cuda.so
  du -h "$OUT/device-bin.tar.gz"
fi
