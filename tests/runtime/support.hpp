#pragma once
// Shared by the runtime tests: the published schedules, random matrices of a
// chosen spectrum, and the SVD reference in double.
#include "polar_express/runtime/schedule.hpp"

#include <Eigen/Dense>

#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace polar_express::runtime::test {

using Matrix = Eigen::MatrixXd;

// The shape codegen emits into generated/<ident>.hpp.
template <class T, int Q>
struct OddPolynomialStep {
  int degree;
  T coefficients[Q];
};

// tests/data/published_schedules.json, "polar-express-paper-d5": raw_steps,
// every tuple but the last divided by (1.01, 1.01^3, 1.01^5).
inline Schedule paper_schedule() {
  constexpr std::array<std::array<double, 3>, 8> raw{{
      {8.28721201814563, -23.595886519098837, 17.300387312530933},
      {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
      {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
      {3.3184196573706015, -2.488488024314874, 0.51004894012372},
      {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
      {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
      {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
      {1.875, -1.25, 0.375},
  }};
  std::array<OddPolynomialStep<double, 3>, 8> table{};
  for (std::size_t t = 0; t < raw.size(); ++t) {
    const double s = t + 1 < raw.size() ? 1.01 : 1.0;
    table[t] = {5, {raw[t][0] / s, raw[t][1] / (s * s * s), raw[t][2] / (s * s * s * s * s)}};
  }
  return schedule_from_table(table, {1.01, 1e-7}, AfterList::kRepeatLast, "polar-express-paper-d5");
}

// "polar-express-nanochat-d5".
inline Schedule nanochat_schedule() {
  constexpr std::array<OddPolynomialStep<double, 3>, 5> table{{
      {5, {8.156554524902461, -22.48329292557795, 15.878769915207462}},
      {5, {4.042929935166739, -2.808917465908714, 0.5000178451051316}},
      {5, {3.8916678022926607, -2.772484153217685, 0.5060648178503393}},
      {5, {3.285753657755655, -2.3681294933425376, 0.46449024233003106}},
      {5, {2.3465413258596377, -1.7097828382687081, 0.42323551169305323}},
  }};
  return schedule_from_table(table, {1.02, 1e-6}, AfterList::kRepeatLast, "polar-express-nanochat-d5");
}

inline Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Matrix m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = normal(rng);
  return m;
}

// A rows x cols matrix with orthonormal columns (rows >= cols).
inline Matrix orthonormal(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  Eigen::HouseholderQR<Matrix> qr(gaussian(rows, cols, rng));
  return qr.householderQ() * Matrix::Identity(rows, cols);
}

// Singular values log-spaced from `lowest` to 1.
inline Eigen::VectorXd logspace(double lowest, Eigen::Index count) {
  Eigen::VectorXd s(count);
  for (Eigen::Index i = 0; i < count; ++i) {
    s(i) = count == 1 ? 1.0 : std::pow(lowest, static_cast<double>(i) / static_cast<double>(count - 1));
  }
  return s;
}

// U diag(sigma) V^T with random U, V; `polar` receives U V^T.
inline Matrix with_spectrum(Eigen::Index rows, Eigen::Index cols, const Eigen::VectorXd& sigma, std::mt19937_64& rng,
                            Matrix* polar = nullptr) {
  const Eigen::Index k = std::min(rows, cols);
  const Matrix u = orthonormal(rows, k, rng);
  const Matrix v = orthonormal(cols, k, rng);
  if (polar != nullptr) *polar = u * v.transpose();
  return u * sigma.head(k).asDiagonal() * v.transpose();
}

// The polar factor U V^T of `g` by SVD in double.
inline Matrix polar_reference(const Matrix& g) {
  Eigen::BDCSVD<Matrix> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return svd.matrixU() * svd.matrixV().transpose();
}

inline double max_sigma_error(const Matrix& u) {
  const Eigen::VectorXd s = Eigen::JacobiSVD<Matrix>(u).singularValues();
  return (Eigen::VectorXd::Ones(s.size()) - s).cwiseAbs().maxCoeff();
}

inline double relative_error(const Matrix& x, const Matrix& reference) {
  return (x - reference).norm() / reference.norm();
}

// Matrix b of a row-major batch, as a double matrix.
template <class T>
Matrix unpack(const std::vector<T>& data, std::int64_t b, std::int64_t rows, std::int64_t cols,
              std::int64_t stride = 0) {
  const std::int64_t step = stride == 0 ? rows * cols : stride;
  Matrix m(rows, cols);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) m(i, j) = static_cast<double>(data[b * step + i * cols + j]);
  return m;
}

template <class T>
void pack(const Matrix& m, std::vector<T>& data, std::int64_t b, std::int64_t stride = 0) {
  const std::int64_t rows = m.rows(), cols = m.cols();
  const std::int64_t step = stride == 0 ? rows * cols : stride;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) data[b * step + i * cols + j] = static_cast<T>(m(i, j));
}

}  // namespace polar_express::runtime::test
