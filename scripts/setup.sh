#!/usr/bin/env bash
# Installs the Debian packages the project builds with; does nothing (fast)
# when all are present.  Needs root or sudo only when something is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build                  # toolchain
  libboost-dev libmpfr-dev libgmp-dev    # solver: Boost.Multiprecision on MPFR
  libeigen3-dev                          # linear algebra (solver and CPU runtime)
  libopenblas-dev                        # the CPU runtime's BLAS (threaded OpenBLAS)
  libfmt-dev libcli11-dev nlohmann-json3-dev
  catch2                                 # tests (v2)
  clang libclang-rt-14-dev               # generated-header check; libFuzzer for the fuzz target
  gnuplot-nox                            # verify --plot
  python3                                # generated torch snippet syntax check
  python3-torch                          # the emitted torch function run against the runtime (CPU)
  python3-venv python3-dev               # the Python package: .venv and the extension's headers
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo)
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
