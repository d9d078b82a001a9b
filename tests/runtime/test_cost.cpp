// count_matmuls against two independent counts: the closed forms of
// DESIGN.md's cost model (standard form) and of bench/RESULTS.md's Gram
// count, and a replay of the iterations on matrices that carry only their
// dimensions and tally every product they take part in.
#include "polar_express/runtime/cost.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <set>

namespace rt = polar_express::runtime;

namespace {

// A matrix that is only its dimensions; multiplying checks them and tallies
// 2 m n p FLOPs.
struct Shape {
  std::int64_t rows, cols;
};

struct Tally {
  double flops = 0;
  std::int64_t products = 0;
  Shape multiply(const Shape& a, const Shape& b) {
    REQUIRE(a.cols == b.rows);
    flops += 2.0 * static_cast<double>(a.rows) * static_cast<double>(a.cols) * static_cast<double>(b.cols);
    ++products;
    return {a.rows, b.cols};
  }
};

Shape transpose(const Shape& s) { return {s.cols, s.rows}; }

// The polynomial part P = c1 A + ... + c_{q-1} A^{q-1} by Horner: A (A (... A)).
Shape horner(Tally& tally, const Shape& a, std::size_t coefficients) {
  Shape p = a;
  for (std::size_t j = 2; j < coefficients; ++j) p = tally.multiply(a, p);
  return p;
}

// The standard form on one matrix: A = X X^T (X^T X when tall), P, X <- P X
// (X P when tall).
Tally replay_standard(const Shape& x, const rt::Schedule& schedule, int steps) {
  Tally tally;
  const bool wide = x.rows <= x.cols;
  for (int t = 0; t < steps; ++t) {
    const Shape a = wide ? tally.multiply(x, transpose(x)) : tally.multiply(transpose(x), x);
    const Shape p = horner(tally, a, schedule.step(t).coefficients.size());
    const Shape next = wide ? tally.multiply(p, x) : tally.multiply(x, p);
    REQUIRE(next.rows == x.rows);
    REQUIRE(next.cols == x.cols);
  }
  return tally;
}

// The Gram form on one matrix as runtime/README.md describes it: per segment
// R = X0 X0^T; per step H = c0 I + P(A), Q <- H Q (Q = H first), A <- H A H
// unless the segment ends, where X0 <- Q X0.
Tally replay_gram(const Shape& x, const rt::Schedule& schedule, int steps, const std::set<int>& restarts) {
  Tally tally;
  const bool wide = x.rows <= x.cols;
  Shape a{0, 0}, q{0, 0};
  for (int t = 0; t < steps; ++t) {
    const bool first = t == 0 || restarts.count(t) > 0;
    const bool last = t + 1 == steps || restarts.count(t + 1) > 0;
    if (first) a = wide ? tally.multiply(x, transpose(x)) : tally.multiply(transpose(x), x);
    const Shape h = horner(tally, a, schedule.step(t).coefficients.size());
    q = first ? h : tally.multiply(h, q);
    if (!last) {
      a = tally.multiply(h, tally.multiply(a, h));
    } else {
      const Shape next = wide ? tally.multiply(q, x) : tally.multiply(x, q);
      REQUIRE(next.rows == x.rows);
    }
  }
  return tally;
}

rt::Schedule schedule_of_degrees(const std::vector<int>& degrees) {
  rt::Schedule s;
  s.name = "degrees";
  for (int d : degrees) {
    rt::Step step;
    step.degree = d;
    step.coefficients.assign(static_cast<std::size_t>((d + 1) / 2), 0.5);
    s.steps.push_back(step);
  }
  return s;
}

}  // namespace

TEST_CASE("count_matmuls, standard form: DESIGN.md's 4 k^2 K + 2 (q-2) k^3 per step", "[cost]") {
  const rt::Schedule schedule = schedule_of_degrees({3, 5, 7, 9, 31});
  for (const rt::BatchShape shape : {rt::BatchShape{1, 64, 64}, rt::BatchShape{3, 40, 200}, rt::BatchShape{2, 300, 17}}) {
    const double k = static_cast<double>(std::min(shape.rows, shape.cols));
    const double big = static_cast<double>(std::max(shape.rows, shape.cols));
    double expected = 0;
    std::int64_t products = 0;
    for (int t = 0; t < 7; ++t) {  // two steps past the list: the last degree (31) again
      const int q = (schedule.step(t).degree + 1) / 2;
      expected += 4 * k * k * big + 2.0 * (q - 2) * k * k * k;
      products += 2 + (q - 2);
    }
    const rt::MatmulCount count = rt::count_matmuls(shape, schedule, 7, rt::ProductPlan{});
    CHECK(count.flops == expected * static_cast<double>(shape.batch));
    CHECK(count.products == products * shape.batch);
    const Tally replay = replay_standard({shape.rows, shape.cols}, schedule, 7);
    CHECK(count.flops == replay.flops * static_cast<double>(shape.batch));
    CHECK(count.products == replay.products * shape.batch);
  }
}

TEST_CASE("count_matmuls, Gram form: bench/RESULTS.md's 197 MFLOP for nanochat on 128x768", "[cost]") {
  // Restarts before steps 1 and 3: R 25.2 MFLOP, two restarts (Q X and a new
  // R) 100.7, the final Q X 25.2, eleven 128^3 products 46.1.
  rt::ProductPlan plan;
  plan.gram = true;
  plan.restarts = {1, 3};
  const rt::MatmulCount count = rt::count_matmuls({64, 128, 768}, schedule_of_degrees({5, 5, 5, 5, 5}), 5, plan);
  const double k = 128, big = 768;
  CHECK(count.flops == 64 * (6 * 2 * k * k * big + 11 * 2 * k * k * k));
  CHECK(count.products == 64 * (6 + 11));
  CHECK(count.flops / 64 == Approx(197.0e6).epsilon(0.002));
}

TEST_CASE("count_matmuls, Gram form: a replay on dimension-only matrices, any restarts", "[cost]") {
  std::mt19937_64 rng(13);
  const std::vector<int> odd{3, 5, 7, 9, 11};
  for (int trial = 0; trial < 200; ++trial) {
    const int steps = 1 + static_cast<int>(rng() % 9);
    std::vector<int> degrees;
    for (int t = 0; t < 1 + static_cast<int>(rng() % 6); ++t) degrees.push_back(odd[rng() % odd.size()]);
    const rt::Schedule schedule = schedule_of_degrees(degrees);
    rt::ProductPlan plan;
    plan.gram = true;
    std::set<int> restarts;
    for (int t = 1; t < steps; ++t) {
      if (rng() % 3 == 0) {
        restarts.insert(t);
        plan.restarts.push_back(t);
      }
    }
    const std::int64_t rows = 1 + static_cast<std::int64_t>(rng() % 300);
    const std::int64_t cols = 1 + static_cast<std::int64_t>(rng() % 300);
    const std::int64_t batch = 1 + static_cast<std::int64_t>(rng() % 4);
    const rt::MatmulCount count = rt::count_matmuls({batch, rows, cols}, schedule, steps, plan);
    const Tally replay = replay_gram({rows, cols}, schedule, steps, restarts);
    INFO("trial " << trial << ": " << batch << "x" << rows << "x" << cols << ", " << steps << " steps, "
                  << plan.restarts.size() << " restarts");
    CHECK(count.flops == replay.flops * static_cast<double>(batch));
    CHECK(count.products == replay.products * batch);
    // Restarting before every step is the standard form.
    rt::ProductPlan every = plan;
    every.restarts.clear();
    for (int t = 1; t < steps; ++t) every.restarts.push_back(t);
    CHECK(rt::count_matmuls({batch, rows, cols}, schedule, steps, every).flops ==
          rt::count_matmuls({batch, rows, cols}, schedule, steps, rt::ProductPlan{}).flops);
  }
}

TEST_CASE("count_matmuls rejects bad steps and restarts", "[cost]") {
  const rt::Schedule schedule = schedule_of_degrees({5});
  rt::ProductPlan plan;
  plan.gram = true;
  CHECK_THROWS_AS(rt::count_matmuls({1, 8, 8}, schedule, 0, plan), std::invalid_argument);
  plan.restarts = {3};
  CHECK_THROWS_AS(rt::count_matmuls({1, 8, 8}, schedule, 3, plan), std::invalid_argument);
  plan.restarts = {2, 1};
  CHECK_THROWS_AS(rt::count_matmuls({1, 8, 8}, schedule, 3, plan), std::invalid_argument);
  CHECK_THROWS_AS(rt::count_matmuls({1, 0, 8}, schedule, 3, rt::ProductPlan{}), std::invalid_argument);
}
