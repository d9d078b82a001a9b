#include "spectrum.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>

namespace polar_express::cli {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The resolved values (above `floor`, or the SVD's own resolution), descending.
void split(const Eigen::VectorXd& values, std::int64_t rows, std::int64_t cols, double floor,
           std::vector<double>& resolved, std::size_t& unresolved) {
  const double top = values.size() ? values.maxCoeff() : 0.0;
  const double svd_floor = static_cast<double>(std::max(rows, cols)) * std::numeric_limits<double>::epsilon() * top;
  floor = std::max(floor, svd_floor);
  resolved.clear();
  unresolved = 0;
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    if (values(i) > floor) resolved.push_back(values(i));
    else ++unresolved;
  }
  std::sort(resolved.begin(), resolved.end(), std::greater<>());
}

// ||x||_F as the runtime forms it: max|x| sqrt(sum (x / max|x|)^2).
double frobenius_norm(const Eigen::Ref<const Eigen::MatrixXd>& x) {
  const double largest = x.cwiseAbs().maxCoeff();
  return largest > 0 ? largest * (x / largest).norm() : 0.0;
}

// The AOL rescaling of x (vocabulary.hpp), as the runtime applies it: x
// divided by max|x|, then D x (wide) or x D (tall).
Eigen::MatrixXd aol_scaled(const Eigen::Ref<const Eigen::MatrixXd>& x, double largest) {
  const bool wide = x.rows() <= x.cols();
  const Eigen::MatrixXd prescaled = x / largest;
  const Eigen::MatrixXd gram =
      wide ? Eigen::MatrixXd(prescaled * prescaled.transpose()) : Eigen::MatrixXd(prescaled.transpose() * prescaled);
  Eigen::VectorXd d(gram.rows());
  aol_diagonal(gram.data(), gram.rows(), d.data());  // gram is symmetric: its storage order does not matter
  return wide ? Eigen::MatrixXd(d.asDiagonal() * prescaled) : Eigen::MatrixXd(prescaled * d.asDiagonal());
}

}  // namespace

std::optional<Shape> matrices_of(const std::vector<std::int64_t>& shape) {
  if (shape.size() < 2) return std::nullopt;
  for (std::int64_t d : shape) {
    if (d == 0) return std::nullopt;
  }
  if (shape.size() == 2) return Shape{1, shape[0], shape[1]};
  if (shape.size() == 3) return Shape{shape[0], shape[1], shape[2]};
  std::int64_t rest = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) rest *= shape[i];
  return Shape{1, shape[0], rest};
}

MatrixSpectrum matrix_spectrum(const double* data, std::int64_t rows, std::int64_t cols, double roundoff,
                               bool with_aol) {
  const Eigen::Map<const RowMatrix> x(data, rows, cols);
  MatrixSpectrum m;
  m.largest = x.cwiseAbs().maxCoeff();
  m.sum_of_squares = m.largest > 0 ? (x / m.largest).squaredNorm() : 0.0;
  split(Eigen::BDCSVD<Eigen::MatrixXd>(x).singularValues(), rows, cols, roundoff * m.frobenius(), m.sigma,
        m.unresolved);
  if (with_aol && m.largest > 0) {
    const Eigen::MatrixXd scaled = aol_scaled(x, m.largest);
    // D scales whole rows or columns, so each entry keeps its relative rounding.
    split(Eigen::BDCSVD<Eigen::MatrixXd>(scaled).singularValues(), rows, cols, roundoff * frobenius_norm(scaled),
          m.aol_sigma, m.aol_unresolved);
  }
  return m;
}

Scaling scaling_of(const Schedule& schedule) { return {schedule.normalization, schedule.normalization_text}; }

std::vector<double> scaled_spectrum(const MatrixSpectrum& m, const Scaling& scaling) {
  if (scaling.aol()) return m.aol_sigma;
  std::vector<double> values = m.sigma;
  if (m.largest == 0) return values;
  const Normalization& n = scaling.normalization;
  const double ratio = frobenius_ratio(m.largest, m.sum_of_squares, n.factor, n.eps);
  for (double& v : values) v = v / m.largest * ratio;
  return values;
}

void ErrorSummary::add(const ErrorSummary& other) {
  if (other.count == 0) return;
  if (count == 0 || other.max_error > max_error) max_error = other.max_error;
  sum = count == 0 ? other.sum : Real(sum + other.sum);
  count += other.count;
}

ErrorSummary schedule_errors(const std::vector<ScheduleStep>& steps, unsigned precision_bits,
                             const std::vector<double>& values) {
  PrecisionScope scope(precision_bits);
  ErrorSummary summary;
  summary.max_error = 0;
  summary.sum = 0;
  for (double s : values) {
    Real y = s;
    for (const ScheduleStep& step : steps) y = step.polynomial(y);
    Real e = abs(1 - y);
    if (e > summary.max_error) summary.max_error = e;
    summary.sum += e;
  }
  summary.count = values.size();
  return summary;
}

double lower_quantile(const std::vector<double>& sorted, double p) {
  const double n = static_cast<double>(sorted.size());
  const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(p * n)));
  return sorted[std::min(rank, sorted.size()) - 1];
}

}  // namespace polar_express::cli
