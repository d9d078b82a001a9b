#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does (.ci/run calls this):
#   1. the Release build (CUDA backend compiled when nvcc is found) and ctest,
#      including the CPU emulation of the fused CUDA kernels under
#      ThreadSanitizer;
#   2. the consumer project of examples/, against an installed package;
#   3. two fuzz targets (clang/libFuzzer, scripts/fuzz.sh): the schedule
#      reader for 30 s and the tensor-file reader of `analyze` for 20 s (the
#      CLI-argument fuzzer, which instruments the whole CLI, runs from
#      scripts/fuzz.sh on demand);
#   4. the tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      but for two that step 1 already ran and that cost minutes on two
#      cores: the CPU emulation of the fused CUDA kernels (run there plain
#      and under ThreadSanitizer) and nvcc compiling the emitted kernels;
#   5. the Python package in .venv, with torch (installed once per machine:
#      scripts/python-env.sh), and pytest on tests/python (last, so that its
#      summary closes the output).
# --quick runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ ${1:-} == --quick ]] && quick=1
jobs=$(nproc)

scripts/setup.sh

echo "== Release build and tests (at ${SECONDS} s)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLAR_EXPRESS_EMULATION_TSAN=ON >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
((quick)) && exit 0

echo "== examples/consumer against the installed package (at ${SECONDS} s)"
examples/build-and-run.sh --build-dir build --jobs "$jobs"

echo "== fuzzing: schedule reader (30 s), tensor files (20 s) (at ${SECONDS} s)"
scripts/fuzz.sh 30 schedule_reader_fuzzer
scripts/fuzz.sh 20 tensor_file_fuzzer

echo "== ASan+UBSan build and tests (at ${SECONDS} s)"
# -O1: the sanitizers need no more, and the MPFR/Eigen templates compile much faster.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DPOLAR_EXPRESS_SANITIZE=ON \
  -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -E '^(fused_emulated|codegen_nvcc)$'

echo "== Python package and pytest (at ${SECONDS} s)"
scripts/python-env.sh --torch
.venv/bin/python -m pytest tests/python -q -rs
