#include "polar_express/runtime/catalogue.hpp"

#include "polar_express_registry.hpp"  // generated/: every catalogue list by name

#include <stdexcept>

namespace polar_express::runtime {

const std::vector<std::string>& builtin_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& entry : schedules::registry) list.emplace_back(entry.name);
    return list;
  }();
  return names;
}

Schedule builtin_schedule(const std::string& name) {
  for (const auto& entry : schedules::registry) {
    if (name == entry.name) return entry.make();
  }
  std::string known;
  for (const std::string& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown schedule '" + name + "' (built in: " + known + ")");
}

}  // namespace polar_express::runtime
