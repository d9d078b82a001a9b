// `polar-express verify` end to end: the catalogue table, this tool's and
// the published JSON as input, --expect-error, plots, and bad input (one
// line on stderr, exit 2, nothing written).
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::read_text;
using polar_express::test::run_cli;
using polar_express::test::TempDir;
using polar_express::test::write_text;

namespace {

// One published object of the data file, re-serialised; its numbers are
// shortest round-trip doubles, which is how the file prints them.
std::string published_object(const std::string& name) {
  const nlohmann::json doc = nlohmann::json::parse(read_text(std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json"));
  for (const auto& s : doc["schedules"]) {
    if (s["name"] == name) return s.dump();
  }
  FAIL("no published schedule " << name);
  return {};
}

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) n += entry.is_regular_file();
  return n;
}

}  // namespace

TEST_CASE("verify --builtin all: one row per list, one column per step", "[cli][verify]") {
  const CliResult r = run_cli("verify --builtin all");
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(line_count(r.out) == 12);  // title, header, 10 schedules
  std::istringstream lines(r.out);
  std::string line;
  std::getline(lines, line);
  CHECK_THAT(line, Catch::Contains("[0.001, 1]"));
  std::getline(lines, line);
  CHECK_THAT(line, Catch::Contains(" 10 ") && Catch::Contains("warnings"));
  bool jordan = false, paper = false;
  while (std::getline(lines, line)) {
    std::istringstream cells(line);
    std::string name;
    std::vector<std::string> errors(10);
    cells >> name;
    for (std::string& e : errors) cells >> e;
    if (name == "muon-jordan-ns5") {
      jordan = true;
      for (int t = 5; t < 10; ++t) CHECK(errors[static_cast<std::size_t>(t)] == "0.3182");
    }
    if (name == "polar-express-paper-d5") {
      paper = true;
      // The table shows the rigorous upper bound rounded up: the paper's
      // 0.153823 after five steps reads 0.1539.
      CHECK(errors[4] == "0.1539");
    }
  }
  CHECK(jordan);
  CHECK(paper);
}

TEST_CASE("verify --format json on a built-in list", "[cli][verify]") {
  const CliResult r = run_cli("verify --builtin muon-jordan-ns5 --steps 10 --format json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == "polar-express/verification/v1");
  REQUIRE(doc["steps"].size() == 10);
  for (const auto& step : doc["steps"]) {
    for (const char* key : {"degree", "lower", "upper", "coefficients", "error_after"}) CHECK(step.contains(key));
  }
  CHECK(std::stod(doc["final_error"].get<std::string>()) == Approx(0.3182).margin(5e-5));
  bool stall = false;
  for (const auto& d : doc["diagnostics"]) stall = stall || (d["kind"] == "stall" && d["step"] == 6);
  CHECK(stall);
}

TEST_CASE("verify reads design's JSON: the paper's list and its errors", "[cli][verify]") {
  TempDir dir;
  const std::string file = dir.file("paper.json");
  const CliResult designed = run_cli("design --degree 5 --lower 1e-3 --steps 8 --cushion 0.02407327424182761 "
                                     "--safety 0.01 --safety-mode posthoc --format json --output " + file);
  REQUIRE(designed.exit_code == 0);
  const nlohmann::json design = nlohmann::json::parse(read_text(file));
  const CliResult r = run_cli("verify " + file + " --format json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["method"] == "polar-express");
  // The error of the published list after each step on [1e-3, 1], from
  // tests/solver/reference_errors.py (mpmath, no code of this tool): design
  // reproduces the paper's list to its printed doubles, whose rounding moves
  // the errors by up to 1e-9 relative (step 7).
  const double published_errors[] = {0.99179486248791295, 0.96663624903069492, 0.86966608262194868,
                                     0.5771087332567074,  0.15382262651760448, 0.0055932665559806607,
                                     9.053926330905111e-6, 1.8554443320395782e-15};
  REQUIRE(doc["steps"].size() == 8);
  for (std::size_t t = 0; t < 8; ++t) {
    INFO("step " << t + 1);
    // verify reads back the very coefficients design wrote.
    CHECK(doc["steps"][t]["coefficients"] == design["steps"][t]["coefficients"]);
    const double error = std::stod(doc["steps"][t]["error_after"].get<std::string>());
    CHECK(error == Approx(published_errors[t]).epsilon(1e-8));
  }
}

TEST_CASE("verify reads one published-list object like the built-in", "[cli][verify]") {
  TempDir dir;
  const std::string file = dir.file("cesista.json");
  write_text(file, published_object("cesista-quintic-5step"));
  const CliResult from_file = run_cli("verify " + file + " --format json");
  const CliResult builtin = run_cli("verify --builtin cesista-quintic-5step --format json");
  REQUIRE(from_file.exit_code == 0);
  REQUIRE(builtin.exit_code == 0);
  CHECK(from_file.out == builtin.out);
}

TEST_CASE("--expect-error exits 1 unless the final error is at most E", "[cli][verify]") {
  const CliResult fails = run_cli("verify --builtin muon-jordan-ns5 --steps 10 --expect-error 0.3");
  CHECK(fails.exit_code == 1);
  CHECK_THAT(fails.err, Catch::Contains("muon-jordan-ns5") && Catch::Contains("0.3"));
  CHECK_THAT(fails.out, Catch::Contains("final error"));
  const CliResult passes = run_cli("verify --builtin muon-jordan-ns5 --steps 10 --expect-error 0.32");
  CHECK(passes.exit_code == 0);
  const CliResult all = run_cli("verify --builtin all --expect-error 0.5");
  CHECK(all.exit_code == 1);
  CHECK_THAT(all.err, Catch::Contains("newton-schulz-cubic"));
  CHECK_THAT(all.err, !Catch::Contains("polar-express-paper-d5"));
}

TEST_CASE("JSON error enclosures; --expect-error judges the rigorous upper bound", "[cli][verify]") {
  const CliResult r = run_cli("verify --builtin muon-jordan-ns5 --steps 7 --format json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  for (const auto& step : doc["steps"]) {
    REQUIRE(step["error_enclosure"].size() == 2);
    const double lower = std::stod(step["error_enclosure"][0].get<std::string>());
    const double upper = std::stod(step["error_enclosure"][1].get<std::string>());
    const double estimate = std::stod(step["error_after"].get<std::string>());
    CHECK(lower <= estimate);
    CHECK(estimate <= upper);
    CHECK(upper - lower <= 1e-15 * upper);
  }
  CHECK(doc["error_enclosure"] == doc["steps"][6]["error_enclosure"]);
  for (const auto& p : doc["perturbations"]) CHECK(p["error_enclosure"].size() == 2);
  // The printed ends are rounded outward and differ in their last digit:
  // E = the printed lower end is below the upper bound (fails), E = the
  // printed upper end is not (passes).
  const std::string lower = doc["error_enclosure"][0];
  const std::string upper = doc["error_enclosure"][1];
  REQUIRE(lower != upper);
  const CliResult at_lower = run_cli("verify --builtin muon-jordan-ns5 --steps 7 --expect-error " + lower);
  CHECK(at_lower.exit_code == 1);
  CHECK_THAT(at_lower.err, Catch::Contains("error bound"));
  const CliResult at_upper =
      run_cli("verify --builtin muon-jordan-ns5 --steps 7 --format json --expect-error " + upper);
  CHECK(at_upper.exit_code == 0);
  CHECK(nlohmann::json::parse(at_upper.out)["passed"] == true);
}

TEST_CASE("--plot writes data, script and gnuplot's SVG and PNG", "[cli][verify][plot]") {
  TempDir dir;
  const std::string prefix = dir.file("jordan");
  const CliResult r = run_cli("verify --builtin muon-jordan-ns5 --steps 6 --plot " + prefix);
  REQUIRE(r.exit_code == 0);
  const std::string composite = read_text(prefix + "-composite.dat");
  CHECK(line_count(composite) == 2 + 20000);
  const std::string errors = read_text(prefix + "-errors.dat");
  CHECK(line_count(errors) == 2 + 7);  // steps 0..6
  CHECK_THAT(read_text(prefix + ".gp"), Catch::Contains("set logscale x") && Catch::Contains("set logscale y"));
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    CHECK(r.err.empty());
    for (const char* suffix : {"-composite.svg", "-composite.png", "-errors.svg", "-errors.png"}) {
      CHECK(std::filesystem::file_size(prefix + suffix) > 1000);
    }
  }
}

TEST_CASE("--plot without gnuplot says so and keeps the data", "[cli][verify][plot]") {
  TempDir dir;
  const std::string prefix = dir.file("p");
  const std::string command = "PATH=/nonexistent " + std::string(POLAR_EXPRESS_CLI) +
                              " verify --builtin newton-schulz-cubic --plot " + prefix + " >" + dir.file("out") +
                              " 2>" + dir.file("err");
  const int status = std::system(command.c_str());
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(read_text(dir.file("err")), Catch::Contains("gnuplot is not installed"));
  CHECK(std::filesystem::exists(prefix + "-composite.dat"));
  CHECK(std::filesystem::exists(prefix + "-errors.dat"));
  CHECK_FALSE(std::filesystem::exists(prefix + "-errors.svg"));
}

TEST_CASE("bad schedules and arguments: one line naming the value, exit 2, nothing written", "[cli][verify][errors]") {
  TempDir dir;
  const std::string not_json = dir.file("not.json");
  write_text(not_json, "coefficients: 1, 2");
  const std::string shape = dir.file("shape.json");
  write_text(shape, "[[3.4445, -4.775, 2.0315]]");
  const std::string empty = dir.file("empty.json");
  write_text(empty, R"({"name": "e", "steps": [[3.4445, -4.775, 2.0315], []]})");
  const std::string text = dir.file("text.json");
  write_text(text, R"({"name": "t", "steps": [[3.4445, "x", 2.0315]]})");
  const std::string infinite = dir.file("inf.json");
  write_text(infinite, R"({"name": "i", "steps": [[3.4445, "-inf", 2.0315]]})");
  const std::string interval = dir.file("interval.json");
  write_text(interval, R"({"name": "l", "design": {"lower": 2, "upper": 1}, "steps": [[1.5, -0.5]]})");
  const std::string good = dir.file("good.json");
  write_text(good, published_object("muon-jordan-ns5"));

  struct Case {
    std::string arguments;
    std::string expected;
  };
  const Case cases[] = {
      {dir.file("missing.json"), "missing.json"},
      {not_json, "not valid JSON"},
      {shape, "an array, not an object"},
      {empty, "tuple 2: the coefficient list is empty"},
      {text, "coefficient 2: \"x\" is not a number"},
      {infinite, "\"-inf\" is not finite"},
      {interval, "upper bound 1 is not above the lower bound 2"},
      {good + " --lower 1 --upper 0.5", "upper bound 0.5"},
      {good + " --lower 0", "lower bound 0"},
      {good + " --lower abc", "--lower 'abc' is not a number"},
      {good + " --steps 0", "--steps 0"},
      {good + " --format xml", "unknown format 'xml'"},
      {good + " --builtin muon-jordan-ns5", "give exactly one of SCHEDULE.json and --builtin NAME"},
      {"--builtin nope", "unknown built-in schedule 'nope'"},
      {good + " --margin 2", "band margin 2"},
      {good + " --expect-error nan", "--expect-error 'nan'"},
      {good + " --plot " + dir.file("nodir/p"), "nodir"},
  };
  const std::size_t before = files_in(dir.path());
  for (const Case& c : cases) {
    INFO(c.arguments);
    const bool plots = c.arguments.find("--plot") != std::string::npos;
    const CliResult r = run_cli("verify " + c.arguments + (plots ? "" : " --plot " + dir.file("plot")));
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(line_count(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains(c.expected));
  }
  CHECK(files_in(dir.path()) == before);
}

TEST_CASE("a list longer than verify's limit is named with its length when no --steps is given", "[cli][verify][errors]") {
  TempDir dir;
  std::string steps;
  for (int t = 0; t < 1001; ++t) steps += (t ? ", " : "") + std::string("[1.5, -0.5]");
  write_text(dir.file("long.json"), R"({"name": "long", "steps": [)" + steps + "]}");
  const CliResult r = run_cli("verify " + dir.file("long.json"));
  CHECK(r.exit_code == 2);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("schedule 'long' lists 1001 steps, more than verify's limit of 1000") &&
                        Catch::Contains("--steps"));
  const CliResult prefix = run_cli("verify " + dir.file("long.json") + " --steps 30 --format json");
  REQUIRE(prefix.exit_code == 0);
  CHECK(nlohmann::json::parse(prefix.out)["steps"].size() == 30);
}

TEST_CASE("verify refuses work estimated beyond --max-minutes", "[cli][verify][errors]") {
  const CliResult r = run_cli("verify --builtin muon-jordan-ns5 --steps 1000 --precision 65536");
  CHECK(r.exit_code == 2);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("verify: the certificate of 1000 steps at 65536 bits is estimated at") &&
                        Catch::Contains("--max-minutes"));
}
