#include "spectrum.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>

namespace polar_express::cli {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Turbo-Muon's floor on the AOL row sums.
constexpr double kAolFloor = 1e-7;

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

double frobenius_norm(const Eigen::Ref<const Eigen::MatrixXd>& x) {
  const double largest = x.cwiseAbs().maxCoeff();
  return largest > 0 ? largest * (x / largest).norm() : 0.0;
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
  m.frobenius = frobenius_norm(x);
  split(Eigen::BDCSVD<Eigen::MatrixXd>(x).singularValues(), rows, cols, roundoff * m.frobenius, m.sigma,
        m.unresolved);
  if (with_aol) {
    const bool wide = rows <= cols;
    const Eigen::MatrixXd gram = wide ? Eigen::MatrixXd(x * x.transpose()) : Eigen::MatrixXd(x.transpose() * x);
    const Eigen::VectorXd d = gram.cwiseAbs().rowwise().sum().cwiseMax(kAolFloor).cwiseSqrt().cwiseInverse();
    const Eigen::MatrixXd scaled = wide ? Eigen::MatrixXd(d.asDiagonal() * x) : Eigen::MatrixXd(x * d.asDiagonal());
    // D scales whole rows or columns, so each entry keeps its relative rounding.
    split(Eigen::BDCSVD<Eigen::MatrixXd>(scaled).singularValues(), rows, cols, roundoff * frobenius_norm(scaled),
          m.aol_sigma, m.aol_unresolved);
  }
  return m;
}

Scaling scaling_of(const Normalization& n) {
  Scaling s;
  s.text = n.text;
  if (n.kind == NormalizationKind::kAol) {
    s.aol = true;
  } else {
    s.factor = n.factor;
    s.eps = n.eps;
  }
  return s;
}

std::vector<double> scaled_spectrum(const MatrixSpectrum& m, const Scaling& scaling) {
  if (scaling.aol) return m.aol_sigma;
  std::vector<double> values = m.sigma;
  const double denominator = scaling.factor * m.frobenius + scaling.eps;
  for (double& v : values) v /= denominator;
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
