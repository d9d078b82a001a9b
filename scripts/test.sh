#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does (.ci/run calls this):
#   1. the Release build (CUDA backend compiled when nvcc is found) and ctest;
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the schedule-reader fuzz target for a few seconds (clang/libFuzzer);
#   4. the consumer project of examples/, against an installed package.
# --quick runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ ${1:-} == --quick ]] && quick=1
jobs=$(nproc)

scripts/setup.sh

echo "== Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
((quick)) && exit 0

echo "== ASan+UBSan build and tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOLAR_EXPRESS_SANITIZE=ON \
  -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
