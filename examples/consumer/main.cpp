// Orthogonalises a matrix with nanochat's schedule, taken from its generated
// header, on the CPU runtime, and checks the result against the guarantee the
// header carries: every singular value within the certified error of 1.
#include "polar_express/runtime/cpu.hpp"
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

}  // namespace

int main() {
  namespace schedules = polar_express::schedules;
  namespace runtime = polar_express::runtime;
  const auto& info = schedules::polar_express_nanochat_d5_info;
  const runtime::Schedule schedule =
      runtime::schedule_from_table(schedules::polar_express_nanochat_d5,
                                   {info.normalization_factor, info.normalization_eps},
                                   runtime::AfterList::kRepeatLast, info.name);

  // G = Q1 [diag(sigma) 0] Q2, singular values log-spaced over [0.1, 1]: once
  // normalised they lie inside the certified interval [1e-3, 1], so the
  // polar factor Q1 [I 0] Q2 comes out as Q1 [p(sigma) 0] Q2 with
  // |1 - p(sigma_i)| at most the header's certified error.
  const int rows = 32, cols = 64;
  const Matrix q1 = random_orthogonal(rows, 1), q2 = random_orthogonal(cols, 2);
  Matrix sigma = Matrix::Zero(rows, cols);
  for (int i = 0; i < rows; ++i) sigma(i, i) = std::pow(10.0, -static_cast<double>(i) / (rows - 1));
  const Matrix g = q1 * sigma * q2;

  runtime::CpuPlan<double> plan({1, rows, cols}, schedule);
  Matrix u(rows, cols);
  if (!plan.execute(g.data(), u.data())) {
    std::printf("FAILED: the runtime reported %s\n", runtime::to_string(plan.status()[0]));
    return 1;
  }
  // Back in the singular bases, the output is [p(sigma) 0].
  const Matrix core = q1.transpose() * u * q2.transpose();
  double sigma_error = 0, off_diagonal = 0;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      if (i == j) sigma_error = std::max(sigma_error, std::abs(1 - core(i, j)));
      else off_diagonal = std::max(off_diagonal, std::abs(core(i, j)));
    }
  }
  const double bound = info.steps[schedule.steps.size() - 1].error_bound_value;
  std::printf("%s, %zu steps on %dx%d: max |1 - sigma| = %.6f (certified <= %.6f), off-diagonal %.2e\n", info.name,
              schedule.steps.size(), rows, cols, sigma_error, bound, off_diagonal);
  const bool ok = sigma_error <= bound + 1e-9 && off_diagonal <= 1e-9;
  std::puts(ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
