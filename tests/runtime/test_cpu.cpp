// CPU backend: accuracy of the paper's list against the SVD reference, the
// general-degree Horner evaluation, batching, layouts and every edge input.
#include "allocation_counter.hpp"
#include "support.hpp"

#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/cpu_info.hpp"

#include <catch2/catch.hpp>

#include <limits>

namespace rt = polar_express::runtime;
using rt::test::Matrix;

namespace {

struct Case {
  std::int64_t batch, rows, cols;
};

// A batch with log-spaced spectra down to `lowest`; returns the row-major
// data and fills `inputs` with the double matrices.
template <class T>
std::vector<T> log_spaced_batch(const Case& c, double lowest, std::uint64_t seed, std::vector<Matrix>& inputs) {
  std::mt19937_64 rng(seed);
  std::vector<T> data(static_cast<std::size_t>(c.batch * c.rows * c.cols));
  inputs.clear();
  for (std::int64_t b = 0; b < c.batch; ++b) {
    inputs.push_back(rt::test::with_spectrum(c.rows, c.cols, rt::test::logspace(lowest, std::min(c.rows, c.cols)), rng));
    rt::test::pack(inputs.back(), data, b);
  }
  return data;
}

template <class T>
void check_accuracy(const Case& c, double sigma_tolerance, double fro_tolerance) {
  std::vector<Matrix> inputs;
  const std::vector<T> input = log_spaced_batch<T>(c, 1e-3, 42 + static_cast<std::uint64_t>(c.rows), inputs);
  std::vector<T> output(input.size());
  rt::PlanOptions options;
  options.steps = 12;
  rt::CpuPlan<T> plan({c.batch, c.rows, c.cols}, rt::test::paper_schedule(), options);
  REQUIRE(plan.execute(input.data(), output.data()));
  for (std::int64_t b = 0; b < c.batch; ++b) {
    CAPTURE(c.batch, c.rows, c.cols, b);
    REQUIRE(plan.report().status[static_cast<std::size_t>(b)] == rt::MatrixStatus::kOk);
    const Matrix u = rt::test::unpack(output, b, c.rows, c.cols);
    // The reference is the polar factor of what the plan saw (the input
    // rounded to T), computed in double.
    const Matrix reference = rt::test::polar_reference(rt::test::unpack(input, b, c.rows, c.cols));
    CHECK(rt::test::max_sigma_error(u) < sigma_tolerance);
    CHECK(rt::test::relative_error(u, reference) < fro_tolerance);
  }
}

}  // namespace

TEST_CASE("f64: 12 steps of the paper's list reach 1e-12 on spectra down to 1e-3", "[cpu][accuracy]") {
  for (const Case& c : {Case{1, 37, 53}, Case{1, 53, 37}, Case{3, 20, 31}, Case{2, 31, 20}, Case{1, 64, 64}}) {
    check_accuracy<double>(c, 1e-12, 1e-10);
  }
}

// fp32: the final steps contract errors cubically, so what is left is the
// rounding of the last GEMMs, a few float epsilons (2e-7 seen here), well
// inside the 1e-5 asked for.  The distance to the reference also carries
// the conditioning (1e3) of the polar factor: 5e-6 seen, 1e-4 allowed.
TEST_CASE("f32: 12 steps of the paper's list reach 1e-5", "[cpu][accuracy]") {
  for (const Case& c : {Case{1, 37, 53}, Case{1, 53, 37}, Case{3, 20, 31}, Case{1, 64, 64}}) {
    check_accuracy<float>(c, 1e-5, 1e-4);
  }
}

TEST_CASE("every odd degree: one step maps the normalised singular values through p", "[cpu][horner]") {
  // Degrees 3..9 with coefficients small enough that p is far from 1, so a
  // wrong Horner order or a dropped term shows.
  const std::vector<std::vector<double>> polys{
      {1.5, -0.5}, {2.0, -1.5, 0.5}, {2.1875, -2.1875, 1.3125, -0.3125}, {1.3, 0.4, -0.9, 0.6, -0.2}};
  for (const auto& coefficients : polys) {
    for (const auto& [rows, cols] : {std::pair<int, int>{9, 14}, std::pair<int, int>{14, 9}}) {
      rt::Schedule schedule;
      schedule.steps = {{2 * static_cast<int>(coefficients.size()) - 1, coefficients}};
      schedule.normalization = {1.0, 0.0};
      std::mt19937_64 rng(7);
      const Eigen::VectorXd sigma = rt::test::logspace(0.05, std::min(rows, cols));
      const Eigen::Index k = std::min(rows, cols);
      const Matrix u = rt::test::orthonormal(rows, k, rng), v = rt::test::orthonormal(cols, k, rng);
      const Matrix g = u * sigma.asDiagonal() * v.transpose();
      const double norm = sigma.norm();
      Eigen::VectorXd mapped(k);
      for (Eigen::Index i = 0; i < k; ++i) {
        const double x = sigma(i) / norm;
        double p = 0;
        for (std::size_t j = 0; j < coefficients.size(); ++j) p += coefficients[j] * std::pow(x, 2.0 * j + 1);
        mapped(i) = p;
      }
      const Matrix expected = u * mapped.asDiagonal() * v.transpose();
      std::vector<double> input(static_cast<std::size_t>(rows * cols)), output(input.size());
      rt::test::pack(g, input, 0);
      rt::CpuPlan<double> plan({1, rows, cols}, schedule);
      REQUIRE(plan.execute(input.data(), output.data()));
      CAPTURE(coefficients.size(), rows, cols);
      CHECK((rt::test::unpack(output, 0, rows, cols) - expected).cwiseAbs().maxCoeff() < 1e-14);
    }
  }
}

TEST_CASE("a cycling schedule runs its list again", "[cpu][schedule]") {
  rt::Schedule schedule;
  schedule.steps = {{3, {1.5, -0.5}}, {3, {1.2, -0.1}}};
  schedule.after_list = rt::AfterList::kCycle;
  CHECK(schedule.step(2).coefficients[0] == 1.5);
  CHECK(schedule.step(3).coefficients[0] == 1.2);
  schedule.after_list = rt::AfterList::kRepeatLast;
  CHECK(schedule.step(2).coefficients[0] == 1.2);
  CHECK_THROWS_AS(schedule.step(-1), std::out_of_range);
  CHECK_THROWS_AS(rt::Schedule{}.step(0), std::out_of_range);

  // Cycling and repeating differ on a matrix after the list ends.
  std::mt19937_64 rng(3);
  const Matrix g = rt::test::gaussian(6, 8, rng);
  std::vector<double> input(48), cycled(48), repeated(48);
  rt::test::pack(g, input, 0);
  rt::PlanOptions options;
  options.steps = 3;
  schedule.after_list = rt::AfterList::kCycle;
  rt::CpuPlan<double>({1, 6, 8}, schedule, options).execute(input.data(), cycled.data());
  schedule.after_list = rt::AfterList::kRepeatLast;
  rt::CpuPlan<double>({1, 6, 8}, schedule, options).execute(input.data(), repeated.data());
  CHECK(cycled != repeated);
}

TEST_CASE("schedule_from_table reads the generated table shape and validates", "[cpu][schedule]") {
  constexpr std::array<polar_express::schedules::OddPolynomialStep<double, 4>, 2> table{{
      {7, {2.1875, -2.1875, 1.3125, -0.3125}},
      {3, {1.5, -0.5, 99.0, 99.0}},  // slots past (degree + 1) / 2 are not read
  }};
  const rt::Schedule s = rt::schedule_from_table(table, {1.5, 1e-3}, rt::AfterList::kCycle, "mixed");
  REQUIRE(s.steps.size() == 2);
  CHECK(s.steps[0].coefficients == std::vector<double>{2.1875, -2.1875, 1.3125, -0.3125});
  CHECK(s.steps[1].coefficients == std::vector<double>{1.5, -0.5});
  CHECK(s.normalization.factor == 1.5);
  CHECK(s.normalization.eps == 1e-3);
  CHECK(s.after_list == rt::AfterList::kCycle);

  constexpr std::array<polar_express::schedules::OddPolynomialStep<double, 2>, 1> even{{{4, {1.0, 2.0}}}};
  CHECK_THROWS_WITH(rt::schedule_from_table(even, {}), Catch::Contains("degree 4"));
  rt::Schedule bad = s;
  bad.steps[1].coefficients.push_back(0.0);
  CHECK_THROWS_WITH(rt::validate(bad), Catch::Contains("3 coefficients for degree 3"));
  bad = s;
  bad.normalization.factor = 0;
  CHECK_THROWS_WITH(rt::validate(bad), Catch::Contains("factor"));
  bad = s;
  bad.normalization.eps = -1;
  CHECK_THROWS_WITH(rt::validate(bad), Catch::Contains("eps"));
  bad = s;
  bad.steps[0].coefficients[2] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(rt::validate(bad), Catch::Contains("not finite"));
  CHECK_THROWS_WITH(rt::validate(rt::Schedule{}), Catch::Contains("no steps"));
}

TEST_CASE("bad shapes and options are rejected when the plan is made", "[cpu][validation]") {
  const rt::Schedule s = rt::test::paper_schedule();
  CHECK_THROWS_AS(rt::CpuPlan<double>({0, 4, 4}, s), std::invalid_argument);
  CHECK_THROWS_AS(rt::CpuPlan<double>({1, 4, 0}, s), std::invalid_argument);
  CHECK_THROWS_AS(rt::CpuPlan<double>({2, 4, 4, 15, 0}, s), std::invalid_argument);
  CHECK_THROWS_AS(rt::CpuPlan<double>({2, 4, 4, 0, 3}, s), std::invalid_argument);
  rt::PlanOptions options;
  options.steps = -1;
  CHECK_THROWS_AS(rt::CpuPlan<double>({1, 4, 4}, s, options), std::invalid_argument);
  rt::CpuPlan<double> plan({1, 4, 4}, s);
  CHECK(plan.program().steps == 8);
  std::vector<double> x(16, 1.0);
  CHECK_THROWS_AS(plan.execute(nullptr, x.data()), std::invalid_argument);
}

namespace {

// Runs `plan` on one matrix and returns the output.
template <class T>
Matrix run_one(const Matrix& g, const rt::Schedule& schedule, int steps, rt::MatrixStatus expected) {
  std::vector<T> input(static_cast<std::size_t>(g.size())), output(input.size());
  rt::test::pack(g, input, 0);
  rt::PlanOptions options;
  options.steps = steps;
  rt::CpuPlan<T> plan({1, g.rows(), g.cols()}, schedule, options);
  plan.execute(input.data(), output.data());
  CHECK(plan.report().status[0] == expected);
  return rt::test::unpack(output, 0, g.rows(), g.cols());
}

}  // namespace

TEST_CASE("zero, tiny, huge, NaN and Inf inputs", "[cpu][edge]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  rt::Schedule no_eps = paper;
  no_eps.normalization.eps = 0;
  std::mt19937_64 rng(11);
  Matrix polar;
  const Matrix g = rt::test::with_spectrum(13, 21, rt::test::logspace(1e-2, 13), rng, &polar);

  SECTION("a zero matrix gives zero, with or without eps") {
    for (const rt::Schedule& s : {paper, no_eps}) {
      CHECK(run_one<double>(Matrix::Zero(13, 21), s, 12, rt::MatrixStatus::kZero).isZero(0));
      CHECK(run_one<float>(Matrix::Zero(13, 21), s, 12, rt::MatrixStatus::kZero).isZero(0));
    }
  }
  SECTION("norm 1e-30 is normalised exactly as the formula says") {
    // Without eps it is scaled up to the unit ball: the polar factor.
    CHECK(rt::test::relative_error(run_one<double>(g * 1e-30, no_eps, 12, rt::MatrixStatus::kOk), polar) < 1e-10);
    CHECK(rt::test::relative_error(run_one<float>(g * 1e-30, no_eps, 12, rt::MatrixStatus::kOk), polar) < 1e-3);
    CHECK(rt::test::relative_error(run_one<double>(g * 1e-300, no_eps, 12, rt::MatrixStatus::kOk), polar) < 1e-10);
    // With eps = 1e-7 dominating, X = G / 1e-7 stays in the linear regime of
    // every step: the output is G / 1e-7 times the product of the c0.
    double gain = 1;
    for (int t = 0; t < 12; ++t) gain *= paper.step(t).coefficients[0];
    const Matrix tiny = g * (1e-30 / g.norm());
    const Matrix out = run_one<double>(tiny, paper, 12, rt::MatrixStatus::kOk);
    CHECK(rt::test::relative_error(out, tiny * (gain / (1.01 * 1e-30 + 1e-7))) < 1e-9);
  }
  SECTION("norm 1e30 (and 1e300 in double) neither overflows nor loses accuracy") {
    CHECK(rt::test::relative_error(run_one<double>(g * 1e30, paper, 12, rt::MatrixStatus::kOk), polar) < 1e-10);
    CHECK(rt::test::relative_error(run_one<double>(g * 1e300, paper, 12, rt::MatrixStatus::kOk), polar) < 1e-10);
    CHECK(rt::test::relative_error(run_one<float>(g * 1e30, paper, 12, rt::MatrixStatus::kOk), polar) < 1e-3);
  }
  SECTION("NaN or Inf in one matrix: that output is NaN and reported, the others are untouched") {
    for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
      std::vector<double> input(3 * 13 * 21), output(input.size());
      for (int b = 0; b < 3; ++b) rt::test::pack(g, input, b);
      input[13 * 21 + 5] = bad;
      rt::PlanOptions options;
      options.steps = 12;
      options.nuclear_norm = true;
      rt::CpuPlan<double> plan({3, 13, 21}, paper, options);
      CHECK_FALSE(plan.execute(input.data(), output.data()));
      CHECK_FALSE(plan.report().all_succeeded);
      CHECK(plan.report().status[0] == rt::MatrixStatus::kOk);
      CHECK(plan.report().status[1] == rt::MatrixStatus::kNonFinite);
      CHECK(plan.report().status[2] == rt::MatrixStatus::kOk);
      CHECK(rt::test::unpack(output, 1, 13, 21).array().isNaN().all());
      CHECK(std::isnan(plan.report().nuclear_norms[1]));
      CHECK(rt::test::relative_error(rt::test::unpack(output, 2, 13, 21), polar) < 1e-10);
    }
  }
  SECTION("a schedule that blows up is reported as diverged, never a finite answer") {
    rt::Schedule wild;
    wild.steps = {{3, {1e30, 1e30}}};
    const Matrix out = run_one<float>(g, wild, 40, rt::MatrixStatus::kDiverged);
    CHECK(out.array().isNaN().all());
  }
}

TEST_CASE("vectors: 1 x N and M x 1 give v / ||v||", "[cpu][edge]") {
  std::mt19937_64 rng(5);
  for (const auto& [rows, cols] : {std::pair<int, int>{1, 37}, std::pair<int, int>{37, 1}, std::pair<int, int>{1, 1}}) {
    const Matrix g = rt::test::gaussian(rows, cols, rng);
    const Matrix u = run_one<double>(g, rt::test::paper_schedule(), 12, rt::MatrixStatus::kOk);
    CAPTURE(rows, cols);
    CHECK((u - g / g.norm()).cwiseAbs().maxCoeff() < 1e-13);
  }
}

TEST_CASE("B = 1000 small matrices of sizes off multiples of 8", "[cpu][batch]") {
  const Case c{1000, 5, 7};
  std::vector<Matrix> inputs;
  const std::vector<double> input = log_spaced_batch<double>(c, 1e-2, 9, inputs);
  std::vector<double> output(input.size());
  rt::PlanOptions options;
  options.steps = 12;
  options.threads = 3;
  rt::CpuPlan<double> plan({c.batch, c.rows, c.cols}, rt::test::paper_schedule(), options);
  REQUIRE(plan.execute(input.data(), output.data()));
  double worst = 0;
  for (std::int64_t b = 0; b < c.batch; ++b) {
    worst = std::max(worst, rt::test::relative_error(rt::test::unpack(output, b, c.rows, c.cols),
                                                     rt::test::polar_reference(inputs[static_cast<std::size_t>(b)])));
  }
  CHECK(worst < 1e-12);
}

TEST_CASE("in place, strided, threaded and repeated runs agree bit for bit", "[cpu][layout]") {
  const Case c{7, 19, 11};
  std::vector<Matrix> inputs;
  const std::vector<float> packed = log_spaced_batch<float>(c, 1e-3, 21, inputs);
  rt::PlanOptions options;
  options.steps = 10;
  options.threads = 1;
  rt::CpuPlan<float> serial({c.batch, c.rows, c.cols}, rt::test::paper_schedule(), options);
  std::vector<float> reference(packed.size());
  REQUIRE(serial.execute(packed.data(), reference.data()));

  SECTION("in place") {
    std::vector<float> data = packed;
    REQUIRE(serial.execute(data.data(), data.data()));
    CHECK(data == reference);
  }
  SECTION("threads over the batch") {
    options.threads = 4;
    rt::CpuPlan<float> threaded({c.batch, c.rows, c.cols}, rt::test::paper_schedule(), options);
    CHECK(threaded.workers() == std::min(4, rt::usable_cpus()));
    std::vector<float> out(packed.size());
    REQUIRE(threaded.execute(packed.data(), out.data()));
    CHECK(out == reference);
  }
  SECTION("batch strides leave the padding alone") {
    const std::int64_t in_stride = c.rows * c.cols + 5, out_stride = c.rows * c.cols + 3;
    std::vector<float> input(static_cast<std::size_t>(c.batch * in_stride), -7.0f);
    std::vector<float> output(static_cast<std::size_t>(c.batch * out_stride), 9.0f);
    for (std::int64_t b = 0; b < c.batch; ++b) {
      std::copy_n(packed.begin() + b * c.rows * c.cols, c.rows * c.cols, input.begin() + b * in_stride);
    }
    rt::CpuPlan<float> strided({c.batch, c.rows, c.cols, in_stride, out_stride}, rt::test::paper_schedule(), options);
    REQUIRE(strided.execute(input.data(), output.data()));
    for (std::int64_t b = 0; b < c.batch; ++b) {
      CHECK(std::equal(output.begin() + b * out_stride, output.begin() + b * out_stride + c.rows * c.cols,
                       reference.begin() + b * c.rows * c.cols));
      for (std::int64_t pad = c.rows * c.cols; pad < out_stride; ++pad) CHECK(output[b * out_stride + pad] == 9.0f);
    }
  }
  SECTION("a plan reused: same results, and execute allocates nothing") {
    options.threads = 3;
    rt::CpuPlan<float> plan({c.batch, c.rows, c.cols}, rt::test::paper_schedule(), options);
    std::vector<float> first(packed.size()), second(packed.size());
    REQUIRE(plan.execute(packed.data(), first.data()));
    // The counter sees an allocation when there is one.
    CHECK(rt::test::count_allocations([] { CHECK(std::make_unique<std::vector<int>>(3)->size() == 3); }) >= 1);
    bool ok = false;
    const long allocations = rt::test::count_allocations([&] { ok = plan.execute(packed.data(), second.data()); });
    CHECK(ok);
    CHECK(allocations == 0);
    CHECK(first == reference);
    CHECK(second == reference);
  }
}

TEST_CASE("by-products: <G, U> and the certified bound", "[cpu][byproducts]") {
  std::mt19937_64 rng(17);
  const Eigen::VectorXd sigma = rt::test::logspace(1e-2, 12) * 3.0;
  std::vector<double> input(2 * 12 * 15), output(input.size());
  rt::test::pack(rt::test::with_spectrum(12, 15, sigma, rng), input, 0);
  rt::PlanOptions options;
  options.nuclear_norm = true;
  const rt::Schedule paper = rt::test::paper_schedule();
  SECTION("every matrix ok: the table's bound for the list's 8 steps, which the output meets") {
    rt::CpuPlan<double> plan({2, 12, 15}, paper, options);
    rt::test::pack(rt::test::with_spectrum(12, 15, sigma * 1e-5, rng), input, 1);
    REQUIRE(plan.execute(input.data(), output.data()));
    const auto& info = polar_express::schedules::polar_express_paper_d5_info;
    REQUIRE(plan.report().sigma_error_bound.has_value());
    CHECK(*plan.report().sigma_error_bound == info.steps[7].error_bound_value);
    for (std::int64_t b = 0; b < 2; ++b) {
      CHECK(rt::test::max_sigma_error(rt::test::unpack(output, b, 12, 15)) <= *plan.report().sigma_error_bound);
    }
  }
  SECTION("a float plan reports the bound of the floats it multiplies by") {
    rt::CpuPlan<float> plan({2, 12, 15}, paper, options);
    rt::test::pack(rt::test::with_spectrum(12, 15, sigma * 1e-5, rng), input, 1);
    const std::vector<float> narrow(input.begin(), input.end());
    std::vector<float> result(narrow.size());
    REQUIRE(plan.execute(narrow.data(), result.data()));
    const auto& info = polar_express::schedules::polar_express_paper_d5_info;
    REQUIRE(plan.report().sigma_error_bound.has_value());
    CHECK(*plan.report().sigma_error_bound == info.steps[7].error_bound_f32_value);
    CHECK(info.steps[7].error_bound_f32_value != info.steps[7].error_bound_value);
  }
  SECTION("12 steps: <G, U> is the nuclear norm; past the certified list there is no bound") {
    options.steps = 12;
    rt::CpuPlan<double> plan({2, 12, 15}, paper, options);
    rt::test::pack(rt::test::with_spectrum(12, 15, sigma * 1e-5, rng), input, 1);
    REQUIRE(plan.execute(input.data(), output.data()));
    REQUIRE(plan.report().nuclear_norms.size() == 2);
    CHECK(plan.report().nuclear_norms[0] == Approx(sigma.sum()).epsilon(1e-12));
    CHECK(plan.report().nuclear_norms[1] == Approx(sigma.sum() * 1e-5).epsilon(1e-12));
    CHECK_FALSE(plan.report().sigma_error_bound.has_value());
  }
  SECTION("a zero matrix in the batch: no bound, <G, U> = 0") {
    rt::CpuPlan<double> plan({2, 12, 15}, paper, options);
    REQUIRE(plan.execute(input.data(), output.data()));
    CHECK(plan.report().status[1] == rt::MatrixStatus::kZero);
    CHECK(plan.report().nuclear_norms[1] == 0.0);
    CHECK_FALSE(plan.report().sigma_error_bound.has_value());
  }
}
