#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does (.ci/run calls this):
#   1. the Release build (CUDA backend compiled when nvcc is found) and ctest,
#      including the CPU emulation of the fused CUDA kernels under
#      ThreadSanitizer;
#   2. the consumer project of examples/, against an installed package;
#   3. the fuzz targets (clang/libFuzzer): the schedule reader for 30 s, the
#      CLI's argument parser and number readers for 20 s, the tensor-file
#      reader of `analyze` for 20 s;
#   4. the tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      the CPU emulation of the fused CUDA kernels included (it needs the
#      CUDA headers, not nvcc);
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

echo "== fuzzing: schedule reader (30 s), CLI arguments (20 s), tensor files (20 s) (at ${SECONDS} s)"
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOLAR_EXPRESS_FUZZ=ON \
  -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_TESTS=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target schedule_reader_fuzzer cli_arguments_fuzzer tensor_file_fuzzer
mkdir -p build-fuzz/corpus build-fuzz/corpus-cli build-fuzz/corpus-tensors
cp fuzz/corpus/* build-fuzz/corpus/ && cp fuzz/corpus-cli/* build-fuzz/corpus-cli/
cp fuzz/corpus-tensors/* build-fuzz/corpus-tensors/
(cd build-fuzz && bin/schedule_reader_fuzzer -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 corpus 2>&1 | tail -n 3)
(cd build-fuzz && bin/cli_arguments_fuzzer -max_total_time=20 -timeout=10 -rss_limit_mb=2048 -max_len=1024 \
  -print_final_stats=1 corpus-cli 2>&1 | tail -n 3)
(cd build-fuzz && bin/tensor_file_fuzzer -max_total_time=20 -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 corpus-tensors 2>&1 | tail -n 3)

echo "== ASan+UBSan build and tests (at ${SECONDS} s)"
# -O1: the sanitizers need no more, and the MPFR/Eigen templates compile much faster.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DPOLAR_EXPRESS_SANITIZE=ON \
  -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== Python package and pytest (at ${SECONDS} s)"
scripts/python-env.sh --torch
.venv/bin/python -m pytest tests/python -q -rs
