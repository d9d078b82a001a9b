#!/usr/bin/env bash
# For machines without Catch2 (the GPU device machine): unpack Debian's catch2
# package into .deps/catch2, where tests/CMakeLists.txt looks for it.  Run on a
# machine with apt, then carry .deps/ along.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps
(cd .deps && apt-get download catch2 >/dev/null)
dpkg -x .deps/catch2_*.deb .deps/catch2
rm -f .deps/catch2_*.deb
echo ".deps/catch2/usr/include/catch2/catch.hpp"
