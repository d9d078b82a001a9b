#!/usr/bin/env bash
# Solver speed: the C++ design against the straightforward mpmath version of
# the same computation (mpmath_design.py), in one run on one machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target bench_design >/dev/null
out=${OUT:-build}
build/bin/bench_design --json "$out/bench_design.json"
paper=(5 1e-3 8 0.02407327424182761 0.01 posthoc 256)
mp_ms=$(python3 bench/solver/mpmath_design.py "${paper[@]}" --repeat 11 | awk '/median_ms/ {print $2}')
cpp_ms=$(python3 -c "import json; print([c['median_ms'] for c in json.load(open('$out/bench_design.json'))['cases'] if c['name'].startswith('paper')][0])")
python3 - "$mp_ms" "$cpp_ms" <<'PY'
import sys
mp_ms, cpp_ms = map(float, sys.argv[1:])
print(f"paper d5 8 steps, 256 bits: mpmath {mp_ms:.2f} ms, polar-express {cpp_ms:.3f} ms, ratio {mp_ms / cpp_ms:.1f}x")
PY
