// The Gram iteration and the symmetric (lower-triangle) products on the CPU
// backend, the testbed for the CUDA versions: restart planning, agreement
// with the standard path (f64 to rounding, f32 within its accuracy), and
// against the SVD reference on log-spaced and Gaussian spectra.
#include "support.hpp"

#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/gram.hpp"

#include <catch2/catch.hpp>

namespace rt = polar_express::runtime;
using rt::test::Matrix;

namespace {

template <class T>
struct Run {
  std::vector<T> output;
  rt::ProductPlan products;
};

template <class T>
Run<T> run(const rt::BatchShape& s, const std::vector<T>& input, const rt::Schedule& schedule,
           rt::PlanOptions options) {
  rt::CpuPlan<T> plan(s, schedule, options);
  Run<T> r{std::vector<T>(input.size()), plan.program().products};
  REQUIRE(plan.execute(input.data(), r.output.data()));
  return r;
}

// B matrices with singular values log-spaced down to `lowest`, or Gaussian
// entries when lowest == 0.
template <class T>
std::vector<T> make_input(const rt::BatchShape& s, double lowest, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> data(static_cast<std::size_t>(s.batch * s.matrix_size()));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const Matrix g = lowest > 0 ? rt::test::with_spectrum(s.rows, s.cols,
                                                          rt::test::logspace(lowest, std::min(s.rows, s.cols)), rng)
                                : rt::test::gaussian(s.rows, s.cols, rng);
    rt::test::pack(g, data, b);
  }
  return data;
}

template <class T>
double worst_sigma_error(const std::vector<T>& out, const rt::BatchShape& s) {
  double worst = 0;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    worst = std::max(worst, rt::test::max_sigma_error(rt::test::unpack(out, b, s.rows, s.cols)));
  }
  return worst;
}

template <class T, class U>
double worst_relative_difference(const std::vector<T>& a, const std::vector<U>& b, const rt::BatchShape& s) {
  double worst = 0;
  for (std::int64_t i = 0; i < s.batch; ++i) {
    worst = std::max(worst, rt::test::relative_error(rt::test::unpack(a, i, s.rows, s.cols),
                                                     rt::test::unpack(b, i, s.rows, s.cols)));
  }
  return worst;
}

rt::PlanOptions with(rt::ProductMode gram, rt::ProductMode symmetric, int interval = 0, int steps = 0) {
  rt::PlanOptions o;
  o.gram = gram;
  o.symmetric = symmetric;
  o.gram_restart_interval = interval;
  o.steps = steps;
  return o;
}

}  // namespace

TEST_CASE("Gram restarts: budget, growth bound and greedy placement", "[cpu][gram]") {
  // sqrt(k 2^(bits - 8)).
  CHECK(rt::gram_growth_budget(8, 4096) == Approx(64));
  CHECK(rt::gram_growth_budget(24, 64) == Approx(2048));
  CHECK_THROWS_AS(rt::gram_growth_budget(8, 0), std::invalid_argument);

  const rt::Schedule nanochat = rt::test::nanochat_schedule();
  // s -> 0 limit: the product of the c0 of the segment's steps.
  double product = 1;
  for (int t = 0; t < 5; ++t) product *= nanochat.step(t).coefficients[0];
  CHECK(rt::gram_segment_growth(nanochat, 0, 5) == Approx(product).epsilon(1e-4));
  CHECK(rt::gram_segment_growth(nanochat, 2, 3) == Approx(nanochat.step(2).coefficients[0]).epsilon(1e-4));
  CHECK_THROWS_AS(rt::gram_segment_growth(nanochat, 3, 3), std::invalid_argument);

  // bf16 at k = 4096 (budget 64): 8.16 * 4.04 = 33 fits, times 3.89 does not;
  // 3.89 * 3.29 * 2.35 = 30 fits: one restart, before step 2.
  CHECK(rt::gram_restart_steps(nanochat, 5, 64) == std::vector<int>{2});
  // f32 at k = 64 (budget 2048): the whole list (~990) is one segment.
  CHECK(rt::gram_restart_steps(nanochat, 5, 2048).empty());
  // A budget below every c0: each step is its own segment.
  CHECK(rt::gram_restart_steps(nanochat, 5, 1.5) == std::vector<int>{1, 2, 3, 4});
  CHECK(rt::gram_restart_steps(nanochat, 7, 1e9, 3) == std::vector<int>{3, 6});
  CHECK_THROWS_AS(rt::gram_restart_steps(nanochat, 5, 64, -1), std::invalid_argument);
}

TEST_CASE("Gram and symmetric options resolve by shape", "[cpu][gram]") {
  const rt::Schedule schedule = rt::test::nanochat_schedule();
  const rt::PlanOptions automatic;
  // Aspect 2 and up: Gram; square: not.
  CHECK(rt::CpuPlan<float>({1, 32, 64}, schedule, automatic).program().products.gram);
  CHECK(rt::CpuPlan<float>({1, 64, 32}, schedule, automatic).program().products.gram);
  CHECK_FALSE(rt::CpuPlan<float>({1, 48, 64}, schedule, automatic).program().products.gram);
  // Symmetric from k = 256 per BLAS thread on the CPU.
  rt::PlanOptions one_thread, two_threads;
  one_thread.threads = 1;
  two_threads.threads = 2;
  CHECK_FALSE(rt::CpuPlan<float>({1, 32, 64}, schedule, automatic).program().products.symmetric);
  CHECK_FALSE(rt::CpuPlan<float>({1, 255, 300}, schedule, one_thread).program().products.symmetric);
  CHECK(rt::CpuPlan<float>({1, 256, 300}, schedule, one_thread).program().products.symmetric);
  const rt::CpuPlan<float> two_256({1, 256, 300}, schedule, two_threads), two_512({1, 512, 600}, schedule, two_threads);
  CHECK(two_256.program().products.symmetric == (two_256.blas_threads() == 1));
  CHECK(two_512.program().products.symmetric);
  // Every step its own segment: the standard path is as cheap.
  CHECK_FALSE(rt::CpuPlan<float>({1, 8, 64}, schedule, with(rt::ProductMode::kAuto, rt::ProductMode::kAuto, 1))
                  .program().products
                  .gram);
  CHECK(rt::CpuPlan<float>({1, 64, 64}, schedule, with(rt::ProductMode::kOn, rt::ProductMode::kOff)).program().products.gram);
  CHECK_FALSE(
      rt::CpuPlan<float>({1, 32, 640}, schedule, with(rt::ProductMode::kOff, rt::ProductMode::kOn)).program().products.gram);
  CHECK_THROWS_AS(rt::CpuPlan<float>({1, 8, 64}, schedule, with(rt::ProductMode::kOn, rt::ProductMode::kOff, -2)),
                  std::invalid_argument);
}

// Exact arithmetic gives the same map, so in f64 the Gram iteration, with
// any restarts and with or without symmetric products, matches the standard
// path to rounding: u / s_min^2 = 1e-10 at worst (R squares the condition
// number, s_min = 1e-3), ~1e-12 seen; 1e-11 leaves room and catches any
// wrong term (O(1)).
TEST_CASE("f64: the Gram iteration equals the standard path to 1e-11", "[cpu][gram]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{1, 64, 1024}, rt::BatchShape{1, 1024, 64}, rt::BatchShape{3, 40, 130},
                                  rt::BatchShape{2, 90, 31}, rt::BatchShape{1, 1, 17}, rt::BatchShape{1, 300, 600}}) {
    CAPTURE(s.batch, s.rows, s.cols);
    const std::vector<double> input = make_input<double>(s, 1e-3, 11);
    const Run<double> standard = run(s, input, paper, with(rt::ProductMode::kOff, rt::ProductMode::kOff, 0, 12));
    REQUIRE_FALSE(standard.products.gram);
    for (const int interval : {0, 1, 2, 5}) {
      for (const rt::ProductMode symmetric : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
        CAPTURE(interval, symmetric == rt::ProductMode::kOn);
        const Run<double> gram = run(s, input, paper, with(rt::ProductMode::kOn, symmetric, interval, 12));
        REQUIRE(gram.products.gram);
        CHECK(gram.products.symmetric == (symmetric == rt::ProductMode::kOn));
        const std::int64_t k = std::min(s.rows, s.cols);
        CHECK(gram.products.restarts ==
              rt::gram_restart_steps(paper, 12, rt::gram_growth_budget(53, k), interval));
        if (interval > 0) CHECK(gram.products.restarts.size() == 11u / static_cast<unsigned>(interval));
        const double difference = worst_relative_difference(gram.output, standard.output, s);
        CAPTURE(difference);
        CHECK(difference < 1e-11);
      }
    }
    // The certified property: 12 steps reach 1e-12 on [1e-3, 1].
    const double sigma_error =
        worst_sigma_error(run(s, input, paper, with(rt::ProductMode::kOn, rt::ProductMode::kAuto, 0, 12)).output, s);
    CAPTURE(sigma_error);
    CHECK(sigma_error < 1e-12);
  }
}

// f32 is where the Gram form's weakness shows: Q grows like f(s)/s and its
// rounding errors land on every direction of X0.  With the automatic
// restarts, max |1 - sigma| stays within 1.25x of the standard path's (plus
// a few f32 units for outputs already at rounding level) on log-spaced
// spectra down to 1e-3 and on Gaussian matrices (whose normalised spectra
// span a factor ~3-6 at these aspect ratios).  The distance to the f64
// result is larger than the standard path's (~1e-3 against ~1e-5 on the
// log-spaced spectra: forming R costs u / s_min^2 = 0.06 at worst in the
// singular vectors of the smallest s, against u / s_min) but bounded: 5e-3.
TEST_CASE("f32: the Gram iteration keeps the standard path's accuracy", "[cpu][gram]") {
  const rt::Schedule nanochat = rt::test::nanochat_schedule();
  const rt::Schedule paper = rt::test::paper_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{1, 64, 1024}, rt::BatchShape{1, 1024, 64}, rt::BatchShape{4, 32, 256},
                                  rt::BatchShape{2, 100, 300}}) {
    for (const double lowest : {1e-3, 0.0}) {
      for (const auto* schedule : {&nanochat, &paper}) {
        const int steps = schedule == &paper ? 12 : 5;
        CAPTURE(s.batch, s.rows, s.cols, lowest, steps);
        const std::vector<float> input = make_input<float>(s, lowest, 12);
        const Run<float> standard =
            run(s, input, *schedule, with(rt::ProductMode::kOff, rt::ProductMode::kOff, 0, steps));
        const Run<double> exact = run(s, std::vector<double>(input.begin(), input.end()), *schedule,
                                      with(rt::ProductMode::kOff, rt::ProductMode::kOff, 0, steps));
        for (const rt::ProductMode symmetric : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
          const Run<float> gram = run(s, input, *schedule, with(rt::ProductMode::kAuto, symmetric, 0, steps));
          REQUIRE(gram.products.gram);
          const double e_standard = worst_sigma_error(standard.output, s);
          const double e_gram = worst_sigma_error(gram.output, s);
          CAPTURE(e_standard, e_gram, gram.products.restarts.size());
          CHECK(e_gram <= 1.25 * e_standard + 1e-5);
          const double d_standard = worst_relative_difference(standard.output, exact.output, s);
          const double d_gram = worst_relative_difference(gram.output, exact.output, s);
          CAPTURE(d_standard, d_gram);
          CHECK(d_gram < 5e-3);
        }
      }
    }
  }
}

// Forced restarts every 1-3 steps: each R is formed from a better
// conditioned X0, so the distance to the f64 result falls to ~1e-5 (1e-4
// allowed; the standard path's is ~8e-6) and max |1 - sigma| stays at 1e-5.
TEST_CASE("f32: forced restarts and symmetric products on the standard path", "[cpu][gram]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  const rt::BatchShape s{2, 48, 200};
  const std::vector<float> input = make_input<float>(s, 1e-3, 13);
  const Run<double> exact = run(s, std::vector<double>(input.begin(), input.end()), paper,
                                with(rt::ProductMode::kOff, rt::ProductMode::kOff, 0, 12));
  for (const int interval : {1, 2, 3}) {
    CAPTURE(interval);
    const Run<float> gram = run(s, input, paper, with(rt::ProductMode::kOn, rt::ProductMode::kOn, interval, 12));
    CHECK(worst_relative_difference(gram.output, exact.output, s) < 1e-4);
    CHECK(worst_sigma_error(gram.output, s) < 1e-5);
  }
  const rt::BatchShape square{2, 300, 300};
  const std::vector<float> sq = make_input<float>(square, 1e-3, 14);
  const Run<float> lower = run(square, sq, paper, with(rt::ProductMode::kOff, rt::ProductMode::kOn, 0, 12));
  const Run<float> full = run(square, sq, paper, with(rt::ProductMode::kOff, rt::ProductMode::kOff, 0, 12));
  CHECK(lower.products.symmetric);
  CHECK(worst_relative_difference(lower.output, full.output, square) < 1e-5);
  CHECK(worst_sigma_error(lower.output, square) < 1e-5);
}
