// `polar-express design` end to end: formats, output files, and bad input
// (one line on stderr, exit 2, nothing written).
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::run_cli;
using polar_express::test::TempDir;

namespace {

bool is_schedule_table(const std::string& out) { return out.find("final error") != std::string::npos; }

const char* kPaperFlags =
    "design --degree 5 --lower 1e-3 --steps 8 --cushion 0.02407327424182761 --safety 0.01 --safety-mode posthoc";

}  // namespace

TEST_CASE("design --format json follows schema v1", "[cli][design]") {
  const CliResult r = run_cli(std::string(kPaperFlags) + " --format json");
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["schema"] == "polar-express/schedule/v1");
  CHECK(doc["method"] == "polar-express");
  CHECK(doc["input"]["degree"] == nlohmann::json::array({5}));
  CHECK(doc["input"]["lower"] == "1e-3");
  CHECK(doc["input"]["cushion"] == "0.02407327424182761");
  CHECK(doc["input"]["safety_mode"] == "posthoc");
  CHECK(doc["input"]["precision_bits"] == 256);
  REQUIRE(doc["steps"].size() == 8);
  for (const auto& step : doc["steps"]) {
    CHECK(step["degree"] == 5);
    REQUIRE(step["coefficients"].size() == 3);
    for (const auto& c : step["coefficients"]) {
      const std::string text = c.get<std::string>();
      // At least 40 significant digits (256 bits support 78).
      std::size_t digits = 0;
      for (char ch : text.substr(0, text.find('e'))) digits += (ch >= '0' && ch <= '9');
      CHECK(digits >= 40);
    }
    CHECK(std::stod(step["lower"].get<std::string>()) < std::stod(step["upper"].get<std::string>()));
  }
  CHECK(std::abs(std::stod(doc["steps"][4]["error_after"].get<std::string>()) - 0.1538) < 1e-4);
  CHECK(doc["final_error"] == doc["steps"][7]["error_after"]);
}

TEST_CASE("design prints a table and csv, and writes --output only on success", "[cli][design]") {
  const CliResult table = run_cli("design --lower 1e-3 --steps 3");
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("error after"));
  CHECK_THAT(table.out, Catch::Contains("final error"));
  const CliResult csv = run_cli("design --lower 1e-3 --steps 3 --format csv");
  REQUIRE(csv.exit_code == 0);
  CHECK(line_count(csv.out) == 4);
  CHECK(csv.out.rfind("step,degree,lower,upper,error_after,c0,c1,c2\n", 0) == 0);

  TempDir dir;
  const CliResult written = run_cli("design --lower 1e-3 --steps 2 --format json --output " + dir.file("s.json"));
  REQUIRE(written.exit_code == 0);
  CHECK(written.out.empty());
  CHECK(nlohmann::json::parse(polar_express::test::read_text(dir.file("s.json")))["steps"].size() == 2);
}

TEST_CASE("design --target-error reports the fewest steps", "[cli][design]") {
  const CliResult r = run_cli("design --degree 5 --lower 1e-3 --target-error 1e-6 --format json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  const auto& steps = doc["steps"];
  REQUIRE(steps.size() >= 2);
  CHECK(std::stod(steps[steps.size() - 1]["error_after"].get<std::string>()) <= 1e-6);
  CHECK(std::stod(steps[steps.size() - 2]["error_after"].get<std::string>()) > 1e-6);
}

TEST_CASE("design rejects bad input: one line, exit 2, no file", "[cli][design][errors]") {
  struct Case {
    const char* arguments;
    const char* names;  // what the message must mention
  };
  const Case cases[] = {
      {"--degree 4 --lower 1e-3 --steps 3", "degree 4"},
      {"--degree 1 --lower 1e-3 --steps 3", "degree 1"},
      {"--degree 9999 --lower 1e-3 --steps 3", "degree 9999"},
      {"--degree five --lower 1e-3 --steps 3", "five"},
      {"--degree 5,6 --lower 1e-3 --steps 3", "degree 6"},
      {"--lower 0 --steps 3", "lower bound 0"},
      {"--lower -1e-3 --steps 3", "lower bound -0.001"},
      {"--lower 1 --steps 3", "upper bound 1"},
      {"--lower 1e-3 --upper 1e-4 --steps 3", "upper bound"},
      {"--lower nan --steps 3", "lower bound nan"},
      {"--lower inf --steps 3", "lower bound inf"},
      {"--lower 1e-3 --upper inf --steps 3", "upper bound inf"},
      {"--lower abc --steps 3", "abc"},
      {"--lower 1e-3 --steps 0", "steps 0"},
      {"--lower 1e-3 --steps -2", "steps"},
      {"--lower 1e-3 --steps two", "two"},
      {"--lower 1e-3 --steps 3 --cushion 1", "cushion 1"},
      {"--lower 1e-3 --steps 3 --cushion -0.5", "cushion -0.5"},
      {"--lower 1e-3 --steps 3 --safety -0.01", "safety -0.01"},
      {"--lower 1e-3 --steps 3 --safety-mode sometimes", "sometimes"},
      {"--lower 1e-3 --steps 3 --format yaml", "yaml"},
      {"--lower 1e-3 --steps 3 --precision 16", "precision 16"},
      {"--lower 1e-3", "--steps"},
      {"--lower 1e-3 --target-error 0", "target error 0"},
      {"--lower 1e-3 --target-error 1", "target error 1"},
      {"--lower 1e-3 --target-error 2.5", "target error 2.5"},
      {"--steps 3", "--lower"},
      // Strict numbers: what the schedule reader would refuse is refused here.
      {"--lower ' 1e-3' --steps 3", "--lower ' 1e-3' is not a number"},
      {"--lower '1e-3 ' --steps 3", "--lower '1e-3 ' is not a number"},
      {"--lower 1@-3 --steps 3", "--lower '1@-3' is not a number"},
      {"--lower 1e-3 --degree 5, --steps 3", "--degree '5,': an empty item"},
      {"--lower 1e-3 --degree ,5 --steps 3", "--degree ',5': an empty item"},
      {"--lower 1e-3 --degree +5 --steps 3", "'+5' is not an integer"},
      {"--lower 1e-3 --degree ' 5' --steps 3", "' 5' is not an integer"},
      {"--lower 1e-3 --steps +3", "--steps: '+3' is not an integer"},
      {"--lower 1e-3 --steps 0x3", "--steps: '0x3' is not an integer"},
      {"--lower 1e-3 --steps 3 --precision -256", "--precision: '-256' is negative"},
      {"--lower 1e-3 --steps 3 --precision 99999999999", "--precision: '99999999999' is outside [0, 4294967295]"},
      {"--lower 1e-3 --steps 3 --max-minutes -1", "--max-minutes '-1'"},
      {"--lower 1e-1000000 --steps 3", "bits of precision, above the limit of 65536"},
      // Work estimated beyond the time limit is refused before it starts.
      {"--degree 63 --lower 1e-3 --steps 64 --precision 65536", "is estimated at"},
      {"--degree 127 --lower 1e-3 --steps 3 --max-minutes 0.001", "beyond --max-minutes 0.001"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    const std::string output = dir.file("out.json");
    const CliResult r = run_cli(std::string("design ") + c.arguments + " --output " + output);
    INFO("design " << c.arguments << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(line_count(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains(c.names));
    CHECK(std::filesystem::is_empty(dir.path()));
  }
}

TEST_CASE("design --output into a missing directory fails cleanly", "[cli][design][errors]") {
  TempDir dir;
  const CliResult r = run_cli("design --lower 1e-3 --steps 2 --output " + dir.file("missing/out.json"));
  CHECK(r.exit_code == 2);
  CHECK(line_count(r.err) == 1);
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("design --lower 1e-79 raises the precision the chain needs", "[cli][design]") {
  // At 256 bits the rounded coefficients would send the image of 1e-79 below 0.
  const CliResult r = run_cli("design --lower 1e-79 --steps 4 --format json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("designed and recorded at 333 bits instead of 256"));
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["input"]["precision_bits"] == 333);
  CHECK(doc["input"]["lower"] == "1e-79");
  REQUIRE(doc["steps"].size() == 4);
  // The first step maps l to c0 l: the interval after it starts near 8.5e-79.
  CHECK(std::stod(doc["steps"][1]["lower"].get<std::string>()) > 1e-79);
}

TEST_CASE("design announces work estimated past a couple of seconds on stderr", "[cli][design][long]") {
  const CliResult quick = run_cli("design --lower 1e-3 --steps 3");
  CHECK(quick.err.empty());
  // About 3 s; whether "N s elapsed" lines follow depends on the machine.
  const CliResult slow = run_cli("design --degree 111 --lower 1e-3 --steps 1");
  INFO(slow.err);
  REQUIRE(slow.exit_code == 0);
  CHECK_THAT(slow.err, Catch::StartsWith("polar-express: design: degree 111 x 1 steps at 256 bits is estimated at") &&
                           Catch::Contains("progress follows"));
  CHECK(is_schedule_table(slow.out));
}

TEST_CASE("an unknown command is named", "[cli]") {
  const CliResult r = run_cli("foo --lower 1");
  CHECK(r.exit_code == 2);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("unknown command 'foo'") && Catch::Contains("design, verify, emit, run"));
}

TEST_CASE("--help documents every subcommand and design flag", "[cli]") {
  const CliResult top = run_cli("--help");
  CHECK(top.exit_code == 0);
  for (const char* command : {"design", "verify", "emit", "run"}) CHECK_THAT(top.out, Catch::Contains(command));
  const CliResult design = run_cli("design --help");
  CHECK(design.exit_code == 0);
  for (const char* flag : {"--degree", "--lower", "--upper", "--steps", "--target-error", "--cushion", "--safety",
                           "--safety-mode", "--precision", "--format", "--output"}) {
    CHECK_THAT(design.out, Catch::Contains(flag));
  }
}
