#!/usr/bin/env bash
# Device stage 2 of 3: every GPU check once, on stage 1's binaries (no
# build), none of them allowed to skip:
#   test_runtime_cuda   every CUDA test (its exit code 77, "skipped", fails
#                       here), with each test case's duration;
#   test_runtime        CPU backend, the iteration program and the fused-
#                       kernel choice with a device present (beside the first);
#   test_fused_emulated the fused kernels on the CPU warp emulator;
#   torch_snippet       the emitted PyTorch function against the CPU runtime,
#                       on the CPU and the GPU (tests/torch).
# Logs in $OUT (one per check); a table last.  Exits 1 if a check failed or
# was skipped.  Cost: no compilation; test_runtime takes about 1.5 CPU-
# minutes (measured here, emulation included), test_runtime_cuda is
# dominated by its CPU references and SVDs (about a minute expected); each
# check is cut at 420 s so that the stage ends inside one 10-minute call.
set -uo pipefail
# shellcheck source=scripts/device-env.sh
source "$(dirname "$0")/device-env.sh"
require_binaries test_runtime test_fused_emulated test_runtime_cuda polar-express
device_identity

limit=420
names=() codes=() times=()
# check NAME COMMAND...: runs it under the limit, its log in $out/NAME.log.
check() {
  local name=$1 start=$SECONDS
  shift
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local code=$?
  names+=("$name") codes+=("$code") times+=($((SECONDS - start)))
  if ((code != 0)); then
    echo "== $name exited $code; its log ends:"
    tail -30 "$out/$name.log"
  fi
}

# The CPU suite runs beside the GPU one (16 cores; the GPU suite's
# references are mostly single-threaded).
timeout "$limit" "$build/bin/test_runtime" >"$out/test_runtime.log" 2>&1 &
cpu_suite=$! cpu_start=$SECONDS
check test_runtime_cuda "$build/bin/test_runtime_cuda" --durations yes
check test_fused_emulated "$build/bin/test_fused_emulated"
check torch_snippet python3 tests/torch/compare_with_runtime.py --cli "$build/bin/polar-express" \
  --published tests/data/published_schedules.json
wait "$cpu_suite"
code=$?
names+=(test_runtime) codes+=("$code") times+=($((SECONDS - cpu_start)))
((code == 0)) || { echo "== test_runtime exited $code; its log ends:"; tail -30 "$out/test_runtime.log"; }

status=0 skipped=0
printf '%-18s %-8s %s\n' check result seconds
for i in "${!names[@]}"; do
  case ${codes[$i]} in
    0) result=passed ;;
    77) result=SKIPPED skipped=$((skipped + 1)) status=1 ;;
    124) result=TIMEOUT status=1 ;;
    *) result=FAILED status=1 ;;
  esac
  printf '%-18s %-8s %s\n' "${names[$i]}" "$result" "${times[$i]}"
done
echo "skipped: $skipped (must be 0)"
exit $status
