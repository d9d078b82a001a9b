# shellcheck shell=bash
# Sourced by the staged device scripts (device-build.sh, device-test.sh,
# device-bench.sh): the repository root as working directory, the build
# tree they share, where logs go, and the GPU's identity.
#   BUILD_DIR  build tree (default build-device)
#   OUT        logs and results (the device tool's output folder; default $BUILD_DIR/out)
#   BIN_TARBALL  stage 1's binaries, packed, when the build tree is gone (a
#              fresh machine): unpacked into $BUILD_DIR/bin by stages 2 and 3
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
build=${BUILD_DIR:-build-device}
out=${OUT:-$build/out}
mkdir -p "$out"
if [[ -z "${CUDACXX:-}" && -x /usr/local/cuda/bin/nvcc ]]; then export CUDACXX=/usr/local/cuda/bin/nvcc; fi
# The carried libraries (.deps: OpenBLAS and its gfortran, MPFR, GMP) for the
# binaries to load.
for dir in .deps/root/usr/lib/x86_64-linux-gnu .deps/root/usr/lib/x86_64-linux-gnu/openblas-pthread; do
  [[ -d $dir ]] && export LD_LIBRARY_PATH="$PWD/$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done

# Prints (and saves) the GPU, driver and toolkit versions.
device_identity() {
  {
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader
    else
      echo "nvidia-smi: not found"
    fi
    "${CUDACXX:-nvcc}" --version 2>/dev/null | tail -1
    echo "cores: $(nproc)"
  } | tee "$out/gpu.txt"
}

# Stage 1's binaries: the build tree's, else unpacked from BIN_TARBALL.
require_binaries() {
  if [[ ! -x "$build/bin/test_runtime_cuda" && -n "${BIN_TARBALL:-}" ]]; then
    mkdir -p "$build" && tar -xzf "$BIN_TARBALL" -C "$build"
  fi
  for binary in "$@"; do
    if [[ ! -x "$build/bin/$binary" ]]; then
      echo "$build/bin/$binary is missing: run scripts/device-build.sh first (or set BIN_TARBALL)" >&2
      exit 2
    fi
  done
}
