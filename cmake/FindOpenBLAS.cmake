# Finds OpenBLAS (its CBLAS header and library) and defines the imported
# target OpenBLAS::OpenBLAS.  The runtime's CPU backend calls CBLAS and
# OpenBLAS's thread-count setting.  Installed with the package config so
# that consumers find it the same way.
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

if(OpenBLAS_FOUND AND NOT TARGET OpenBLAS::OpenBLAS)
  add_library(OpenBLAS::OpenBLAS UNKNOWN IMPORTED)
  set_target_properties(OpenBLAS::OpenBLAS PROPERTIES
    IMPORTED_LOCATION "${OpenBLAS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIR}")
endif()
