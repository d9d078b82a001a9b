// The registries: several schedules' generated files listed by name, so the
// runtime (its built-in catalogue) and the CUDA backend (its shipped kernel
// sets) look schedules up instead of naming each one in code.
#include "emitters.hpp"
#include "text.hpp"

namespace polar_express::codegen::detail {
namespace {

std::string names_comment(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return comment_text(out);
}

// One #include line and one registry entry per schedule.
GeneratedFile fill(const char* file, const char* templ, const std::vector<std::string>& names,
                   const std::string& include_suffix, const std::string& entry_format) {
  std::string includes, entries;
  for (const std::string& name : names) {
    const std::string id = identifier(name);
    includes += "#include \"" + id + include_suffix + "\"\n";
    std::string entry = entry_format;
    for (std::size_t at = entry.find("@ID@"); at != std::string::npos; at = entry.find("@ID@")) {
      entry.replace(at, 4, id);
    }
    entries += "    {" + c_string_literal(name) + ", " + entry + "},\n";
  }
  return {file, substitute(templ, {{"FILE", file},
                                   {"NAMES_COMMENT", names_comment(names)},
                                   {"INCLUDES", includes},
                                   {"ENTRIES", entries}})};
}

}  // namespace

GeneratedFile cpp_registry(const std::vector<std::string>& names) {
  return fill("polar_express_registry.hpp", kCppRegistryTemplate, names, ".hpp",
              "[] { return polar_express::runtime::schedule_from_generated(@ID@, @ID@_info); }");
}

GeneratedFile cuda_registry(const std::vector<std::string>& names) {
  return fill("polar_express_cuda_registry.hpp", kCudaRegistryTemplate, names, "_cuda.hpp", "&make_@ID@_cuda");
}

}  // namespace polar_express::codegen::detail
