# Warnings every target of the project is built with; kept at zero.
add_library(polar_express_warnings INTERFACE)
target_compile_options(polar_express_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow>)
