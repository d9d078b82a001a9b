// Schedule names become file and symbol names, or are refused.
#include "polar_express/codegen/codegen.hpp"

#include <catch2/catch.hpp>

using namespace polar_express;

TEST_CASE("a schedule's identifier is its name with '-' as '_'", "[codegen][identifier]") {
  CHECK(codegen::identifier("polar-express-paper-d5") == "polar_express_paper_d5");
  CHECK(codegen::identifier("muon_jordan_ns5") == "muon_jordan_ns5");
  CHECK(codegen::identifier("Schedule2") == "Schedule2");
  CHECK(codegen::identifier("_private") == "_private");
}

TEST_CASE("names that make no identifier are refused with the reason", "[codegen][identifier]") {
  const std::pair<const char*, const char*> bad[] = {
      {"", "empty"},
      {"5step", "digit"},
      {"polar express", "' '"},
      {"polar.express", "'.'"},
      {"caf\xc3\xa9", "only letters"},
      {"a--b", "double underscore"},
      {"_Upper", "capital"},
      {"class", "keyword"},
      {"lambda", "keyword"},
      {"COEFFICIENTS", "generated code"},
  };
  for (const auto& [name, reason] : bad) {
    INFO(name);
    try {
      codegen::identifier(name);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      CHECK(message.find(std::string("'") + name + "'") != std::string::npos);
      CHECK(message.find(reason) != std::string::npos);
    }
  }
}

TEST_CASE("targets parse from their names only", "[codegen][identifier]") {
  for (const auto target : {codegen::Target::kCpp, codegen::Target::kCuda, codegen::Target::kJson,
                            codegen::Target::kTorch}) {
    CHECK(codegen::parse_target(codegen::to_string(target)) == target);
  }
  CHECK_THROWS_WITH(codegen::parse_target("rust"), Catch::Contains("'rust'") && Catch::Contains("cpp, cuda"));
  CHECK_THROWS_AS(codegen::parse_target("CPP"), std::invalid_argument);
}
