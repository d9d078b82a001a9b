#!/usr/bin/env bash
# The main job on a fresh machine: install what it needs (scripts/setup.sh
# without options), build the CLI alone (no CUDA module, tests or
# benchmarks; unity translation units, ccache), design the default schedule
# (the paper's degree-5 list from l = 1e-3), verify it independently of the
# designer, and print its table.  Then, once the table is out, the Python
# package polar_express with numpy into .venv (scripts/python-env.sh, which
# installs its own packages and reuses the objects compiled here).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh

scripts/setup.sh
# Every setting given, so that a build/ configured by scripts/test.sh before
# comes back to the CLI alone.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLAR_EXPRESS_UNITY_BUILD=ON \
  -DPOLAR_EXPRESS_CUDA=OFF -DPOLAR_EXPRESS_BUILD_TESTS=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF >/dev/null
cmake --build build --target polar-express

cli=build/bin/polar-express
design=(design --degree 5 --lower 1e-3 --steps 8 --cushion 0.02407327424182761 --safety 0.01 --safety-mode posthoc)
"$cli" "${design[@]}" --format json --output build/default-schedule.json
echo "== verify build/default-schedule.json on [1e-3, 1]"
"$cli" verify build/default-schedule.json --lower 1e-3 --upper 1
echo "== polar-express ${design[*]}"
"$cli" "${design[@]}"
echo "== the table above in ${SECONDS} s"

echo "== Python package polar_express (into .venv)"
scripts/python-env.sh
.venv/bin/python -c 'import polar_express as pe; print("polar_express", pe.__version__, "in .venv:", len(pe.schedules()), "built-in schedules, solver", pe.has_solver)'
