// The compiled-in catalogue is the published file, byte for byte, and each
// built-in list carries the names, sources and coefficients printed there.
#include "polar_express/solver/catalogue.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace polar_express;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::string kDataFile = std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json";

}  // namespace

TEST_CASE("the embedded catalogue is tests/data/published_schedules.json byte for byte", "[catalogue]") {
  const std::string file = slurp(kDataFile);
  REQUIRE(!file.empty());
  INFO("update solver/src/catalogue_data.cpp: paste tests/data/published_schedules.json between its delimiters");
  CHECK(builtin_catalogue_json() == file);
  // The shared reference, when this checkout sits beside it, is the source of the copy.
  const std::string shared = std::string(POLAR_EXPRESS_SOURCE_DIR) + "/../shared/reference/published_schedules.json";
  if (std::filesystem::exists(shared)) CHECK(slurp(shared) == file);
}

TEST_CASE("built-in names, sources and rules are those of the file, in its order", "[catalogue]") {
  const nlohmann::json doc = nlohmann::json::parse(slurp(kDataFile));
  std::vector<std::string> names;
  for (const auto& s : doc["schedules"]) names.push_back(s["name"].get<std::string>());
  CHECK(builtin_names() == names);
  CHECK(names.size() == 10);
  for (const auto& entry : doc["schedules"]) {
    const Schedule s = builtin_schedule(entry["name"].get<std::string>(), 128);
    INFO(s.name);
    CHECK(s.source == entry["source"].get<std::string>());
    CHECK(s.normalization_text == entry["normalization"].get<std::string>());
    CHECK(s.after_list == AfterList::kRepeatLast);
    CHECK(s.precision_bits == 128);
    const bool raw = entry.contains("raw_steps");
    const auto& tuples = raw ? entry["raw_steps"] : entry["steps"];
    REQUIRE(s.steps.size() == tuples.size());
    for (std::size_t t = 0; t < tuples.size(); ++t) {
      REQUIRE(s.steps[t].polynomial.coefficients.size() == tuples[t].size());
      for (std::size_t k = 0; k < tuples[t].size(); ++k) {
        const double printed = tuples[t][k].get<double>();
        const double scale = raw && t + 1 < tuples.size() ? std::pow(1.01, 2 * static_cast<int>(k) + 1) : 1.0;
        const double ours = static_cast<double>(s.steps[t].polynomial.coefficients[k]);
        CHECK(std::abs(ours - printed / scale) <= 4e-16 * std::abs(printed / scale));
      }
    }
    const double lower = entry.contains("design") ? entry["design"]["lower"].get<double>() : 1e-3;
    CHECK(static_cast<double>(s.input.lower) == Approx(lower).epsilon(1e-15));
    CHECK(s.input.upper == 1);
  }
}

TEST_CASE("an unknown built-in name lists the known ones", "[catalogue]") {
  CHECK_THROWS_WITH(builtin_schedule("muon-jordan", 256),
                    Catch::Contains("unknown built-in schedule 'muon-jordan'") && Catch::Contains("muon-jordan-ns5"));
  CHECK_THROWS_AS(builtin_schedule("muon-jordan-ns5", 4), std::invalid_argument);
}
