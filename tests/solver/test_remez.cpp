// The minimax step: equioscillation, certification, narrow intervals, the
// cubic closed form and the limit polynomial.
#include "polar_express/solver/remez.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace polar_express;

namespace {

Real relative_spread(const std::vector<Real>& errors) {
  Real smallest = abs(errors.front());
  Real largest = smallest;
  for (const Real& e : errors) {
    if (abs(e) < smallest) smallest = abs(e);
    if (abs(e) > largest) largest = abs(e);
  }
  return (largest - smallest) / largest;
}

// max |1 - p| on a uniform grid: an independent lower bound of the maximum.
Real sampled_max_error(const OddPolynomial& p, const Real& l, const Real& u, int samples) {
  Real worst = 0;
  for (int i = 0; i <= samples; ++i) {
    const Real x = l + (u - l) * i / samples;
    const Real e = abs(1 - p(x));
    if (e > worst) worst = e;
  }
  return worst;
}

}  // namespace

TEST_CASE("Remez equioscillates to 1e-60 at 256 bits and certifies the maximum", "[remez]") {
  PrecisionScope scope(512);
  for (int degree : {5, 7, 13, 31, 63}) {
    for (const char* lower : {"1e-3", "0.25"}) {
      INFO("degree " << degree << " on [" << lower << ", 1]");
      const Real l(lower);
      const RemezResult r = remez(degree, l, Real(1), 256);
      const std::size_t q = static_cast<std::size_t>((degree + 1) / 2);
      REQUIRE(r.polynomial.coefficients.size() == q);
      REQUIRE(r.alternation_points.size() == q + 1);
      // The ends of the interval (rounded to the working precision) are always extremal.
      CHECK(abs(r.alternation_points.front() - l) < Real("1e-70"));
      CHECK(r.alternation_points.back() == 1);
      for (std::size_t i = 1; i < r.errors.size(); ++i) {
        CHECK((r.errors[i] > 0) != (r.errors[i - 1] > 0));
        CHECK(r.alternation_points[i] > r.alternation_points[i - 1]);
      }
      CHECK(relative_spread(r.errors) < Real("1e-60"));
      CHECK(abs(r.max_error - r.levelled_error) / r.max_error < Real("1e-60"));
      // A dense grid never beats the certified maximum, and comes close to it.
      const Real sampled = sampled_max_error(r.polynomial, l, Real(1), 4000);
      CHECK(sampled <= r.max_error * (1 + Real("1e-60")));
      CHECK(sampled >= r.max_error * Real("0.99"));
    }
  }
}

TEST_CASE("Remez stays exact on an interval 1e-20 wide", "[remez][narrow]") {
  PrecisionScope scope(2048);
  const Real l = 1 - Real("1e-20");
  const Real u = 1 + Real("1e-20");
  for (int degree : {5, 9}) {
    INFO("degree " << degree);
    const RemezResult at256 = remez(degree, l, u, 256);
    const RemezResult at512 = remez(degree, l, u, 512);
    CHECK(at256.working_bits > 256 + 64);  // the margin for the lost digits was taken
    CHECK(relative_spread(at256.errors) < Real("1e-60"));
    CHECK(at256.max_error < Real("1e-40"));
    // The 256-bit answer carries 256 correct bits: it agrees with a 512-bit one.
    for (std::size_t k = 0; k < at256.polynomial.coefficients.size(); ++k) {
      const Real& a = at256.polynomial.coefficients[k];
      const Real& b = at512.polynomial.coefficients[k];
      CHECK(abs(a - b) <= abs(b) * Real("1e-75"));
    }
    CHECK(abs(at256.max_error - at512.max_error) <= at512.max_error * Real("1e-70"));
  }
}

TEST_CASE("The degree-3 closed form is the Remez solution", "[remez][cubic]") {
  PrecisionScope scope(512);
  for (const char* lower : {"1e-8", "1e-3", "0.3", "0.999"}) {
    for (const char* upper : {"1", "1.7"}) {
      INFO("[" << lower << ", " << upper << "]");
      const Real l(lower), u(upper);
      const OddPolynomial closed = optimal_cubic(l, u);
      const RemezResult r = remez(3, l, u, 256);
      for (std::size_t k = 0; k < 2; ++k) {
        CHECK(abs(closed.coefficients[k] - r.polynomial.coefficients[k]) <=
              abs(r.polynomial.coefficients[k]) * Real("1e-70"));
      }
    }
  }
}

TEST_CASE("The limit polynomial is the classical Newton-Schulz one", "[remez]") {
  PrecisionScope scope(256);
  const OddPolynomial p5 = osculating_polynomial(5, Real(1));
  CHECK(abs(p5.coefficients[0] - Real(15) / 8) < Real("1e-70"));
  CHECK(abs(p5.coefficients[1] - Real(-10) / 8) < Real("1e-70"));
  CHECK(abs(p5.coefficients[2] - Real(3) / 8) < Real("1e-70"));
  const OddPolynomial p3 = osculating_polynomial(3, Real(2));
  CHECK(abs(p3(Real(2)) - 1) < Real("1e-70"));
  CHECK(abs(p3.derivative(Real(2))) < Real("1e-70"));
}

TEST_CASE("Remez rejects what it cannot solve", "[remez]") {
  PrecisionScope scope(256);
  CHECK_THROWS_AS(remez(4, Real("0.1"), Real(1), 256), std::invalid_argument);
  CHECK_THROWS_AS(remez(1, Real("0.1"), Real(1), 256), std::invalid_argument);
  CHECK_THROWS_AS(remez(5, Real(0), Real(1), 256), std::invalid_argument);
  CHECK_THROWS_AS(remez(5, Real(1), Real("0.5"), 256), std::invalid_argument);
}

TEST_CASE("Critical points are found by isolation, not sampling", "[polynomial]") {
  PrecisionScope scope(256);
  // p(x) = x (x^2 - 1)(x^2 - 4) = x^5 - 5x^3 + 4x: p' = 5x^4 - 15x^2 + 4, roots
  // x^2 = (15 -+ sqrt(145)) / 10.
  const OddPolynomial p{{Real(4), Real(-5), Real(1)}};
  const std::vector<Real> points = critical_points(p, Real(0), Real(3));
  REQUIRE(points.size() == 2);
  CHECK(abs(points[0] - sqrt((15 - sqrt(Real(145))) / 10)) < Real("1e-70"));
  CHECK(abs(points[1] - sqrt((15 + sqrt(Real(145))) / 10)) < Real("1e-70"));
  const Interval range = image(p, {Real(0), Real(3)});
  CHECK(range.lower == p(points[1]));
  CHECK(range.upper == p(Real(3)));
  // Oddness: the image of a negative interval mirrors the positive one.
  const Interval mirrored = image(p, {Real(-3), Real(0)});
  CHECK(mirrored.lower == -range.upper);
  CHECK(mirrored.upper == -range.lower);
}
