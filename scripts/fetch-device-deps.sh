#!/usr/bin/env bash
# The GPU device machine (Ubuntu 24.04, nvcc, PyTorch, Eigen/Boost/fmt/CLI11/
# nlohmann headers) lacks Catch2 and the MPFR/GMP development files and reaches
# no registry.  Run this here, where apt works: it unpacks Debian's packages
# into .deps/root (git-ignored), which CMake searches after the system; a
# device call then carries .deps (see scripts/device-build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(catch2 libmpfr-dev libmpfr6 libgmp-dev libgmp10
          libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5)
rm -rf .deps && mkdir -p .deps/debs .deps/root
(cd .deps/debs && apt-get download "${packages[@]}" >/dev/null)
for deb in .deps/debs/*.deb; do dpkg -x "$deb" .deps/root; done
rm -rf .deps/debs
du -sh .deps
