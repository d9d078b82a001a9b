// The cost model behind `design` and `verify --max-minutes` (cli/src/long_work.cpp):
// CPU seconds of one Remez solve and of one certification image on [1e-3, 1]
// over a grid of degrees and precisions, beside the model's estimate.  The
// model is meant to be right within a factor of about 3.
#include "long_work.hpp"

#include "polar_express/solver/remez.hpp"
#include "polar_express/solver/schedule.hpp"

#include <cstdio>
#include <ctime>

using namespace polar_express;

namespace {

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main() {
  const struct {
    int degree;
    unsigned bits;
  } cases[] = {{5, 256}, {15, 256}, {31, 256}, {63, 256}, {127, 256}, {5, 1024}, {15, 1024}, {31, 1024},
               {63, 1024}, {5, 4096}, {31, 4096}, {5, 16384}};
  std::printf("%6s %6s %8s | %10s %10s %6s | %10s %10s %6s\n", "degree", "bits", "work", "remez s", "model s",
              "ratio", "image s", "model s", "ratio");
  for (const auto& c : cases) {
    const unsigned work = certification_bits(c.bits);
    PrecisionScope scope(work);
    const Real lower = parse_real("1e-3", work);
    const Real upper = 1;
    double start = cpu_seconds();
    const RemezResult solved = remez(c.degree, lower, upper, c.bits);
    const double remez_seconds = cpu_seconds() - start;
    std::vector<ScheduleStep> steps(1);
    for (const Real& k : solved.polynomial.coefficients) steps[0].polynomial.coefficients.push_back(at_precision(k, c.bits));
    start = cpu_seconds();
    certify(steps, {lower, upper}, c.bits);
    const double image_seconds = cpu_seconds() - start;
    const double remez_model = cli::estimated_remez_seconds(c.degree, solved.working_bits);
    const double image_model = cli::estimated_image_seconds(c.degree, work);
    std::printf("%6d %6u %8u | %10.4f %10.4f %6.2f | %10.4f %10.4f %6.2f\n", c.degree, c.bits, solved.working_bits,
                remez_seconds, remez_model, remez_seconds / remez_model, image_seconds, image_model,
                image_seconds / image_model);
  }
}
