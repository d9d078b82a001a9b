#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (clang/libFuzzer) for SECONDS each
# (default 60): the schedule reader, analyze's tensor-file reader, and the
# CLI's argument parser and value readers.  The last one instruments the
# whole CLI (solver, codegen, runtime), a long build on two cores, so CI
# (scripts/test.sh) runs only the first two, for 30 and 20 s.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
targets=("$@")
((${#targets[@]})) || targets=(schedule_reader_fuzzer tensor_file_fuzzer cli_arguments_fuzzer)

declare -A corpus=([schedule_reader_fuzzer]=corpus [tensor_file_fuzzer]=corpus-tensors
                   [cli_arguments_fuzzer]=corpus-cli)
declare -A max_len=([schedule_reader_fuzzer]=4096 [tensor_file_fuzzer]=4096 [cli_arguments_fuzzer]=1024)
for target in "${targets[@]}"; do
  [[ -n ${corpus[$target]:-} ]] || { echo "fuzz.sh: unknown target '$target'" >&2; exit 2; }
done

scripts/setup.sh --fuzz
# The debug paths relative to the repository root, so that ccache hits from a
# clone at another path too.
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOLAR_EXPRESS_FUZZ=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g -DNDEBUG -fdebug-prefix-map=$PWD=." \
  -DPOLAR_EXPRESS_UNITY_BUILD=ON -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_TESTS=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"
for target in "${targets[@]}"; do
  dir=build-fuzz/${corpus[$target]}
  mkdir -p "$dir" && cp "fuzz/${corpus[$target]}"/* "$dir/"
  echo "== $target ($seconds s)"
  (cd build-fuzz && "bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="${max_len[$target]}" -print_final_stats=1 "${corpus[$target]}" 2>&1 | tail -n 3)
done
