#!/usr/bin/env bash
# CI check of the package as users get it: install polar-express into a
# temporary prefix, build examples/consumer against it (find_package) and
# against the source tree (add_subdirectory), run both, check their verdicts.
#
#   examples/build-and-run.sh [--jobs N] [--build-dir DIR]
#
# --build-dir  install from this existing build of the repository (built
#              first if out of date) instead of configuring a fresh one
#
# The consumers are configured afresh in build-consumer-package and
# build-consumer-subdirectory beside build/ (removed at the end), with ccache
# when it is there (scripts/ccache-env.sh): the subdirectory build compiles
# the libraries from the same relative paths with the same settings as a
# unity Release build/ and gets its objects from the cache.
#
# Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/ccache-env.sh
source "$root/scripts/ccache-env.sh"
jobs=2
main_build=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --build-dir) main_build=$(cd "$2" && pwd); shift 2 ;;
    *) echo "build-and-run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

work=$(mktemp -d)
builds=("$root/build-consumer-package" "$root/build-consumer-subdirectory")
rm -rf "${builds[@]}"
trap 'rm -rf "$work" "${builds[@]}"' EXIT

echo "== build and install polar-express into $work/prefix"
if [[ -z "$main_build" ]]; then
  main_build="$work/main"
  cmake -S "$root" -B "$main_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DPOLAR_EXPRESS_BUILD_TESTS=OFF -DPOLAR_EXPRESS_BUILD_BENCH=OFF -DPOLAR_EXPRESS_CUDA=OFF \
    -DPOLAR_EXPRESS_UNITY_BUILD=ON >/dev/null
fi
cmake --build "$main_build" -j "$jobs" >/dev/null
cmake --install "$main_build" --prefix "$work/prefix" >/dev/null

status=0
for use in package subdirectory; do
  echo "== consumer via $use"
  build="$root/build-consumer-$use"
  unity=()
  [[ $use == subdirectory ]] && unity=(-DPOLAR_EXPRESS_UNITY_BUILD=ON)
  cmake -S "$root/examples/consumer" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DPOLAR_EXPRESS_CONSUMER_USE="$use" -DCMAKE_PREFIX_PATH="$work/prefix" "${unity[@]}" >/dev/null
  cmake --build "$build" -j "$jobs" >/dev/null
  if output=$("$build/consumer") && [[ "$(tail -n 1 <<<"$output")" == "OK" ]]; then
    echo "$output"
  else
    echo "$output"
    echo "consumer via $use FAILED" >&2
    status=1
  fi
done
exit $status
