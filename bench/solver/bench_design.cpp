// Times the whole `design` computation (Remez steps, chain, certified errors)
// for the paper's schedule at 256 bits and for degree 31 over 10 steps.
// Prints a table and, with --json FILE, writes the medians.
#include "polar_express/solver/schedule.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace polar_express;

namespace {

struct Case {
  std::string name;
  DesignOptions options;
  int repeats;
};

double median_ms(const DesignOptions& options, int repeats) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Schedule schedule = design_schedule(options);
    const auto stop = std::chrono::steady_clock::now();
    if (schedule.steps.empty()) std::abort();  // keeps the work observable
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Case> cases;
  DesignOptions paper;
  paper.degrees = {5};
  paper.lower = Real("1e-3");
  paper.steps = 8;
  paper.cushion = Real("0.02407327424182761");
  paper.safety = Real("0.01");
  paper.safety_mode = SafetyMode::kPostHoc;
  cases.push_back({"paper d5 8 steps posthoc", paper, 51});
  DesignOptions high = paper;
  high.degrees = {31};
  high.steps = 10;
  cases.push_back({"d31 10 steps posthoc", high, 5});
  DesignOptions target;
  target.degrees = {7};
  target.lower = Real("1e-3");
  target.target_error = Real("1e-6");
  cases.push_back({"d7 target 1e-6", target, 21});

  std::printf("%-28s %12s %8s\n", "case (256 bits)", "median ms", "repeats");
  std::string json = "{\"precision_bits\": 256, \"cases\": [";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const double ms = median_ms(cases[i].options, cases[i].repeats);
    std::printf("%-28s %12.3f %8d\n", cases[i].name.c_str(), ms, cases[i].repeats);
    json += (i ? ", " : "") + std::string("{\"name\": \"") + cases[i].name + "\", \"median_ms\": " + std::to_string(ms) + "}";
  }
  json += "]}\n";
  if (argc == 3 && std::string(argv[1]) == "--json") std::ofstream(argv[2]) << json;
  return 0;
}
