#include "polar_express/solver/remez.hpp"

#include <boost/multiprecision/eigen.hpp>
#include <Eigen/Dense>

#include <cmath>
#include <sstream>

namespace polar_express {
namespace {

using Matrix = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic>;
using Vector = Eigen::Matrix<Real, Eigen::Dynamic, 1>;

constexpr int kMaxIterations = 200;

int coefficient_count(int degree) { return (degree + 1) / 2; }

// Solves sum_k c_k x_i^(2k+1) + (-1)^i E = 1 (i = 0..q) for c and E.
// Columns use t = x / u so that the entries lie in (0, 1].
void solve_reference(const std::vector<Real>& points, const Real& upper, OddPolynomial& p, Real& levelled) {
  const int q = static_cast<int>(points.size()) - 1;
  Matrix system(q + 1, q + 1);
  Vector rhs(q + 1);
  for (int i = 0; i <= q; ++i) {
    const Real t = points[static_cast<std::size_t>(i)] / upper;
    const Real t2 = t * t;
    Real power = t;
    for (int k = 0; k < q; ++k) {
      system(i, k) = power;
      power *= t2;
    }
    system(i, q) = (i % 2 == 0) ? 1 : -1;
    rhs(i) = 1;
  }
  const Vector solution = system.partialPivLu().solve(rhs);
  p.coefficients.assign(static_cast<std::size_t>(q), Real());
  const Real u2 = upper * upper;
  Real scale = upper;
  for (int k = 0; k < q; ++k) {
    p.coefficients[static_cast<std::size_t>(k)] = solution(k) / scale;
    scale *= u2;
  }
  levelled = abs(solution(q));
}

std::string describe(const Real& l, const Real& u, int degree) {
  std::ostringstream out;
  out << "degree " << degree << " on [" << to_decimal(l, 12) << ", " << to_decimal(u, 12) << "]";
  return out.str();
}

}  // namespace

unsigned remez_working_bits(int degree, const Real& lower, const Real& upper, unsigned output_bits) {
  const int q = coefficient_count(degree);
  PrecisionScope scope(std::max(precision_bits(lower), precision_bits(upper)) + 16);
  // A double estimate of log2(u / (u - l)) is enough to size a margin.
  const double narrowness = static_cast<double>(log2(upper / (upper - lower)));
  const double lost = (2.0 * q - 1.0) * std::max(0.0, narrowness);
  return output_bits + 64 + static_cast<unsigned>(std::ceil(lost));
}

RemezResult remez(int degree, const Real& lower_in, const Real& upper_in, unsigned bits) {
  if (degree < 3 || degree % 2 == 0) throw std::invalid_argument("Remez needs an odd degree >= 3");
  if (!(lower_in > 0 && lower_in < upper_in)) throw std::invalid_argument("Remez needs 0 < lower < upper");
  RemezResult result;
  result.working_bits = remez_working_bits(degree, lower_in, upper_in, bits);
  PrecisionScope scope(result.working_bits);
  const Real l = at_precision(lower_in, result.working_bits);
  const Real u = at_precision(upper_in, result.working_bits);
  const int q = coefficient_count(degree);

  // Start from the Chebyshev extrema of [l, u]; the exchange below keeps l and
  // u in the reference (both ends always alternate: p has at most q - 1
  // interior extrema) and replaces the interior points by the extrema of the
  // error, so the levelled error grows monotonically to the minimax error.
  std::vector<Real> points(static_cast<std::size_t>(q) + 1);
  const double pi = std::acos(-1.0);
  for (int i = 0; i <= q; ++i) {
    points[static_cast<std::size_t>(i)] = (l + u) / 2 - (u - l) / 2 * Real(std::cos(pi * i / q));
  }
  points.front() = l;
  points.back() = u;

  const Real tolerance = boost::multiprecision::ldexp(Real(1), -static_cast<int>(bits));
  for (int iteration = 1; iteration <= kMaxIterations; ++iteration) {
    solve_reference(points, u, result.polynomial, result.levelled_error);
    std::vector<Real> extrema = critical_points(result.polynomial, l, u);
    if (static_cast<int>(extrema.size()) != q - 1) {
      throw SolverError("Remez lost the alternation for " + describe(l, u, degree) + ": " +
                        std::to_string(extrema.size()) + " interior extrema, expected " + std::to_string(q - 1));
    }
    points.clear();
    points.push_back(l);
    for (Real& x : extrema) points.push_back(std::move(x));
    points.push_back(u);

    result.errors.clear();
    Real largest = 0;
    Real smallest = -1;
    for (std::size_t i = 0; i < points.size(); ++i) {
      Real e = 1 - result.polynomial(points[i]);
      if (i > 0 && !((e > 0) != (result.errors.back() > 0))) {
        throw SolverError("Remez error does not alternate for " + describe(l, u, degree));
      }
      const Real magnitude = abs(e);
      if (magnitude > largest) largest = magnitude;
      if (smallest < 0 || magnitude < smallest) smallest = magnitude;
      result.errors.push_back(std::move(e));
    }
    if (largest - smallest <= tolerance * largest) {
      result.alternation_points = std::move(points);
      result.max_error = largest;
      result.iterations = iteration;
      return result;
    }
  }
  throw SolverError("Remez did not converge in " + std::to_string(kMaxIterations) + " iterations for " +
                    describe(l, u, degree));
}

OddPolynomial optimal_cubic(const Real& lower, const Real& upper) {
  const Real s = lower * lower + lower * upper + upper * upper;
  const Real a = 2 / (lower - lower * lower * lower / s + 2 * sqrt(s / 3) / 3);
  return OddPolynomial{{a, Real(-a / s)}};
}

OddPolynomial osculating_polynomial(int degree, const Real& centre) {
  // With t = x / m the conditions are P(1) = 1, P^(j)(1) = 0, j = 1..q-1,
  // where d^j/dt^j t^(2k+1) at 1 is the falling factorial (2k+1)_j.
  const int q = coefficient_count(degree);
  Matrix system(q, q);
  Vector rhs = Vector::Zero(q);
  rhs(0) = 1;
  for (int k = 0; k < q; ++k) {
    Real falling = 1;
    for (int j = 0; j < q; ++j) {
      system(j, k) = falling;
      falling *= (2 * k + 1 - j);
    }
  }
  const Vector c = system.fullPivLu().solve(rhs);
  OddPolynomial p;
  const Real m2 = centre * centre;
  Real scale = centre;
  for (int k = 0; k < q; ++k) {
    p.coefficients.push_back(c(k) / scale);
    scale *= m2;
  }
  return p;
}

}  // namespace polar_express
