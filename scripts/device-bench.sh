#!/usr/bin/env bash
# Device stage 3 of 3: bench/gpu on a subset of the issue's shapes with few
# repeats, running stage 1's bench_gpu_runtime (no build) against
# torch.compile of the published formulation in the same run (bench/gpu/run.py).
# Defaults below; any run.py argument given here overrides them, e.g.
#   scripts/device-bench.sh --shapes 1x1024x1024,16384x4096 --variants auto,specialised
# JSON in $OUT/bench_gpu.json, per-row progress in $OUT/bench.log, a table last.
# Cost: no compilation; about 4 minutes expected for the defaults (one
# torch.compile per shape, 5-6 variants x 6 shapes of a process each, and
# an SVD per output for max |1 - sigma|: those of 8192^2 dominate).
set -euo pipefail
# shellcheck source=scripts/device-env.sh
source "$(dirname "$0")/device-env.sh"
require_binaries bench_gpu_runtime
device_identity

# Square small/large (generic, symmetric), rectangular (Gram), batched, and
# the two fused-kernel shapes.
shapes=1x2048x2048,1x8192x8192,1x4096x16384,8x1024x4096,32x512x512,64x128x768
OUT="$out" PYTHONUNBUFFERED=1 python3 bench/gpu/run.py --binary "$build/bin/bench_gpu_runtime" \
  --shapes "$shapes" --spectra gaussian --repeats 10 "$@" 2>"$out/bench.log"
