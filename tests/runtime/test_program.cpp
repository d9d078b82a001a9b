// The iteration program every backend runs: its meaning (an independent
// interpreter in Eigen doubles against the SVD polar factor), its FLOP count
// against DESIGN.md's closed form, its planning (restarts, AOL), and the
// built-in catalogue compiled from the generated tables.
#include "support.hpp"

#include "polar_express/runtime/catalogue.hpp"
#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/runtime/program.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace rt = polar_express::runtime;
using rt::test::Matrix;

namespace {

// Runs `program` on one matrix with plain Eigen double arithmetic, op by op
// as program.hpp defines them: a second implementation of every operation.
Matrix interpret(const rt::Program& program, const Matrix& g) {
  std::map<rt::Buffer, Matrix> buffers;
  const auto k = static_cast<Eigen::Index>(program.short_side());
  Matrix result;
  for (const rt::Operation& op : program.operations) {
    const auto get = [&](rt::Buffer b) -> const Matrix& { return buffers.at(b); };
    switch (op.kind) {
      case rt::OpKind::kNormalize:
        buffers[op.dst] = program.normalization.kind == rt::NormalizationKind::kAol
                              ? Matrix(g / g.cwiseAbs().maxCoeff())
                              : Matrix(g / (program.normalization.factor * g.norm() + program.normalization.eps));
        break;
      case rt::OpKind::kGram:
        buffers[op.dst] = program.wide ? Matrix(get(op.lhs) * get(op.lhs).transpose())
                                       : Matrix(get(op.lhs).transpose() * get(op.lhs));
        break;
      case rt::OpKind::kAolScale: {
        const Eigen::VectorXd d = get(op.dst).cwiseAbs().rowwise().sum().cwiseSqrt().cwiseInverse();
        buffers[op.lhs] = program.wide ? Matrix(d.asDiagonal() * get(op.lhs)) : Matrix(get(op.lhs) * d.asDiagonal());
        buffers[op.dst] = d.asDiagonal() * get(op.dst) * d.asDiagonal();
        break;
      }
      case rt::OpKind::kProduct: {
        Matrix d = op.alpha * get(op.lhs) * get(op.rhs);
        if (op.addend != rt::Buffer::kNone) d += op.beta * get(op.addend);
        buffers[op.dst] = d;
        break;
      }
      case rt::OpKind::kAddIdentity:
        buffers[op.dst] = op.alpha * get(op.lhs) + op.beta * Matrix::Identity(k, k);
        break;
      case rt::OpKind::kApply: {
        Matrix d = program.wide ? Matrix(op.alpha * get(op.lhs) * get(op.rhs))
                                : Matrix(op.alpha * get(op.rhs) * get(op.lhs));
        if (op.addend != rt::Buffer::kNone) d += op.beta * get(op.addend);
        buffers[op.dst] = d;
        break;
      }
      case rt::OpKind::kStore: result = get(op.lhs); break;
    }
  }
  return result;
}

rt::PlanOptions with(rt::ProductMode gram, int steps, int interval = 0) {
  rt::PlanOptions o;
  o.gram = gram;
  o.steps = steps;
  o.gram_restart_interval = interval;
  return o;
}

}  // namespace

TEST_CASE("programs compute the polar factor: an independent interpreter reaches the SVD's", "[program]") {
  std::mt19937_64 rng(3);
  const rt::Schedule paper = rt::test::paper_schedule();
  for (const auto& [rows, cols] : {std::pair<int, int>{24, 60}, std::pair<int, int>{60, 24}, std::pair<int, int>{30, 30}}) {
    Matrix polar;
    const Matrix g = rt::test::with_spectrum(rows, cols, rt::test::logspace(1e-3, std::min(rows, cols)), rng, &polar);
    for (const rt::ProductMode gram : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
      for (const int interval : {0, 1, 3}) {
        CAPTURE(rows, cols, gram == rt::ProductMode::kOn, interval);
        const rt::Program program =
            rt::compile_program({1, rows, cols}, paper, with(gram, 12, interval), rt::cpu_traits<double>());
        CHECK(rt::test::relative_error(interpret(program, g), polar) < 1e-9);
      }
    }
  }
}

TEST_CASE("the CPU backend runs exactly the program the interpreter reads", "[program][cpu]") {
  std::mt19937_64 rng(8);
  const rt::Schedule nanochat = rt::test::nanochat_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{2, 20, 70}, rt::BatchShape{1, 70, 20}, rt::BatchShape{1, 300, 260}}) {
    for (const rt::ProductMode gram : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
      CAPTURE(s.rows, s.cols, gram == rt::ProductMode::kOn);
      std::vector<double> input(static_cast<std::size_t>(s.batch * s.matrix_size())), output(input.size());
      for (std::int64_t b = 0; b < s.batch; ++b) rt::test::pack(rt::test::gaussian(s.rows, s.cols, rng), input, b);
      rt::CpuPlan<double> plan(s, nanochat, with(gram, 5));
      REQUIRE(plan.execute(input.data(), output.data()));
      for (std::int64_t b = 0; b < s.batch; ++b) {
        const Matrix expected = interpret(plan.program(), rt::test::unpack(input, b, s.rows, s.cols));
        CHECK(rt::test::relative_error(rt::test::unpack(output, b, s.rows, s.cols), expected) < 1e-12);
      }
    }
  }
}

TEST_CASE("FLOPs: the direct form is DESIGN.md's 4 k^2 K + 2 (q - 2) k^3 per step", "[program]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{1, 512, 2048}, rt::BatchShape{3, 2048, 512}, rt::BatchShape{2, 64, 64}}) {
    const double k = static_cast<double>(std::min(s.rows, s.cols)), big = static_cast<double>(std::max(s.rows, s.cols));
    const rt::Program program = rt::compile_program(s, paper, with(rt::ProductMode::kOff, 8), rt::cpu_traits<float>());
    // Degree 5 (q = 3) for 8 steps.
    CHECK(program.flops() == Approx(static_cast<double>(s.batch) * 8 * (4 * k * k * big + 2 * k * k * k)));
  }
}

TEST_CASE("the program lists what a reader expects, step by step", "[program]") {
  const rt::Schedule nanochat = rt::test::nanochat_schedule();
  const rt::Program direct =
      rt::compile_program({1, 64, 128}, nanochat, with(rt::ProductMode::kOff, 2), rt::cpu_traits<float>());
  const std::string text = direct.to_string();
  INFO(text);
  // normalise, then per step: Gram matrix, one Horner product (quintic), apply; store.
  REQUIRE(direct.operations.size() == 8);
  CHECK(direct.operations.front().kind == rt::OpKind::kNormalize);
  CHECK(direct.operations[1].kind == rt::OpKind::kGram);
  CHECK(direct.operations[2].kind == rt::OpKind::kProduct);
  CHECK(direct.operations[2].alpha == nanochat.step(0).coefficients[2]);
  CHECK(direct.operations[2].beta == nanochat.step(0).coefficients[1]);
  CHECK(direct.operations[3].kind == rt::OpKind::kApply);
  CHECK(direct.operations[3].beta == nanochat.step(0).coefficients[0]);
  CHECK(direct.operations.back().kind == rt::OpKind::kStore);
  CHECK(text.find("step 2") != std::string::npos);
  CHECK(text.find("X1 <- 1 P0 X0 + 8.15655 X0") != std::string::npos);
}

TEST_CASE("restart placement in one pass equals the segment-by-segment definition", "[program][gram]") {
  // The definition: a greedy scan that extends a segment while
  // gram_segment_growth over it stays within the budget.
  const auto by_definition = [](const rt::Schedule& s, int steps, double budget) {
    std::vector<int> restarts;
    int first = 0;
    for (int t = 1; t < steps; ++t) {
      if (rt::gram_segment_growth(s, first, t + 1) > budget) {
        restarts.push_back(t);
        first = t;
      }
    }
    return restarts;
  };
  for (const std::string& name : rt::builtin_names()) {
    const rt::Schedule s = rt::builtin_schedule(name);
    for (const double budget : {1.5, 8.0, 64.0, 2048.0}) {
      CAPTURE(name, budget);
      CHECK(rt::gram_restart_steps(s, 12, budget) == by_definition(s, 12, budget));
    }
  }
}

TEST_CASE("long lists plan in linear time and bad step counts fail before planning", "[program]") {
  rt::Schedule many;
  many.name = "many";
  for (int t = 0; t < 4096; ++t) many.steps.push_back({3, {1.5, -0.5}});
  const rt::Program program =
      rt::compile_program({1, 4, 8}, many, with(rt::ProductMode::kOn, 0), rt::cpu_traits<double>());
  CHECK(program.steps == 4096);
  rt::PlanOptions too_many;
  too_many.steps = rt::kMaxProgramSteps + 1;
  CHECK_THROWS_WITH(rt::compile_program({1, 4, 8}, many, too_many, rt::cpu_traits<double>()),
                    Catch::Contains("outside [0, 10000]"));
  CHECK_THROWS_WITH(rt::compile_program({1, 0, 8}, many, {}, rt::cpu_traits<double>()), Catch::Contains("below 1"));
}

TEST_CASE("AOL normalisation: Turbo-Muon's list as published", "[program][aol]") {
  const rt::Schedule turbo = rt::builtin_schedule("turbo-muon-aol-4step");
  REQUIRE(turbo.normalization.kind == rt::NormalizationKind::kAol);
  std::mt19937_64 rng(12);
  for (const auto& [rows, cols] : {std::pair<int, int>{16, 48}, std::pair<int, int>{48, 16}}) {
    CAPTURE(rows, cols);
    const Matrix g = rt::test::gaussian(rows, cols, rng) * 1e20;
    // The formulation written out: wide W (transposed when tall), A = W W^T,
    // s = 1 / sqrt(row sums of |A|), W <- diag(s) W, then the four steps
    // W <- a W + (b A + c A^2) W, A recomputed from the second step on.
    const bool tall = rows > cols;
    Matrix w = tall ? Matrix(g.transpose()) : g;
    Matrix a = w * w.transpose();
    const Eigen::VectorXd s = a.cwiseAbs().rowwise().sum().cwiseSqrt().cwiseInverse();
    w = s.asDiagonal() * w;
    for (int t = 0; t < 4; ++t) {
      a = w * w.transpose();
      const std::vector<double>& c = turbo.step(t).coefficients;
      w = c[0] * w + (c[1] * a + c[2] * a * a) * w;
    }
    const Matrix expected = tall ? Matrix(w.transpose()) : w;

    std::vector<double> input(static_cast<std::size_t>(g.size())), output(input.size());
    rt::test::pack(g, input, 0);
    rt::CpuPlan<double> plan({1, rows, cols}, turbo);
    REQUIRE(plan.execute(input.data(), output.data()));
    CHECK(rt::test::relative_error(rt::test::unpack(output, 0, rows, cols), expected) < 1e-12);
  }
}

TEST_CASE("the built-in catalogue is the published one, from the generated tables", "[catalogue]") {
  std::ifstream file(std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json");
  const nlohmann::json published = nlohmann::json::parse(file);
  std::vector<std::string> names;
  for (const auto& entry : published.at("schedules")) names.push_back(entry.at("name").get<std::string>());
  CHECK(rt::builtin_names() == names);
  for (const auto& entry : published.at("schedules")) {
    const std::string name = entry.at("name").get<std::string>();
    CAPTURE(name);
    const rt::Schedule s = rt::builtin_schedule(name);
    CHECK(s.name == name);
    if (entry.contains("steps")) {
      // Published decimals, read by the JSON parser (correctly rounded), are
      // the tables' doubles exactly.
      const auto& steps = entry.at("steps");
      REQUIRE(s.steps.size() == steps.size());
      for (std::size_t t = 0; t < steps.size(); ++t) {
        for (std::size_t j = 0; j < steps[t].size(); ++j) {
          CHECK(s.steps[t].coefficients[j] == steps[t][j].get<double>());
        }
      }
    } else {
      // The paper's raw list, every tuple but the last divided by 1.01^(2j+1).
      const auto& raw = entry.at("raw_steps");
      REQUIRE(s.steps.size() == raw.size());
      for (std::size_t t = 0; t < raw.size(); ++t) {
        for (std::size_t j = 0; j < raw[t].size(); ++j) {
          const double scale = t + 1 < raw.size() ? std::pow(1.01, 2.0 * static_cast<double>(j) + 1) : 1.0;
          CHECK(s.steps[t].coefficients[j] == Approx(raw[t][j].get<double>() / scale).epsilon(1e-15));
        }
      }
    }
    REQUIRE(s.certificate.has_value());
    CHECK(s.certificate->error_bounds.size() == s.steps.size());
  }
  CHECK_THROWS_WITH(rt::builtin_schedule("nope"), Catch::Contains("muon-jordan-ns5"));
}

TEST_CASE("a finite but exploding iteration is reported as diverged", "[cpu][edge]") {
  // p(x) = 3x: after 40 steps every singular value is 3^40 ~ 1e19, finite
  // in float, and nothing like an orthogonal matrix.
  rt::Schedule tripling;
  tripling.steps = {{3, {3.0, 0.0}}};
  std::mt19937_64 rng(2);
  std::vector<float> input(12 * 20), output(input.size());
  rt::test::pack(rt::test::gaussian(12, 20, rng), input, 0);
  rt::PlanOptions options;
  options.steps = 40;
  rt::CpuPlan<float> plan({1, 12, 20}, tripling, options);
  CHECK_FALSE(plan.execute(input.data(), output.data()));
  CHECK(plan.report().status[0] == rt::MatrixStatus::kDiverged);
}

#if POLAR_EXPRESS_RUNTIME_CUDA
#include "polar_express/runtime/cuda/plan.hpp"

// Both backends plan through compile_program; only their traits differ (the
// iterate's precision, from which k symmetric products pay).  With the
// choices the traits make forced the same way, the lists are identical.
TEST_CASE("the CPU and CUDA backends run the same operation list", "[program][cuda]") {
  const rt::Schedule paper = rt::test::paper_schedule();
  for (const rt::BatchShape& s : {rt::BatchShape{2, 512, 2048}, rt::BatchShape{1, 3000, 700}}) {
    for (const rt::ProductMode gram : {rt::ProductMode::kOff, rt::ProductMode::kOn}) {
      rt::PlanOptions options = with(gram, 10);
      options.symmetric = rt::ProductMode::kOn;
      const rt::Program cpu = rt::compile_program(s, paper, options, rt::cpu_traits<float>());
      const rt::Program cuda =
          rt::compile_program(s, paper, options, polar_express::runtime::cuda::traits(rt::ElementType::kF32));
      INFO("CPU:\n" << cpu.to_string() << "CUDA:\n" << cuda.to_string());
      CHECK(cpu.operations == cuda.operations);
      CHECK(cpu.products.restarts == cuda.products.restarts);
    }
  }
}
#endif
