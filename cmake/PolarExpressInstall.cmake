# Installs the libraries, their public headers and a package config so that a
# consumer can find_package(PolarExpress) and link PolarExpress::<component>.
include(CMakePackageConfigHelpers)

set(_pe_targets polar_express_vocabulary polar_express_runtime)
if(TARGET polar_express_cuda)
  list(APPEND _pe_targets polar_express_cuda)
endif()
if(POLAR_EXPRESS_BUILD_SOLVER)
  list(APPEND _pe_targets polar_express_solver polar_express_bridge polar_express_codegen)
endif()
install(TARGETS ${_pe_targets} EXPORT PolarExpressTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY runtime/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The find modules of the dependencies the exported targets name.
install(FILES cmake/FindMPFR.cmake cmake/FindGMP.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PolarExpress)
install(DIRECTORY generated/ DESTINATION ${CMAKE_INSTALL_DATADIR}/polar_express/generated
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.cu" PATTERN "*.cuh")
if(POLAR_EXPRESS_BUILD_SOLVER)
  install(DIRECTORY solver/include/ bridge/include/ codegen/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS polar-express RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT PolarExpressTargets NAMESPACE PolarExpress::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PolarExpress)
configure_package_config_file(cmake/PolarExpressConfig.cmake.in
  ${PROJECT_BINARY_DIR}/PolarExpressConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PolarExpress
  PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/PolarExpressConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/PolarExpressConfig.cmake
  ${PROJECT_BINARY_DIR}/PolarExpressConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PolarExpress)
