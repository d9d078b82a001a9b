// Times certification through the solver's public API only (verify_schedule,
// design_schedule, certify), so that the same source builds against any
// revision of the library: compare_certify.sh runs it against the revision
// before rigorous enclosures and against the working tree, side by side.
//
//   bench_certify [--json FILE]
//
// Cases (256 bits): `verify` of the paper's 8-step list (certificate, the
// smallest-l search, the perturbed intervals), the whole catalogue table
// (`verify --builtin all`: every list, 10 steps on [1e-3, 1]), a degree-31 x
// 10-step design (which certifies its result), and certify() alone on that
// design.  Prints one line per case and, with --json, writes the medians.
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule.hpp"
#include "polar_express/solver/verify.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

using namespace polar_express;

namespace {

constexpr unsigned kBits = 256;

double median_ms(const std::function<void()>& work, int repeats) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    const auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

DesignOptions degree_31() {
  DesignOptions o;
  o.degrees = {31};
  o.lower = parse_real("1e-3", certification_bits(kBits));
  o.steps = 10;
  o.cushion = parse_real("0.02407327424182761", certification_bits(kBits));
  o.safety = parse_real("0.01", certification_bits(kBits));
  o.safety_mode = SafetyMode::kPostHoc;
  return o;
}

// Keeps a result observable so that the work is not optimised away.
void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  const Schedule paper = builtin_schedule("polar-express-paper-d5", kBits);
  std::vector<Schedule> catalogue;
  for (const std::string& name : builtin_names()) catalogue.push_back(builtin_schedule(name, kBits));
  VerifyOptions table;
  table.lower = parse_real("1e-3", certification_bits(kBits));
  table.upper = Real(1);
  table.steps = 10;
  const Schedule designed = design_schedule(degree_31());

  struct Case {
    const char* name;
    std::function<void()> work;
    int repeats;
  };
  const std::vector<Case> cases{
      {"verify paper d5 (8 steps)", [&] { require(verify_schedule(paper, {}).schedule.steps.size() == 8); }, 21},
      {"verify --builtin all",
       [&] {
         for (const Schedule& s : catalogue) require(verify_schedule(s, table).schedule.steps.size() == 10);
       },
       5},
      {"design d31 x 10 steps", [&] { require(design_schedule(degree_31()).steps.size() == 10); }, 5},
      {"certify d31 x 10 steps",
       [&] {
         std::vector<ScheduleStep> steps = designed.steps;
         certify(steps, designed.input, kBits);
         require(steps.back().error_after > 0);
       },
       11},
  };
  std::printf("%-28s %12s %8s\n", "case (256 bits)", "median ms", "repeats");
  std::string json = "{\"precision_bits\": 256, \"cases\": [";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const double ms = median_ms(cases[i].work, cases[i].repeats);
    std::printf("%-28s %12.3f %8d\n", cases[i].name, ms, cases[i].repeats);
    json += (i ? ", " : "") + std::string("{\"name\": \"") + cases[i].name + "\", \"median_ms\": " + std::to_string(ms) +
            "}";
  }
  json += "]}\n";
  if (argc == 3 && std::string(argv[1]) == "--json") std::ofstream(argv[2]) << json;
  return 0;
}
