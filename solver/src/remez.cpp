#include "polar_express/solver/remez.hpp"

#include "bracketed_newton.hpp"

#include <boost/multiprecision/eigen.hpp>
#include <Eigen/Dense>

#include <cmath>
#include <sstream>

namespace polar_express {
namespace {

using Matrix = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic>;
using Vector = Eigen::Matrix<Real, Eigen::Dynamic, 1>;

constexpr int kMaxIterations = 200;
// Up to this many coefficients the exchange isolates the extrema directly.
constexpr int kIsolateUpTo = 4;

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

// The interior extrema of e = 1 - p for the solution of a reference system.
// e alternates in sign on the reference, so it has a zero between each pair
// of consecutive points; p' has at most q - 1 positive roots, so e has at
// most q zeros and there is exactly one in each gap, and exactly one root of
// p' between consecutive zeros.  Bracketed Newton finds each (O(q^2) work per
// exchange, against O(q^3) for isolating every root of p' from scratch).
// Returns fewer than q - 1 points if a bracket shows no sign change.
std::vector<Real> reference_extrema(const OddPolynomial& p, const std::vector<Real>& points, const Real& tiny) {
  // p'(x) = sum (2k+1) c_k y^k and p''(x) = x sum (2k+1)(2k) c_k y^(k-1),
  // y = x^2: coefficient tables made once, evaluated in place.
  const std::size_t q = p.coefficients.size();
  std::vector<Real> first(q), second(q - 1);
  for (std::size_t k = 0; k < q; ++k) {
    first[k] = p.coefficients[k] * static_cast<unsigned>(2 * k + 1);
    if (k > 0) second[k - 1] = first[k] * static_cast<unsigned>(2 * k);
  }
  auto horner = [](const std::vector<Real>& c, const Real& y) {
    Real r = c.back();
    for (std::size_t k = c.size() - 1; k-- > 0;) {
      r *= y;
      r += c[k];
    }
    return r;
  };
  auto slope = [&](const Real& x) { return horner(first, x * x); };
  auto curvature = [&](const Real& x) {
    Real r = horner(second, x * x);
    r *= x;
    return r;
  };
  auto error = [&](const Real& x) { return Real(1 - p(x)); };
  auto error_slope = [&](const Real& x) {
    Real r = slope(x);
    r.backend().negate();
    return r;
  };
  // Starting points: the secant of e across each gap for its zero, and the
  // old reference point inside each zero bracket for the extremum, which is
  // where the extremum converges to.
  std::vector<Real> values;
  for (const Real& x : points) values.push_back(error(x));
  std::vector<Real> zeros;
  for (std::size_t i = 0; i + 1 < points.size(); ++i) {
    if (detail::sign(values[i]) * detail::sign(values[i + 1]) >= 0) return {};
    Real secant = points[i] + (points[i + 1] - points[i]) * values[i] / (values[i] - values[i + 1]);
    zeros.push_back(detail::bracketed_newton(error, error_slope, points[i], points[i + 1], tiny, std::move(secant)));
  }
  std::vector<Real> extrema;
  for (std::size_t i = 1; i < zeros.size(); ++i) {
    if (detail::sign(slope(zeros[i - 1])) * detail::sign(slope(zeros[i])) >= 0) return {};
    extrema.push_back(detail::bracketed_newton(slope, curvature, zeros[i - 1], zeros[i], tiny, points[i]));
  }
  return extrema;
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
  const double lost_to_width = (2.0 * q - 1.0) * std::max(0.0, narrowness);
  // Even on a wide interval the monomial basis is ill-conditioned: the
  // Vandermonde matrix of q points in [0, 1] has condition ~ (1 + sqrt 2)^(2q),
  // about 2.5 q bits (80 bits at degree 63).
  const double lost_to_basis = 3.0 * q;
  return output_bits + 64 + static_cast<unsigned>(std::ceil(lost_to_width + lost_to_basis));
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
  const Real newton_tolerance = boost::multiprecision::ldexp(Real(1), 8 - static_cast<int>(result.working_bits));
  Real best_spread = 2;
  int iterations_without_progress = 0;
  for (int iteration = 1; iteration <= kMaxIterations; ++iteration) {
    work_checkpoint();
    solve_reference(points, u, result.polynomial, result.levelled_error);
    // Low degrees: isolating every root of p' (the certificate's own method)
    // is cheaper than bracketing the q zeros of the error first.
    const bool isolated = q <= kIsolateUpTo;
    std::vector<Real> extrema = isolated ? critical_points(result.polynomial, l, u)
                                         : reference_extrema(result.polynomial, points, newton_tolerance);
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
    const Real spread = (largest - smallest) / largest;
    if (spread <= tolerance) {
      // Certify: every critical point of p in (l, u) by root isolation (what
      // the exchange just used when `isolated`), the maximum over them and the ends.
      const std::vector<Real> all =
          isolated ? std::vector<Real>(points.begin() + 1, points.end() - 1) : critical_points(result.polynomial, l, u);
      Real certified = largest;
      for (const Real& x : all) {
        const Real e = abs(1 - result.polynomial(x));
        if (e > certified) certified = e;
      }
      if (static_cast<int>(all.size()) != q - 1 || certified - largest > tolerance * largest) {
        throw SolverError("Remez certificate failed for " + describe(l, u, degree) + ": " +
                          std::to_string(all.size()) + " critical points, maximum " + to_decimal(certified, 12) +
                          " against the levelled " + to_decimal(largest, 12));
      }
      result.alternation_points = std::move(points);
      result.max_error = certified;
      result.iterations = iteration;
      return result;
    }
    // The exchange converges quadratically once close; a spread that stops
    // shrinking is rounding noise of the working precision, not progress.
    if (spread < best_spread) {
      best_spread = spread;
      iterations_without_progress = 0;
    } else if (++iterations_without_progress == 5) {
      throw SolverError("Remez stalled for " + describe(l, u, degree) + ": the reference errors agree only to " +
                        to_decimal(best_spread, 3) + " relative, not 2^-" + std::to_string(bits));
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
