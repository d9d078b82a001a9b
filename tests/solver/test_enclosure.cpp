// Rigorous enclosures against values known independently of the code under
// test: exact rational values where the image has a closed form (monotone
// steps: the image of [a, b] is [p(a), p(b)]), and closed-form critical
// points evaluated in 2048-bit MPFR (their error, ~1e-600, is far below the
// enclosures' widths, ~1e-170).  Containment is checked in exact rationals.
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/enclosure.hpp"
#include "polar_express/solver/schedule.hpp"
#include "polar_express/solver/verify.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace polar_express;

namespace {

constexpr unsigned kBits = 256;
constexpr unsigned kReferenceBits = 2048;

Rational q(const char* text) { return Rational(text); }

// p(x) = sum c_k x^(2k+1) in exact rational arithmetic.
Rational evaluate(const std::vector<Rational>& c, const Rational& x) {
  Rational sum = 0;
  Rational power = x;
  for (const Rational& ck : c) {
    sum += ck * power;
    power *= x * x;
  }
  return sum;
}

// A step whose exact coefficients are `c` (its MPFR polynomial their rounding).
ScheduleStep step_of(const std::vector<Rational>& c) {
  ScheduleStep step;
  step.exact_coefficients = c;
  for (const Rational& v : c) step.polynomial.coefficients.push_back(round_rational(v, kBits, Rounding::kNearest));
  return step;
}

Interval interval_of(const char* lower, const char* upper) {
  return {parse_real(lower, certification_bits(kBits)), parse_real(upper, certification_bits(kBits))};
}

bool contains(const Interval& enclosure, const Rational& exact) {
  return exact_rational(enclosure.lower) <= exact && exact <= exact_rational(enclosure.upper);
}

// A reference value computed at kReferenceBits: inside when within the
// enclosure widened by 2^-2000 relative (far below the enclosure's width).
bool contains_reference(const Interval& enclosure, const Real& reference) {
  PrecisionScope scope(kReferenceBits);
  const Real slack = boost::multiprecision::ldexp(abs(reference), -2000);
  return enclosure.lower <= reference + slack && reference - slack <= enclosure.upper;
}

// Relative width, at most `limit`.
bool narrow(const Interval& enclosure, const char* limit) {
  PrecisionScope scope(kReferenceBits);
  return enclosure.upper - enclosure.lower <= parse_real(limit, kReferenceBits) * abs(enclosure.upper);
}

std::vector<ScheduleStep> certified_chain(const std::vector<Rational>& c, int steps, const Interval& input) {
  std::vector<ScheduleStep> chain(static_cast<std::size_t>(steps), step_of(c));
  certify(chain, input, kBits);
  return chain;
}

}  // namespace

TEST_CASE("Newton-Schulz cubic on [1/1000, 1]: the exact rational errors 1 - f_t(l)", "[enclosure]") {
  // p(x) = (3x - x^3)/2 increases on [0, 1] and p(1) = 1, so the value set
  // after t steps is [f_t(l), 1] and the error 1 - f_t(l), a rational.
  const std::vector<Rational> c{q("3/2"), q("-1/2")};
  const std::vector<ScheduleStep> chain = certified_chain(c, 6, interval_of("1e-3", "1"));
  Rational x = q("1/1000");
  for (const ScheduleStep& step : chain) {
    x = evaluate(c, x);
    INFO("error " << to_decimal(step.error_after, 20));
    CHECK(contains(step.error_enclosure, 1 - x));
    CHECK(narrow(step.error_enclosure, "1e-150"));
    CHECK(step.error_enclosure.lower <= step.error_after);
    CHECK(step.error_after <= step.error_enclosure.upper);
  }
}

TEST_CASE("p = x - 2x^3/3 + x^5/5: p' = (1 - x^2)^2 touches zero at x = 1, the end of [1/2, 1]", "[enclosure]") {
  const std::vector<Rational> c{q("1"), q("-2/3"), q("1/5")};
  const RigorousPolynomial p(c, certification_bits(kBits));
  // One root of p' for x >= 0, at 1 exactly, where p' does not change sign.
  REQUIRE(p.critical_points().size() == 1);
  CHECK(contains(p.critical_points()[0].x, Rational(1)));
  CHECK_FALSE(p.critical_points()[0].sign_change);
  // p increases: [1/2, 1] -> [p(1/2), p(1) = 8/15] -> [p(p(1/2)), p(8/15)].
  const std::vector<ScheduleStep> chain = certified_chain(c, 2, interval_of("0.5", "1"));
  const Rational once = evaluate(c, q("1/2"));
  CHECK(evaluate(c, Rational(1)) == q("8/15"));
  CHECK(contains(chain[0].error_enclosure, 1 - once));
  CHECK(contains(chain[1].error_enclosure, 1 - evaluate(c, once)));
  // The value set itself, through the range enclosure.
  RangeEnclosure domain = input_range(interval_of("0.5", "1"), p.working_bits());
  const RangeEnclosure image = p.image(domain);
  CHECK(contains(image.low, once - 1));
  CHECK(contains(image.high, q("8/15") - 1));
}

TEST_CASE("a triple root of p' changes sign; a dyadic root is met exactly", "[enclosure]") {
  // p' = (x^2 - 1/4)^3: p = x^7/7 - 3x^5/20 + x^3/16 - x/64.
  const RigorousPolynomial p({q("-1/64"), q("1/16"), q("-3/20"), q("1/7")}, certification_bits(kBits));
  REQUIRE(p.critical_points().size() == 1);
  CHECK(contains(p.critical_points()[0].x, q("1/2")));
  CHECK(p.critical_points()[0].sign_change);
}

TEST_CASE("two critical points 1e-70 apart are isolated apart and the image is enclosed", "[enclosure]") {
  // p' = (x^2 - y1)(x^2 - y2), y1 = 1/2, y2 = 1/2 + 10^-70: a local maximum
  // at sqrt(y1) and a local minimum 7e-71 to its right.
  const Rational y1 = q("1/2");
  const Rational y2 = y1 + Rational(1) / boost::multiprecision::pow(Integer(10), 70);
  const std::vector<Rational> c{y1 * y2, -(y1 + y2) / 3, q("1/5")};
  const RigorousPolynomial p(c, certification_bits(kBits));
  const std::vector<CriticalBracket>& points = p.critical_points();
  REQUIRE(points.size() == 2);
  CHECK(points[0].x.upper < points[1].x.lower);
  for (std::size_t i = 0; i < 2; ++i) {
    const Rational y = i == 0 ? y1 : y2;
    CHECK(exact_rational(points[i].x.lower) * exact_rational(points[i].x.lower) <= y);
    CHECK(y <= exact_rational(points[i].x.upper) * exact_rational(points[i].x.upper));
    CHECK(points[i].sign_change);
  }
  // Over [0.6, 0.8] the value set is [min(p(0.6), p(x2)), max(p(x1), p(0.8))].
  const RangeEnclosure image = p.image(input_range(interval_of("0.6", "0.8"), p.working_bits()));
  PrecisionScope scope(kReferenceBits);
  auto value = [&](const Real& x) {
    Real sum = 0;
    Real power = x;
    for (const Rational& ck : c) {
      sum += round_rational(ck, kReferenceBits, Rounding::kNearest) * power;
      power *= x * x;
    }
    return Real(sum - 1);
  };
  const Real x1 = sqrt(round_rational(y1, kReferenceBits, Rounding::kNearest));
  const Real x2 = sqrt(round_rational(y2, kReferenceBits, Rounding::kNearest));
  const Real at_low = value(parse_real("0.6", kReferenceBits));
  const Real at_high = value(parse_real("0.8", kReferenceBits));
  const Real at_x1 = value(x1);
  const Real at_x2 = value(x2);
  CHECK(contains_reference(image.low, at_low < at_x2 ? at_low : at_x2));
  CHECK(contains_reference(image.high, at_high > at_x1 ? at_high : at_x1));
  CHECK(narrow(image.low, "1e-150"));
  CHECK(narrow(image.high, "1e-150"));
}

TEST_CASE("intervals through 0 and below it", "[enclosure]") {
  const std::vector<Rational> c{q("3/2"), q("-1/2")};
  // [-1/2, 1]: p increases on [-1, 1], so the value set is [p(-1/2), 1].
  const std::vector<ScheduleStep> through_zero = certified_chain(c, 1, interval_of("-0.5", "1"));
  CHECK(contains(through_zero[0].error_enclosure, 1 - evaluate(c, q("-1/2"))));
  // [1/2, 9/5]: p peaks at 1 (p = 1) and p(9/5) < 0, so the value set is
  // [p(9/5), 1]; then [p(p(9/5)), 1], negative at its bottom.
  const std::vector<ScheduleStep> below = certified_chain(c, 2, interval_of("0.5", "1.8"));
  const Rational bottom = evaluate(c, q("9/5"));
  REQUIRE(bottom < 0);
  CHECK(contains(below[0].error_enclosure, 1 - bottom));
  CHECK(contains(below[1].error_enclosure, 1 - evaluate(c, bottom)));
  CHECK(exact_rational(below[1].interval.lower) < 0);
}

TEST_CASE("designed degree-3 steps against their closed-form critical points", "[enclosure]") {
  // a x + b x^3 has its one critical point x > 0 at sqrt(-a / (3b)) with
  // value (2a/3) sqrt(-a / (3b)); the value set of [lo, hi] is spanned by
  // p(lo), p(hi) and that value when the point lies inside.
  DesignOptions options;
  options.degrees = {3};
  options.lower = parse_real("1e-3", certification_bits(kBits));
  options.steps = 8;
  options.cushion = parse_real("0.1", certification_bits(kBits));
  const Schedule s = design_schedule(options);
  PrecisionScope scope(kReferenceBits);
  Real lo = parse_real("1e-3", kReferenceBits);
  Real hi = 1;
  for (const ScheduleStep& step : s.steps) {
    const Real a = at_precision(step.polynomial.coefficients[0], kReferenceBits);
    const Real b = at_precision(step.polynomial.coefficients[1], kReferenceBits);
    auto p = [&](const Real& x) { return Real(a * x + b * x * x * x); };
    std::vector<Real> values{p(lo), p(hi)};
    const Real critical = sqrt(-a / (3 * b));
    if (critical > lo && critical < hi) values.push_back(p(critical));
    lo = *std::min_element(values.begin(), values.end());
    hi = *std::max_element(values.begin(), values.end());
    const Real error = 1 - lo > hi - 1 ? Real(1 - lo) : Real(hi - 1);
    CHECK(contains_reference(step.error_enclosure, error));
    CHECK(narrow(step.error_enclosure, "1e-150"));
  }
}

TEST_CASE("every catalogued list: error enclosures narrower than 1e-60 relative at 256 bits", "[enclosure][catalogue]") {
  for (const std::string& name : builtin_names()) {
    const Schedule s = builtin_schedule(name, kBits);
    for (int steps : {static_cast<int>(s.steps.size()), 10}) {
      VerifyOptions options;
      options.lower = parse_real("1e-3", certification_bits(kBits));
      options.upper = Real(1);
      options.steps = steps;
      const Verification v = verify_schedule(s, options);
      for (std::size_t t = 0; t < v.schedule.steps.size(); ++t) {
        INFO(name << " step " << t + 1 << " of " << steps);
        const Interval& e = v.schedule.steps[t].error_enclosure;
        CHECK(e.lower > 0);
        CHECK(narrow(e, "1e-60"));
      }
      CHECK(v.schedule.final_error_enclosure.upper == v.schedule.steps.back().error_enclosure.upper);
    }
  }
}

TEST_CASE("coefficients are the exact rationals of their text; the paper's safety scaling is exact", "[enclosure]") {
  const Schedule jordan = builtin_schedule("muon-jordan-ns5", kBits);
  CHECK(jordan.steps[0].exact() == std::vector<Rational>{q("34445/10000"), q("-4775/1000"), q("20315/10000")});
  // The paper's raw tuples but the last are divided by 1.01^(2k+1).
  const Schedule paper = builtin_schedule("polar-express-paper-d5", kBits);
  const Rational scale = q("101/100");
  CHECK(paper.steps[0].exact()[0] == q("828721201814563/100000000000000") / scale);
  CHECK(paper.steps[0].exact()[2] == q("17300387312530933/1000000000000000") / (scale * scale * scale * scale * scale));
  CHECK(paper.steps.back().exact()[0] == q("15/8"));
  // A design's coefficients are its MPFR values, exactly.
  DesignOptions options;
  options.lower = parse_real("1e-3", certification_bits(kBits));
  options.steps = 1;
  const Schedule designed = design_schedule(options);
  CHECK(designed.steps[0].exact()[1] == exact_rational(designed.steps[0].polynomial.coefficients[1]));
}

TEST_CASE("decimal text to exact rationals", "[enclosure][rational]") {
  CHECK(parse_decimal_exactly("3.4445") == q("34445/10000"));
  CHECK(parse_decimal_exactly("-1e-3") == q("-1/1000"));
  CHECK(parse_decimal_exactly(".5") == q("1/2"));
  CHECK(parse_decimal_exactly("1.") == Rational(1));
  CHECK(parse_decimal_exactly("+2.5E+10") == Rational(25000000000LL));
  CHECK(parse_decimal_exactly("0123") == Rational(123));
  CHECK(parse_decimal_exactly("1@3") == Rational(1000));
  for (const char* bad : {"", "-", ".", "e5", "1e", "1e+", "inf", "nan", "0x10", "1 ", "1e100001", "1.5.2"}) {
    INFO(bad);
    CHECK_FALSE(parse_decimal_exactly(bad).has_value());
  }
  // exact_rational gives back a dyadic exactly.
  PrecisionScope scope(64);
  CHECK(exact_rational(parse_real("0.375", 64)) == q("3/8"));
  CHECK(exact_rational(parse_real("-1e-3", 64)) != q("-1/1000"));
}
