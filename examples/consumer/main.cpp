// A project using all three libraries of the installed package:
//   solver  designs nanochat's schedule again (degree 5 from l = 1e-3, five
//           steps, cushion 0.02, safety 0.02 in the loop) at 256 bits;
//   codegen emits it as a C++ header;
//   runtime orthogonalises a matrix with the shipped table of that schedule
//           (its generated header) and checks the result against the
//           guarantee the table carries.
#include "polar_express/codegen/codegen.hpp"
#include "polar_express/runtime.hpp"
#include "polar_express/solver/schedule.hpp"
#include "polar_express_nanochat_d5.hpp"

#include <Eigen/Dense>

#include <cmath>
#include <cstdio>

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Matrix random_orthogonal(int n, unsigned seed) {
  std::srand(seed);
  return Eigen::HouseholderQR<Matrix>(Matrix::Random(n, n)).householderQ();
}

// The designed coefficients against the shipped table's doubles.
bool design_matches_table(const polar_express::Schedule& designed) {
  namespace schedules = polar_express::schedules;
  double worst = 0;
  for (std::size_t t = 0; t < designed.steps.size(); ++t) {
    for (std::size_t j = 0; j < 3; ++j) {
      const double c = static_cast<double>(designed.steps[t].polynomial.coefficients[j]);
      const double shipped = schedules::polar_express_nanochat_d5[t].coefficients[j];
      worst = std::max(worst, std::abs(c - shipped) / std::abs(shipped));
    }
  }
  std::printf("solver: nanochat's schedule designed again, largest relative difference to the table %.1e\n", worst);
  return designed.steps.size() == 5 && worst < 1e-14;
}

}  // namespace

int main() {
  namespace schedules = polar_express::schedules;
  namespace runtime = polar_express::runtime;
  namespace codegen = polar_express::codegen;

  polar_express::DesignOptions options;
  options.degrees = {5};
  options.lower = polar_express::Real("1e-3");
  options.steps = 5;
  options.cushion = polar_express::Real("0.02");
  options.safety = polar_express::Real("0.02");
  options.safety_mode = polar_express::SafetyMode::kInLoop;
  polar_express::Schedule designed = polar_express::design_schedule(options);
  designed.name = "consumer-nanochat";
  const bool solver_ok = design_matches_table(designed);

  const std::vector<codegen::GeneratedFile> header = codegen::emit(designed, codegen::Target::kCpp);
  const bool codegen_ok = header.size() == 1 && header[0].name == "consumer_nanochat.hpp" &&
                          header[0].content.find("consumer_nanochat_info") != std::string::npos;
  std::printf("codegen: %s, %zu bytes\n", header.empty() ? "nothing" : header[0].name.c_str(),
              header.empty() ? std::size_t{0} : header[0].content.size());

  const runtime::Schedule schedule =
      runtime::schedule_from_generated(schedules::polar_express_nanochat_d5, schedules::polar_express_nanochat_d5_info);
  // G = Q1 [diag(sigma) 0] Q2, singular values log-spaced over [0.1, 1]: once
  // normalised they lie inside the certified interval [1e-3, 1], so the
  // output is Q1 [p(sigma) 0] Q2 with |1 - p(sigma_i)| at most the bound the
  // plan reports from the table's certificate.
  const int rows = 32, cols = 64;
  const Matrix q1 = random_orthogonal(rows, 1), q2 = random_orthogonal(cols, 2);
  Matrix sigma = Matrix::Zero(rows, cols);
  for (int i = 0; i < rows; ++i) sigma(i, i) = std::pow(10.0, -static_cast<double>(i) / (rows - 1));
  const Matrix g = q1 * sigma * q2;

  runtime::CpuPlan<double> plan({1, rows, cols}, schedule);
  Matrix u(rows, cols);
  if (!plan.execute(g.data(), u.data()) || !plan.report().sigma_error_bound) {
    std::printf("FAILED: the runtime reported %s\n", runtime::to_string(plan.report().status[0]));
    return 1;
  }
  const double bound = *plan.report().sigma_error_bound;
  // Back in the singular bases, the output is [p(sigma) 0].
  const Matrix core = q1.transpose() * u * q2.transpose();
  double sigma_error = 0, off_diagonal = 0;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      if (i == j) sigma_error = std::max(sigma_error, std::abs(1 - core(i, j)));
      else off_diagonal = std::max(off_diagonal, std::abs(core(i, j)));
    }
  }
  std::printf("runtime: %s, %zu steps on %dx%d: max |1 - sigma| = %.6f (certified <= %.6f), off-diagonal %.2e\n",
              schedule.name.c_str(), schedule.steps.size(), rows, cols, sigma_error, bound, off_diagonal);
  const bool runtime_ok = sigma_error <= bound + 1e-9 && off_diagonal <= 1e-9;
  const bool ok = solver_ok && codegen_ok && runtime_ok;
  std::puts(ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
