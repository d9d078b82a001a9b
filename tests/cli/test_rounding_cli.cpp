// Certificates for the precision a schedule runs in, end to end: verify,
// design and plan with --dtype, against what the same binary certifies
// without it (rounding only widens the exact chain) and against each other.
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::read_text;
using polar_express::test::run_cli;
using polar_express::test::TempDir;

namespace {

nlohmann::json json_of(const CliResult& r) {
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

double number(const nlohmann::json& text) { return std::stod(text.get<std::string>()); }

void bad_input(const std::string& arguments, const std::string& named) {
  const CliResult r = run_cli(arguments);
  INFO(arguments << "\n" << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains(named));
}

// A published list as it runs, from the data file (not the binary's copy):
// "steps" as printed, or the paper's "raw_steps" with every step but the
// last divided by (s, s^3, s^5) for its posthoc safety s.
std::vector<std::vector<double>> published_coefficients(const std::string& name) {
  const nlohmann::json doc =
      nlohmann::json::parse(read_text(std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json"));
  for (const auto& s : doc["schedules"]) {
    if (s["name"] != name) continue;
    if (s.contains("steps")) return s["steps"].get<std::vector<std::vector<double>>>();
    std::vector<std::vector<double>> steps = s["raw_steps"].get<std::vector<std::vector<double>>>();
    const double safety = 1 + s["design"]["safety"].get<double>();
    for (std::size_t t = 0; t + 1 < steps.size(); ++t) {
      for (std::size_t j = 0; j < steps[t].size(); ++j) steps[t][j] /= std::pow(safety, 2.0 * j + 1);
    }
    return steps;
  }
  FAIL("no published schedule " << name);
  return {};
}

// x through every step, in double, Horner in x^2 (past double's range
// the value is +inf: every list's top coefficient is positive).
std::vector<double> trajectory(const std::vector<std::vector<double>>& steps, double x) {
  std::vector<double> values;
  for (const std::vector<double>& c : steps) {
    double h = c.back();
    for (std::size_t j = c.size() - 1; j-- > 0;) h = h * x * x + c[j];
    x *= h;
    values.push_back(x);
  }
  return values;
}

}  // namespace

TEST_CASE("verify --dtype: a rounding certificate per step, never below the exact one", "[cli][rounding]") {
  const std::string base = "verify --builtin newton-schulz-quintic --lower 0.3 --steps 6 --format json";
  const nlohmann::json exact = json_of(run_cli(base));
  const nlohmann::json with = json_of(run_cli(base + " --dtype f32 --shape 64x256"));
  REQUIRE(with.contains("rounding"));
  const nlohmann::json& r = with["rounding"];
  CHECK(r["dtype"] == "f32");
  CHECK(r["shape"] == nlohmann::json::array({64, 256}));
  CHECK(r["form"] == "direct");
  CHECK(r["bound"] == "probabilistic");
  REQUIRE(r["steps"].size() == 6);
  for (std::size_t t = 0; t < 6; ++t) {
    // The rounding-aware bound is at least the exact chain's certified bound.
    CHECK(number(r["steps"][t]["error"]) >= number(exact["steps"][t]["error_enclosure"][1]));
  }
  CHECK(r["blow_up_step"].is_null());
  CHECK(number(r["final_error"]) < 1e-4);
  // The worst-case bound of the same run, and the torch form's.
  const nlohmann::json worst = json_of(run_cli(base + " --dtype f32 --shape 64x256 --bound worst-case"));
  CHECK(worst["rounding"]["bound"] == "worst-case");
  const nlohmann::json torch = json_of(run_cli(base + " --dtype f32 --shape 64x256 --form torch"));
  CHECK(torch["rounding"]["form"] == "torch");
  // The table says what was certified and how.
  const CliResult table = run_cli("verify --builtin newton-schulz-quintic --lower 0.3 --dtype bf16 --shape 64x256");
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("with rounding, in bf16 on 64x256 (direct form; probabilistic"));
}

TEST_CASE("verify --dtype: the blow-up of a list without a safety factor, and --expect-error with rounding",
          "[cli][rounding]") {
  const nlohmann::json cans = json_of(run_cli("verify --builtin cans-5step --dtype bf16 --shape 256x1024 --format json"));
  CHECK(cans["rounding"]["blow_up_step"].is_number_integer());
  const CliResult table = run_cli("verify --builtin cans-5step --dtype bf16 --shape 256x1024");
  CHECK_THAT(table.out, Catch::Contains("BLOWS UP"));
  // Exact arithmetic meets 1e-3 after 5 steps of the quintic from 0.3 (it
  // ends near 2e-16); bf16, whose every stored entry rounds by up to 2^-8
  // relative, cannot.
  CHECK(run_cli("verify --builtin newton-schulz-quintic --lower 0.3 --steps 5 --expect-error 1e-3").exit_code == 0);
  const CliResult failed =
      run_cli("verify --builtin newton-schulz-quintic --lower 0.3 --steps 5 --expect-error 1e-3 --dtype bf16 --shape 256x1024");
  CHECK(failed.exit_code == 1);
  CHECK_THAT(failed.err, Catch::Contains("with rounding in bf16"));
  // --builtin all: a second table, the AOL list marked as not modelled.
  const CliResult all = run_cli("verify --builtin all --dtype f32 --shape 32x64");
  REQUIRE(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::Contains("with rounding in f32 on 32x64"));
  CHECK_THAT(all.out, Catch::Contains("AOL normalisation's rounding is not modelled"));
}

TEST_CASE("verify --dtype: the paper's list with its top singular value 2% high blows up in bf16 at the normalisation",
          "[cli][rounding]") {
  // In exact arithmetic 1.02 already ends above 2: the first step maps it to
  // about 2.24 and every later one further up.  The modelled interval holds
  // the exact image and its top grows with the top before each step, so the
  // largest safe top before step 1 is below 1.02: the certificate must say
  // the normalised input (step 0) already leaves the band.
  const std::vector<double> exact = trajectory(published_coefficients("polar-express-paper-d5"), 1.02);
  REQUIRE(exact.size() == 8);
  REQUIRE(exact.front() > 2);
  REQUIRE(std::is_sorted(exact.begin(), exact.end()));
  const std::string args = "verify --builtin polar-express-paper-d5 --upper 1.02 --dtype bf16 --shape 64x256 --form torch";
  const nlohmann::json v = json_of(run_cli(args + " --format json"));
  const nlohmann::json& r = v["rounding"];
  REQUIRE(r["blow_up_step"].is_number_integer());
  CHECK(r["blow_up_step"].get<int>() == 0);
  CHECK(r["steps"].size() == exact.size());
  // Each step's certified top is at least the exact image of 1.02 (past
  // double's range both are infinite).
  for (std::size_t t = 0; t < exact.size(); ++t) {
    INFO("step " << t + 1);
    CHECK(number(r["steps"][t]["upper"]) >= exact[t]);
  }
  const CliResult table = run_cli(args);
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("BLOWS UP: a singular value can leave the safe band already at the normalisation"));
  // The same interval within the band, in f64: no blow-up.
  const nlohmann::json f64 = json_of(run_cli(
      "verify --builtin polar-express-paper-d5 --dtype f64 --shape 64x256 --form torch --format json"));
  CHECK(f64["rounding"]["blow_up_step"].is_null());
}

TEST_CASE("verify --dtype: bad input", "[cli][rounding]") {
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16", "--shape");
  bad_input("verify --builtin polar-express-paper-d5 --shape 8x8", "--dtype");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf8 --shape 8x8", "bf8");
  bad_input("verify --builtin polar-express-paper-d5 --dtype tf32 --shape 8x8", "tf32");
  bad_input("verify --builtin polar-express-paper-d5 --dtype BF16 --shape 8x8", "BF16");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 2x8x8", "2x8x8");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 0x8", "0x8");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 8x", "8x");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 8by8", "8by8");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape -8x8", "-8x8");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 8x8 --form fused", "fused");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 8x8 --bound typical", "typical");
  bad_input("verify --builtin polar-express-paper-d5 --dtype bf16 --shape 8x8 --failure-probability 1", "1");
  bad_input("verify --builtin turbo-muon-aol-4step --dtype bf16 --shape 8x8", "AOL");
}

TEST_CASE("design --dtype: the safety factor from the model, a design that stays in the band", "[cli][rounding]") {
  const std::string args = "design --degree 5 --lower 1e-3 --steps 8 --format json";
  const nlohmann::json plain = json_of(run_cli(args));
  const nlohmann::json chosen = json_of(run_cli(args + " --dtype f16 --shape 64x256 --form torch"));
  REQUIRE(chosen.contains("rounding"));
  REQUIRE(chosen.contains("precision_design"));
  CHECK(chosen["rounding"]["blow_up_step"].is_null());
  CHECK(std::stod(chosen["input"]["safety"].get<std::string>()) > 0);
  CHECK(!chosen["precision_design"]["candidates"].empty());
  TempDir dir;
  // The plain design blows up in f16 under the same model; verify of the
  // chosen one, read back, agrees with design's certificate.
  const std::string plain_file = dir.file("plain.json"), chosen_file = dir.file("chosen.json");
  polar_express::test::write_text(plain_file, plain.dump());
  polar_express::test::write_text(chosen_file, chosen.dump());
  const nlohmann::json plain_rounding =
      json_of(run_cli("verify " + plain_file + " --dtype f16 --shape 64x256 --form torch --format json"));
  CHECK(plain_rounding["rounding"]["blow_up_step"].is_number_integer());
  const nlohmann::json again =
      json_of(run_cli("verify " + chosen_file + " --dtype f16 --shape 64x256 --form torch --format json"));
  CHECK(again["rounding"]["blow_up_step"].is_null());
  CHECK(again["rounding"]["final_error"] == chosen["rounding"]["final_error"]);
  bad_input("design --degree 5 --lower 1e-3 --steps 8 --dtype f16 --shape 64x256 --safety 0.01", "--safety");
}

TEST_CASE("plan --rounding: candidates certified with rounding; the plan meets the target under the model",
          "[cli][rounding]") {
  const std::string args = "plan --shape 64x256,32x64 --lower 1e-2 --target-error 1e-3 --degrees 3,5 --format json";
  const nlohmann::json plan = json_of(run_cli(args + " --dtype f32 --rounding"));
  REQUIRE(plan.contains("rounding"));
  CHECK(plan["rounding"]["dtype"] == "f32");
  CHECK(number(plan["rounding"]["final_error"]) <= 1e-3);
  // Re-certified by verify on each of the two shapes.
  TempDir dir;
  polar_express::test::write_text(dir.file("plan.json"), plan.dump());
  for (const char* shape : {"64x256", "32x64"}) {
    const nlohmann::json v = json_of(run_cli("verify " + dir.file("plan.json") + " --dtype f32 --shape " +
                                             std::string(shape) + " --format json"));
    CHECK(number(v["rounding"]["final_error"]) <= 1e-3);
  }
  // Without --rounding the plan is the exact-arithmetic one, --dtype only
  // setting the costs and the smallest target.
  const nlohmann::json exact = json_of(run_cli(args + " --dtype f32"));
  CHECK(!exact.contains("rounding"));
  bad_input(args + " --dtype f32 --bound worst-case", "--rounding");
  bad_input(args + " --dtype f32 --rounding --bound typical", "typical");
}
