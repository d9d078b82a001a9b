#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does (.ci/run calls this):
#   1. the Release build (CUDA backend compiled when nvcc is found) and ctest,
#      including the CPU emulation of the fused CUDA kernels, also under
#      ThreadSanitizer, and torch_snippet with .venv's torch (made first:
#      scripts/python-env.sh --no-package);
#   2. the consumer project of examples/, against an installed package;
#   3. two fuzz targets (clang/libFuzzer, scripts/fuzz.sh): the schedule
#      reader for 30 s and the tensor-file reader of `analyze` for 20 s (the
#      CLI-argument fuzzer, which instruments the whole CLI, runs from
#      scripts/fuzz.sh on demand);
#   4. the tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      but for two that step 1 already ran and that cost minutes on two
#      cores, which are not built there either: the CPU emulation of the
#      fused CUDA kernels (run in step 1 plain and under ThreadSanitizer) and
#      nvcc compiling the emitted kernels;
#   5. the Python package in .venv, with torch (installed once per machine:
#      scripts/python-env.sh) and jax with optax (polar_express.jax's
#      tests), from the objects step 1 compiled (ccache), and pytest on
#      tests/python;
#   6. the benchmarks once each on their smallest case, so that they keep
#      running (their numbers are bench/RESULTS.md's, measured quietly).
# Each step installs the Debian packages it needs (scripts/setup.sh).  Every
# build goes through ccache when it is there (scripts/ccache-env.sh), whose
# cache outlives the clone: a second run on the same machine compiles little.
# The solver, codegen and CLI compile as unity translation units
# (POLAR_EXPRESS_UNITY_BUILD).  A table of the stages' seconds ends every
# run, passed or failed.
# --quick runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh
# torch.compile's cache in this clone: one shared by the machine's clones
# (/tmp/torchinductor_$USER) serves code compiled against another clone's
# op schema.
export TORCHINDUCTOR_CACHE_DIR="$PWD/build/torchinductor"

quick=0
[[ ${1:-} == --quick ]] && quick=1
jobs=$(nproc)

stage_names=() stage_seconds=() stage="" stage_start=0
end_stage() {
  if [[ -n $stage ]]; then
    stage_names+=("$stage") stage_seconds+=($((SECONDS - stage_start)))
    stage=""
  fi
}
begin_stage() {
  end_stage
  stage=$1 stage_start=$SECONDS
  echo "== $stage (at ${SECONDS} s)"
}
print_stages() {
  local status=$?
  [[ -n $stage && $status -ne 0 ]] && stage="$stage: FAILED"
  end_stage
  echo "== stage timings"
  printf '%8s  %s\n' seconds stage
  for i in "${!stage_names[@]}"; do printf '%8d  %s\n' "${stage_seconds[i]}" "${stage_names[i]}"; done
  printf '%8d  %s\n' "$SECONDS" "total"
  exit "$status"
}
trap print_stages EXIT

begin_stage "packages and .venv with torch"
scripts/setup.sh --tests
scripts/python-env.sh --torch --jax --no-package

begin_stage "Release build"
# The CUDA module for one architecture: sm_80 and sm_90a compile the same
# source (warp_mma.cuh's paths differ below sm_80 only), and a machine
# without a GPU runs none of it; codegen_nvcc compiles an emitted kernel set
# for sm_80, the module here is sm_90a's, so both are checked.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLAR_EXPRESS_UNITY_BUILD=ON \
  -DPOLAR_EXPRESS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a -DPOLAR_EXPRESS_BUILD_TESTS=ON -DPOLAR_EXPRESS_BUILD_BENCH=ON \
  -DPOLAR_EXPRESS_EMULATION=ON -DPOLAR_EXPRESS_EMULATION_TSAN=ON -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build build -j "$jobs"

begin_stage "Release tests"
ctest --test-dir build --output-on-failure -j "$jobs"
((quick)) && exit 0

begin_stage "examples/consumer against the installed package"
examples/build-and-run.sh --build-dir build --jobs "$jobs"

begin_stage "fuzzing: schedule reader (30 s), tensor files (20 s)"
scripts/fuzz.sh 30 schedule_reader_fuzzer
scripts/fuzz.sh 20 tensor_file_fuzzer

begin_stage "ASan+UBSan build"
# -O1: the sanitizers need no more, and the MPFR/Eigen templates compile much
# faster.  The debug paths relative to the repository root, so that ccache
# hits from a clone at another path too.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1 -fdebug-prefix-map=$PWD=." \
  -DPOLAR_EXPRESS_SANITIZE=ON -DPOLAR_EXPRESS_UNITY_BUILD=ON \
  -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF -DPOLAR_EXPRESS_EMULATION=OFF \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build build-asan -j "$jobs"

begin_stage "ASan+UBSan tests"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -E '^codegen_nvcc$'

begin_stage "Python package (build-python)"
scripts/python-env.sh --torch --jax

begin_stage "pytest"
.venv/bin/python -m pytest tests/python -q -rs

begin_stage "benchmarks, smallest case once"
.venv/bin/python bench/cpu/run.py --shapes 128x128 --dtypes f32 --repeats 1
.venv/bin/python bench/python/muon_step.py --width 128 --layers 2 --repeats 1
