#include "polar_express/solver/catalogue.hpp"

#include "published_format.hpp"

#include <stdexcept>

namespace polar_express {

// The catalogue is parsed by the same reader as a published file on disk,
// so a built-in list and the file it came from cannot disagree.
const std::vector<std::string>& builtin_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const Schedule& s : detail::parse_published_file(builtin_catalogue_json(), kMinPrecisionBits)) {
      result.push_back(s.name);
    }
    return result;
  }();
  return names;
}

Schedule builtin_schedule(const std::string& name, unsigned precision_bits) {
  if (precision_bits < kMinPrecisionBits || precision_bits > kMaxPrecisionBits) {
    throw std::invalid_argument("precision " + std::to_string(precision_bits) + " bits is outside [" +
                                std::to_string(kMinPrecisionBits) + ", " + std::to_string(kMaxPrecisionBits) + "]");
  }
  for (Schedule& s : detail::parse_published_file(builtin_catalogue_json(), precision_bits)) {
    if (s.name == name) return std::move(s);
  }
  std::string known;
  for (const std::string& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown built-in schedule '" + name + "' (known: " + known + ")");
}

}  // namespace polar_express
