# Finds OpenBLAS: OpenBLAS_INCLUDE_DIR (cblas.h) and OpenBLAS_LIBRARY.  The
# runtime's CPU backend calls CBLAS and OpenBLAS's thread-count setting
# through the library it loads on first use (runtime/src/blas.hpp): it
# compiles against the header and records the library's path.
#
# Debian/Ubuntu keep the header in an arch directory under a variant
# suffix (openblas-pthread, openblas-openmp); .deps/root (the device
# machine's unpacked packages) is searched through CMAKE_PREFIX_PATH.
find_path(OpenBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES openblas-pthread openblas include/openblas-pthread include/x86_64-linux-gnu/openblas-pthread
                x86_64-linux-gnu/openblas-pthread include/aarch64-linux-gnu/openblas-pthread
                aarch64-linux-gnu/openblas-pthread)
find_library(OpenBLAS_LIBRARY NAMES openblas
  PATH_SUFFIXES openblas-pthread x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-pthread)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenBLAS REQUIRED_VARS OpenBLAS_LIBRARY OpenBLAS_INCLUDE_DIR)
mark_as_advanced(OpenBLAS_INCLUDE_DIR OpenBLAS_LIBRARY)
