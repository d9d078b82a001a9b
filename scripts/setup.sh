#!/usr/bin/env bash
# Installs the Debian packages a step needs; does nothing (fast) when all are
# present.  Needs root or sudo only when something is missing.
#
#   scripts/setup.sh [--tests] [--fuzz] [--python]
#
# Without options: what the main job builds with (the CLI: design, verify,
# emit, run on the CPU, analyze) and ccache.  Each option adds a step's own:
#   --tests   the test suites (scripts/test.sh)
#   --fuzz    clang and libFuzzer (scripts/fuzz.sh)
#   --python  the Python package's .venv and extension (scripts/python-env.sh)
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache           # toolchain; ccache keeps compiled objects between builds
  libboost-dev libmpfr-dev libgmp-dev    # solver: Boost.Multiprecision on MPFR
  libeigen3-dev                          # linear algebra (solver and CPU runtime)
  libopenblas-dev                        # the CPU runtime's BLAS (threaded OpenBLAS)
  libfmt-dev libcli11-dev nlohmann-json3-dev
)
for option in "$@"; do
  case $option in
    --tests)
      packages+=(
        catch2                           # the suites (v2)
        clang                            # an emitted header compiles with clang++ too
        gnuplot-nox                      # verify --plot draws its SVG and PNG
        python3                          # emitted torch code parses; tiny-model data regenerates
      ) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;  # libFuzzer and the sanitizers' runtimes
    --python) packages+=(python3 python3-venv python3-dev) ;;
    *) echo "setup.sh: unknown option '$option' (expected --tests, --fuzz or --python)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
# Listed once even when two options name it.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

echo "setup: installing ${missing[*]}" >&2
as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo)
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
