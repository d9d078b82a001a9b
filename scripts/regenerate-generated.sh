#!/usr/bin/env bash
# Regenerates generated/: the cpp and cuda outputs of every shipped schedule.
#
#   scripts/regenerate-generated.sh [--cli PATH] [--check]
#
# --cli    the polar-express binary (default build/bin/polar-express)
# --check  regenerate into a temporary directory and compare with the
#          committed files instead of replacing them; exit 1 on any byte of
#          difference (what CI runs, as the CTest test generated_up_to_date).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cli="$root/build/bin/polar-express"
check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cli) cli="$2"; shift 2 ;;
    --check) check=1; shift ;;
    *) echo "regenerate-generated.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$cli" ]]; then
  echo "regenerate-generated.sh: no polar-express binary at '$cli' (build it, or pass --cli)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/generated"
mkdir "$out"

# The fresh designs: degree 3 and degree 7 at l = 1e-3, the fewest steps whose
# certified error is at most 1e-6, with the paper's cushion and its posthoc
# safety factor 0.01.
for degree in 3 7; do
  "$cli" design --degree "$degree" --lower 1e-3 --target-error 1e-6 \
    --cushion 0.02407327424182761 --safety 0.01 --safety-mode posthoc \
    --format json --name "polar-express-d$degree" --output "$work/polar-express-d$degree.json"
done

# Every catalogue list as tables, with the registry the runtime's built-in
# catalogue is compiled from; the CUDA kernel sets of the two shipped lists,
# with the registry the CUDA backend looks them up in.
"$cli" emit --registry --builtin all --target cpp --output "$out"
"$cli" emit --registry --builtin polar-express-paper-d5 --builtin polar-express-nanochat-d5 --target cuda --output "$out"
for target in cpp cuda; do
  "$cli" emit "$work/polar-express-d3.json" --target "$target" --output "$out"
  "$cli" emit "$work/polar-express-d7.json" --target "$target" --output "$out"
done

# generated/README.md is written by hand; everything else is output.
if [[ $check -eq 1 ]]; then
  if ! diff -r --exclude=README.md "$root/generated" "$out"; then
    echo "generated/ is out of date: run scripts/regenerate-generated.sh and commit the result" >&2
    exit 1
  fi
  echo "generated/ is up to date"
else
  find "$root/generated" -maxdepth 1 -type f ! -name README.md -delete
  cp "$out"/* "$root/generated/"
  echo "regenerated $(ls "$out" | wc -l) files in generated/"
fi
