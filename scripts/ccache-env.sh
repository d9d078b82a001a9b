# Sourced by the build scripts (quickstart.sh, test.sh, fuzz.sh,
# python-env.sh, examples/build-and-run.sh): the compiler cache they share,
# when ccache is installed.  CMake's first configuration of a build
# directory, the Python build's included, takes ccache as its compiler
# launcher from the environment.  ccache keeps its default cache directory,
# so objects survive from one run to the next on the same machine;
# CCACHE_BASEDIR at the repository root makes the paths it hashes relative,
# so a clone at any path, and any build directory beside build/
# (build-asan, build-python, ...), hits what another compiled with the same
# flags.
if command -v ccache >/dev/null; then
  CCACHE_BASEDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  export CCACHE_BASEDIR
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi
