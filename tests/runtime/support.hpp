#pragma once
// Shared by the runtime tests: the shipped schedules, random matrices of a
// chosen spectrum, and the SVD reference in double.  The decompositions are
// compiled once, in support.cpp: instantiated in every test file, Eigen's
// SVDs were most of their compile time.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/schedule.hpp"
#include "polar_express_nanochat_d5.hpp"
#include "polar_express_paper_d5.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace polar_express::runtime::test {

using Matrix = Eigen::MatrixXd;

// The shipped schedules, read from the tables codegen emitted into
// generated/ (as a user of the runtime reads them).
// The paper's list: its raw steps, every tuple but the last divided by
// (1.01, 1.01^3, 1.01^5); X / (1.01 ||X||_F + 1e-7).
inline Schedule paper_schedule() {
  return schedule_from_generated(schedules::polar_express_paper_d5, schedules::polar_express_paper_d5_info);
}

// nanochat's 5-step list; X / (1.02 ||X||_F + 1e-6).
inline Schedule nanochat_schedule() {
  return schedule_from_generated(schedules::polar_express_nanochat_d5, schedules::polar_express_nanochat_d5_info);
}

inline Matrix gaussian(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Matrix m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = normal(rng);
  return m;
}

// A rows x cols matrix with orthonormal columns (rows >= cols).
Matrix orthonormal(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng);

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
Matrix polar_reference(const Matrix& g);

// max |1 - sigma_i| over the singular values of `u`.
double max_sigma_error(const Matrix& u);

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

// The largest relative Frobenius error over the matrices of a batch.
inline double worst_relative_error(const std::vector<float>& got, const std::vector<double>& expected,
                                   const BatchShape& s) {
  double worst = 0;
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const double error = relative_error(unpack(got, b, s.rows, s.cols), unpack(expected, b, s.rows, s.cols));
    // A NaN (an output that overflowed) is the worst error there is: it must
    // fail every `< bound` check, not vanish in std::max.
    if (std::isnan(error)) return error;
    worst = std::max(worst, error);
  }
  return worst;
}

}  // namespace polar_express::runtime::test
