#pragma once
// The per-target emitters; each takes a certified schedule and its identifier.
#include "polar_express/codegen/codegen.hpp"

namespace polar_express::codegen::detail {

std::string cpp_header(const Schedule& schedule, const std::string& id);
std::vector<GeneratedFile> cuda_sources(const Schedule& schedule, const std::string& id);
std::string torch_module(const Schedule& schedule, const std::string& id);
GeneratedFile cpp_registry(const std::vector<std::string>& names);
GeneratedFile cuda_registry(const std::vector<std::string>& names);

}  // namespace polar_express::codegen::detail
