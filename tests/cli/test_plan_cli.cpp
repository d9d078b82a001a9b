// `polar-express plan` end to end: the plan against exhaustive enumeration of
// every degree sequence (greedy chains certified by certify(), costs counted
// here through the runtime's count_matmuls and plan_products), the planned
// schedule re-certified by verify and accepted by emit and run, nanochat's
// settings on bench/gpu's shapes, and bad input.
#include "cli_runner.hpp"

#include "polar_express/runtime/cost.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/solver/schedule.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::run_cli;
using polar_express::test::TempDir;
using polar_express::test::write_text;
namespace pe = polar_express;
namespace rt = polar_express::runtime;

namespace {

constexpr unsigned kBits = 64;

struct Sequence {
  std::vector<int> degrees;
  std::vector<pe::OddPolynomial> steps;  // as they run: all scaled but the last
  pe::Real error;                         // certify()'s final error
};

// Every sequence of {3, 5, 7} of 1..max_steps steps: the greedy chain by
// depth-first extension, each candidate certified whole by certify().
std::vector<Sequence> enumerate(const pe::DesignOptions& design, int max_steps) {
  std::vector<Sequence> all;
  const pe::Interval input{pe::Real(design.lower), pe::Real(design.upper)};
  std::function<void(const std::vector<int>&, const std::vector<pe::ScheduleStep>&, const pe::Real&, const pe::Real&)>
      extend = [&](const std::vector<int>& degrees, const std::vector<pe::ScheduleStep>& safe, const pe::Real& l,
                   const pe::Real& u) {
        if (static_cast<int>(degrees.size()) == max_steps) return;
        for (int d : {3, 5, 7}) {
          pe::GreedyLink link = pe::greedy_link(d, l, u, design);
          std::vector<pe::ScheduleStep> candidate = safe;
          candidate.push_back(link.raw);
          pe::certify(candidate, input, design.precision_bits);
          Sequence s{degrees, {}, candidate.back().error_after};
          s.degrees.push_back(d);
          for (const pe::ScheduleStep& step : candidate) s.steps.push_back(step.polynomial);
          all.push_back(s);
          std::vector<pe::ScheduleStep> longer = safe;
          longer.push_back(link.safe);
          extend(s.degrees, longer, link.next_lower, link.next_upper);
        }
      };
  pe::PrecisionScope scope(pe::certification_bits(design.precision_bits));
  extend({}, {}, pe::Real(design.lower), pe::Real(design.upper));
  return all;
}

rt::Schedule runtime_schedule(const std::vector<pe::OddPolynomial>& steps) {
  rt::Schedule s;
  for (const pe::OddPolynomial& p : steps) {
    rt::Step step;
    step.degree = p.degree();
    for (const pe::Real& c : p.coefficients) step.coefficients.push_back(static_cast<double>(c));
    s.steps.push_back(step);
  }
  return s;
}

enum class Form { kDirect, kGram, kAuto };

struct Run {
  double flops = 0;
  std::vector<int> restarts;
  bool gram = false;
};

// The runtime's count on one shape: the standard form, or the Gram form
// with its restarts placed by the runtime's rule for `bits`.
Run run_on(const rt::BatchShape& shape, const rt::Schedule& schedule, Form form, int bits) {
  const int steps = static_cast<int>(schedule.steps.size());
  Run direct{rt::count_matmuls(shape, schedule, steps, {}).flops, {}, false};
  if (form == Form::kDirect) return direct;
  rt::PlanOptions options;
  options.gram = rt::ProductMode::kOn;
  const rt::ProductPlan products =
      rt::plan_products(shape, schedule, steps, options, bits, std::numeric_limits<std::int64_t>::max());
  Run gram{rt::count_matmuls(shape, schedule, steps, products).flops, products.restarts, true};
  if (form == Form::kGram) return gram;
  return gram.flops < direct.flops ? gram : direct;
}

double cost_of(const std::vector<rt::BatchShape>& shapes, const rt::Schedule& schedule, Form form, int bits) {
  double total = 0;
  for (const rt::BatchShape& s : shapes) total += run_on(s, schedule, form, bits).flops;
  return total;
}

struct Expected {
  const Sequence* sequence = nullptr;
  double cost = 0;
};

Expected cheapest(const std::vector<Sequence>& all, const pe::Real& target, const std::vector<rt::BatchShape>& shapes,
                  Form form, int bits) {
  Expected best;
  for (const Sequence& s : all) {
    if (s.error > target) continue;
    const double c = cost_of(shapes, runtime_schedule(s.steps), form, bits);
    const Sequence* b = best.sequence;
    const bool better =
        !b || c < best.cost ||
        (c == best.cost && (s.error < b->error || (s.error == b->error && (s.degrees.size() < b->degrees.size() ||
                                                                            (s.degrees.size() == b->degrees.size() &&
                                                                             s.degrees < b->degrees)))));
    if (better) best = {&s, c};
  }
  return best;
}

// A target strictly between two consecutive distinct errors (at `rank`
// among those at or above bf16's unit roundoff, the smallest target plan
// takes for bf16), so that no schedule sits on it.
pe::Real target_between(const std::vector<Sequence>& all, double rank) {
  std::vector<pe::Real> errors;
  for (const Sequence& s : all) {
    if (s.error >= pe::Real(1) / 256) errors.push_back(s.error);
  }
  std::sort(errors.begin(), errors.end());
  errors.erase(std::unique(errors.begin(), errors.end()), errors.end());
  const auto i = static_cast<std::size_t>(rank * static_cast<double>(errors.size() - 2));
  return sqrt(errors[i] * errors[i + 1]);
}

nlohmann::json plan_json(const std::string& arguments) {
  const CliResult r = run_cli("plan --format json " + arguments);
  INFO("plan " << arguments << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("plan equals exhaustive enumeration: degrees {3,5,7}, up to 6 steps, direct, Gram and auto", "[cli][plan]") {
  struct Config {
    const char* name;
    const char* devices;
    double cushion, safety;
    pe::SafetyMode mode;
  };
  const std::vector<Config> configs{
      {"pure greedy", "--cushion 0 --safety 0", 0, 0, pe::SafetyMode::kInLoop},
      {"nanochat's devices", "--cushion 0.02 --safety 0.02 --safety-mode inloop", 0.02, 0.02, pe::SafetyMode::kInLoop},
      {"the paper's devices", "--cushion 0.02407327424182761 --safety 0.01 --safety-mode posthoc",
       0.02407327424182761, 0.01, pe::SafetyMode::kPostHoc},
  };
  struct Shapes {
    const char* text;
    std::vector<rt::BatchShape> shapes;
    Form form;
    const char* algorithm;
    const char* dtype;
    int bits;
  };
  const std::vector<Shapes> shape_cases{
      {"256x256", {{1, 256, 256}}, Form::kDirect, "direct", "bf16", 8},
      {"64x1024", {{1, 64, 1024}}, Form::kGram, "gram", "bf16", 8},
      {"2x128x512,1024x256", {{2, 128, 512}, {1, 1024, 256}}, Form::kAuto, "auto", "f16", 11},
  };
  for (const Config& config : configs) {
    pe::DesignOptions design;
    design.degrees = {3, 5, 7};
    design.lower = pe::Real("1e-3");
    design.cushion = pe::Real(config.cushion);
    design.safety = pe::Real(config.safety);
    design.safety_mode = config.mode;
    design.precision_bits = kBits;
    const std::vector<Sequence> all = enumerate(design, 6);
    REQUIRE(all.size() == 3 + 9 + 27 + 81 + 243 + 729);
    for (const double rank : {0.3, 0.9}) {
      const pe::Real target = target_between(all, rank);
      const std::string target_text = pe::to_decimal(target, 30);
      for (const Shapes& sc : shape_cases) {
        INFO(config.name << ", target " << target_text << ", shapes " << sc.text << ", " << sc.algorithm);
        const Expected expected = cheapest(all, target, sc.shapes, sc.form, sc.bits);
        REQUIRE(expected.sequence != nullptr);
        const nlohmann::json plan =
            plan_json(std::string("--shape ") + sc.text + " --lower 1e-3 --target-error " + target_text +
                      " --degrees 3,5,7 --max-steps 6 --precision 64 --algorithm " + sc.algorithm + " --dtype " +
                      sc.dtype + " " + config.devices);
        CHECK(plan["schema"] == "polar-express/plan/v1");
        CHECK(plan["degrees"].get<std::vector<int>>() == expected.sequence->degrees);
        CHECK(plan["flops"].get<double>() == expected.cost);
        CHECK(pe::parse_real(plan["final_error"].get<std::string>(), 256) <= target);
        CHECK(plan["schedule"]["schema"] == "polar-express/schedule/v1");
        CHECK(plan["schedule"]["steps"].size() == expected.sequence->degrees.size());
        // Per shape, the restarts the runtime itself places.
        const rt::Schedule schedule = runtime_schedule(expected.sequence->steps);
        for (std::size_t i = 0; i < sc.shapes.size(); ++i) {
          const Run run = run_on(sc.shapes[i], schedule, sc.form, sc.bits);
          CHECK(plan["per_shape"][i]["algorithm"] == (run.gram ? "gram" : "direct"));
          CHECK(plan["per_shape"][i]["restarts"].get<std::vector<int>>() == run.restarts);
        }
      }
    }
  }
}

TEST_CASE("a planned schedule is re-certified by verify and accepted by emit and run", "[cli][plan]") {
  TempDir dir;
  const std::string file = dir.file("plan.json");
  const CliResult planned = run_cli("plan --shape 4x64x256 --lower 1e-3 --target-error 0.01 --cushion 0.02 "
                                    "--safety 0.02 --precision 128 --format json --output " + file);
  REQUIRE(planned.exit_code == 0);
  CHECK(planned.out.empty());
  const nlohmann::json plan = nlohmann::json::parse(polar_express::test::read_text(file));
  // The whole plan file, and its schedule on its own.
  const CliResult verified = run_cli("verify " + file + " --expect-error 0.01 --format json");
  INFO(verified.err);
  REQUIRE(verified.exit_code == 0);
  const nlohmann::json v = nlohmann::json::parse(verified.out);
  // verify reads the 128-bit schedule at its default 256 bits: the same number.
  CHECK(abs(pe::parse_real(v["final_error"], 256) - pe::parse_real(plan["final_error"], 256)) <
        pe::parse_real("1e-35", 256));
  CHECK(v["steps"].size() == plan["degrees"].size());
  write_text(dir.file("schedule.json"), plan["schedule"].dump());
  CHECK(run_cli("verify " + dir.file("schedule.json") + " --expect-error 0.01").exit_code == 0);
  CHECK(run_cli("verify " + dir.file("schedule.json") + " --expect-error 0.001").exit_code == 1);
  std::filesystem::create_directories(dir.file("out"));
  const CliResult emitted = run_cli("emit " + file + " --target cpp --output " + dir.file("out"));
  CHECK(emitted.exit_code == 0);
  const CliResult ran = run_cli("run --backend cpu --shape 2x64x256 --spectrum logspace:1e-1 --format json " + file);
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);
  // In f64 (run's CPU default) the run stays within rounding of the certified
  // bound: logspace:1e-1 normalises to singular values inside [1e-3, 1].
  CHECK(nlohmann::json::parse(ran.out)["max_sigma_error"].get<double>() <= 0.0101);
}

TEST_CASE("plan on nanochat's settings costs no more than nanochat's list on bench/gpu's shapes", "[cli][plan]") {
  const CliResult reference = run_cli("verify --builtin polar-express-nanochat-d5 --format json");
  REQUIRE(reference.exit_code == 0);
  const nlohmann::json nanochat = nlohmann::json::parse(reference.out);
  const std::string target = nanochat["final_error"];
  rt::Schedule list;
  for (const auto& step : nanochat["steps"]) {
    rt::Step s;
    s.degree = step["degree"];
    for (const auto& c : step["coefficients"]) s.coefficients.push_back(std::stod(c.get<std::string>()));
    list.steps.push_back(s);
  }
  const std::vector<std::pair<std::string, rt::BatchShape>> shapes{
      {"1024x1024", {1, 1024, 1024}}, {"2048x2048", {1, 2048, 2048}},    {"4096x4096", {1, 4096, 4096}},
      {"8192x8192", {1, 8192, 8192}}, {"4096x16384", {1, 4096, 16384}},  {"16384x4096", {1, 16384, 4096}},
      {"8x1024x4096", {8, 1024, 4096}}, {"32x512x512", {32, 512, 512}}, {"64x128x768", {64, 128, 768}},
  };
  for (const auto& [text, shape] : shapes) {
    INFO("shape " << text << ", target " << target);
    const nlohmann::json plan = plan_json("--shape " + text + " --lower 1e-3 --target-error " + target +
                                          " --cushion 0.02 --safety 0.02 --safety-mode inloop --dtype bf16");
    const double nanochat_flops = run_on(shape, list, Form::kAuto, 8).flops;
    CHECK(plan["flops"].get<double>() <= nanochat_flops);
    for (const auto& b : plan["baselines"]) {
      if (b["name"] == "polar-express-nanochat-d5") {
        CHECK(b["flops"].get<double>() == nanochat_flops);
        CHECK(b["meets_target"] == true);
      }
    }
  }
}

TEST_CASE("plan: the table, the dtype's floor and bad input", "[cli][plan]") {
  const CliResult table =
      run_cli("plan --shape 1024x1024 --lower 1e-3 --target-error 0.1 --cushion 0.02 --safety 0.02 --precision 128");
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("cheapest schedule") && Catch::Contains("muon-jordan-ns5") &&
                            Catch::Contains("GFLOP"));

  // bf16 cannot hold 1e-4; f32 can.
  const CliResult floor = run_cli("plan --shape 64x64 --lower 0.1 --target-error 1e-4 --dtype bf16");
  CHECK(floor.exit_code == 2);
  CHECK(line_count(floor.err) == 1);
  CHECK_THAT(floor.err, Catch::Contains("bf16") && Catch::Contains("0.0001"));
  CHECK(run_cli("plan --shape 64x64 --lower 0.1 --target-error 1e-4 --dtype f32 --precision 64").exit_code == 0);

  // Out of reach in two steps: exit 1, one line, nothing written.
  TempDir dir;
  const CliResult far = run_cli("plan --shape 64x64 --lower 1e-3 --target-error 0.01 --max-steps 2 --output " +
                                dir.file("p.json"));
  CHECK(far.exit_code == 1);
  CHECK(line_count(far.err) == 1);
  CHECK_THAT(far.err, Catch::Contains("out of reach"));
  CHECK_FALSE(std::filesystem::exists(dir.file("p.json")));

  for (const char* bad : {"--shape 64y64 --lower 1e-3 --target-error 0.1",
                                "--shape 64x64, --lower 1e-3 --target-error 0.1",
                                "--shape 64x64 --lower abc --target-error 0.1",
                                "--shape 64x64 --lower 1e-3 --target-error 0.1 --dtype f8",
                                "--shape 64x64 --lower 1e-3 --target-error 0.1 --algorithm fast",
                                "--shape 64x64 --lower 1e-3 --target-error 0.1 --degrees 4",
                                "--shape 64x64 --lower 1e-3 --target-error 0.1 --max-steps 0",
                                "--shape 64x64 --lower 2 --target-error 0.1",
                                "--shape 64x64 --lower 1e-3 --target-error 0.1 --safety-mode never"}) {
    const CliResult r = run_cli(std::string("plan ") + bad);
    INFO(bad << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(line_count(r.err) == 1);
  }
}
