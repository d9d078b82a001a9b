#!/usr/bin/env bash
# Certification speed before and after rigorous enclosures, side by side in
# one run: the same bench_certify.cpp compiled with the same flags against
# the solver library of BASE (default 078ac28, the revision before issue 16)
# and of the working tree, run alternately ROUNDS times.
#
#   bench/solver/compare_certify.sh [BASE] [ROUNDS]
#
# Prints each case's median (over the rounds, of each round's median) for
# both and their ratio; OUT (default build/bench-certify) keeps the JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-078ac28}
rounds=${2:-3}
out=${OUT:-build/bench-certify}
mkdir -p "$out"

build_library() {  # source dir, build dir
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLAR_EXPRESS_CUDA=OFF >/dev/null
  cmake --build "$2" --target polar_express_solver >/dev/null
}
compile_bench() {  # source dir, build dir, binary
  g++ -std=c++17 -O3 -DNDEBUG -I"$1/solver/include" bench/solver/bench_certify.cpp \
    "$2/solver/libpolar_express_solver.a" -lmpfr -lgmp -o "$3"
}

# BASE's tree, extracted once per revision (a fresh extraction would rebuild it).
revision=$(git rev-parse "$base^{commit}")
if [[ "$(cat "$out/base-src/.revision" 2>/dev/null)" != "$revision" ]]; then
  rm -rf "$out/base-src" "$out/base-build"
  mkdir -p "$out/base-src"
  git archive "$revision" | tar -x -C "$out/base-src"
  echo "$revision" >"$out/base-src/.revision"
fi
build_library "$out/base-src" "$out/base-build"
compile_bench "$out/base-src" "$out/base-build" "$out/bench_certify_base"
build_library . "$out/head-build"
compile_bench . "$out/head-build" "$out/bench_certify_head"

for ((r = 1; r <= rounds; ++r)); do
  "$out/bench_certify_base" --json "$out/base-$r.json" >/dev/null
  "$out/bench_certify_head" --json "$out/head-$r.json" >/dev/null
done

python3 - "$out" "$rounds" "$base" <<'PY'
import json, statistics, sys
out, rounds, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def medians(kind):
    runs = [json.load(open(f"{out}/{kind}-{r}.json"))["cases"] for r in range(1, rounds + 1)]
    return {c["name"]: statistics.median(run[i]["median_ms"] for run in runs) for i, c in enumerate(runs[0])}
before, after = medians("base"), medians("head")
print(f"{'case (256 bits)':<28} {base + ' ms':>12} {'rigorous ms':>12} {'ratio':>7}")
for name in before:
    print(f"{name:<28} {before[name]:>12.2f} {after[name]:>12.2f} {after[name] / before[name]:>7.2f}")
PY
