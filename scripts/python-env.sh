#!/usr/bin/env bash
# The Python environment of the scripts: .venv at the repository root
# (git-ignored), created once and reused, holding numpy, pytest, mpmath (the
# tests' independent reference), the build tools and the package
# polar_express built from this checkout (pip install ., incremental in
# build-python; ccache, when there, serves it the objects a build/ with the
# same settings compiled: scripts/ccache-env.sh).
# Installs its Debian packages first (scripts/setup.sh --python).
#
#   scripts/python-env.sh [--torch] [--jax] [--no-package]
#
# --torch  also makes torch >= 2.5 importable in .venv.  PyPI's torch for
#          Linux comes with its CUDA libraries (about 5 GB unpacked, minutes to
#          install), so it is installed once per machine and Python version,
#          into $POLAR_EXPRESS_TORCH_DIR (default ~/.cache/polar-express/
#          torch-cpXY), and .venv sees it through a .pth file; fresh clones
#          (CI's) reuse it.
# --no-package  the environment only, without building polar_express
#          (scripts/test.sh: its tests run torch from .venv before the
#          package is built).
# --jax    also installs jax (its CPU build, jaxlib from PyPI) and optax into
#          .venv, for polar_express.jax and its tests (pip install ".[jax]").
# Python: $PYTHON, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."

with_torch=0 with_jax=0 with_package=1
for option in "$@"; do
  case $option in
    --torch) with_torch=1 ;;
    --jax) with_jax=1 ;;
    --no-package) with_package=0 ;;
    *) echo "python-env.sh: unknown option '$option' (expected --torch, --jax or --no-package)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh --python

venv=.venv
if [[ ! -x $venv/bin/python ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
py=$venv/bin/python
pip=("$py" -m pip --disable-pip-version-check --quiet)

missing() {  # the modules among "$@" that $py cannot import
  "$py" - "$@" <<'EOF'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
EOF
}
if [[ -n $(missing numpy pytest mpmath nanobind scikit_build_core) ]]; then
  echo "python-env: installing numpy, pytest, mpmath, nanobind and scikit-build-core into $venv" >&2
  "${pip[@]}" install numpy pytest mpmath "nanobind>=2.4" "scikit-build-core>=0.10"
fi

if ((with_torch)); then
  tag=$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  torch_dir=${POLAR_EXPRESS_TORCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/polar-express/torch-$tag}
  has_torch() {
    PYTHONPATH=$torch_dir "$py" -c 'import sys, torch
major, minor = (int(v) for v in torch.__version__.split(".")[:2])
sys.exit(0 if (major, minor) >= (2, 5) else 1)' 2>/dev/null
  }
  if ! has_torch; then
    mkdir -p "$(dirname "$torch_dir")"
    (
      flock 9  # one installer per machine; the others wait, then reuse it
      if ! has_torch; then
        echo "python-env: installing torch>=2.5 into $torch_dir (once per machine)" >&2
        start=$SECONDS
        rm -rf "$torch_dir.partial"
        "${pip[@]}" install --target "$torch_dir.partial" "torch>=2.5"
        rm -rf "$torch_dir"
        mv "$torch_dir.partial" "$torch_dir"
        echo "python-env: torch installed in $((SECONDS - start)) s" >&2
      fi
    ) 9>"$torch_dir.lock"
  fi
  site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$torch_dir" >"$site/polar_express_torch.pth"
fi

if ((with_jax)) && [[ -n $(missing jax optax) ]]; then
  echo "python-env: installing jax (CPU) and optax into $venv" >&2
  "${pip[@]}" install jax optax
fi

((with_package)) || exit 0

# shellcheck source=scripts/ccache-env.sh
source scripts/ccache-env.sh
options=()
# The CUDA module (built when nvcc is found) runs only on a GPU: on a machine
# without one (CI), it is not compiled a second time for the package.
if ! nvidia-smi -L >/dev/null 2>&1; then
  options+=(-C cmake.define.POLAR_EXPRESS_CUDA=OFF)
fi
echo "python-env: building and installing polar_express into $venv (build-python)" >&2
start=$SECONDS
"${pip[@]}" install --no-build-isolation --no-deps "${options[@]}" .
echo "python-env: polar_express installed in $((SECONDS - start)) s" >&2
