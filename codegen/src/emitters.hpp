#pragma once
// The per-target emitters; each takes the schedule rounded to the numbers
// its files hold and certified for exactly those (rounded_to), and its
// identifier.
#include "polar_express/codegen/codegen.hpp"

namespace polar_express::codegen::detail {

// `source` for the decimal comments of the coefficients (their
// high-precision values), `doubles` and `floats` for the two tables.
std::string cpp_header(const Schedule& source, const Schedule& doubles, const Schedule& floats,
                       const std::string& id);
std::vector<GeneratedFile> cuda_sources(const Schedule& floats, const std::string& id);
std::string torch_module(const Schedule& doubles, const std::string& id);
GeneratedFile cpp_registry(const std::vector<std::string>& names);
GeneratedFile cuda_registry(const std::vector<std::string>& names);

}  // namespace polar_express::codegen::detail
