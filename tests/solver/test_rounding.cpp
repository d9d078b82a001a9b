// The rounding certificate (rounding.hpp) against an independent emulation
// of the arithmetic it models, and its structural properties.
//
// The emulation runs the torch and direct forms on 2 x K matrices in MPFR,
// every operation rounded to nearest at the format's significand bits in
// the order the form prescribes (fp32 accumulation, bf16 or f32 storage),
// written here without the model's code.  A 2 x K matrix Y has singular
// values the square roots of the eigenvalues of the 2 x 2 matrix
// [[a, b], [b, c]] = Y Y^T, exact rationals (the entries are floats), and
// lambda_max <= t iff t >= a, t >= c and (t - a)(t - c) >= b^2 (lambda_min >=
// t likewise): whether a computed singular value lies in a certified
// interval is decided in exact rational arithmetic, with no tolerance.
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/rounding.hpp"
#include "polar_express/solver/rounding_design.hpp"
#include "polar_express/solver/verify.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <random>
#include <string>
#include <vector>

using namespace polar_express;

namespace {

constexpr unsigned kBits = 512;   // the emulation's working precision (every value it holds is exact in it)
constexpr unsigned kScheduleBits = 256;

using Matrix = std::vector<std::vector<Real>>;

Real rounded(const Real& x, int bits) { return at_precision(at_precision(x, static_cast<unsigned>(bits)), kBits); }

// The arithmetic of one form: storage and accumulation significand bits.
struct Emulation {
  int storage;
  int accumulation;
  Real to_storage(const Real& x) const { return rounded(x, storage); }
  Real acc(const Real& x) const { return rounded(x, accumulation); }
  // A coefficient as the products receive it: the double, then fp32.
  Real coefficient(const Real& c) const { return rounded(Real(static_cast<double>(c)), 24); }
  // sum_l a_l b_l in the accumulation format, in order, each product rounded.
  Real dot(const std::vector<Real>& a, const std::vector<Real>& b) const {
    Real s = 0;
    for (std::size_t l = 0; l < a.size(); ++l) s = acc(s + acc(a[l] * b[l]));
    return s;
  }
};

std::vector<Real> column(const Matrix& m, std::size_t j) {
  std::vector<Real> c;
  for (const auto& row : m) c.push_back(row[j]);
  return c;
}

// fl(fl(L R)), the torch matmul.
Matrix product(const Emulation& e, const Matrix& l, const Matrix& r) {
  Matrix out(l.size(), std::vector<Real>(r[0].size()));
  for (std::size_t i = 0; i < l.size(); ++i)
    for (std::size_t j = 0; j < r[0].size(); ++j) out[i][j] = e.to_storage(e.dot(l[i], column(r, j)));
  return out;
}

// fl(alpha fl(L R) + beta D), the runtime's fused product.
Matrix fused(const Emulation& e, const Real& alpha, const Matrix& l, const Matrix& r, const Real& beta,
             const Matrix& d) {
  Matrix out(l.size(), std::vector<Real>(r[0].size()));
  for (std::size_t i = 0; i < l.size(); ++i)
    for (std::size_t j = 0; j < r[0].size(); ++j)
      out[i][j] = e.to_storage(e.acc(e.acc(alpha * e.dot(l[i], column(r, j))) + e.acc(beta * d[i][j])));
  return out;
}

Matrix transpose(const Matrix& m) {
  Matrix t(m[0].size(), std::vector<Real>(m.size()));
  for (std::size_t i = 0; i < m.size(); ++i)
    for (std::size_t j = 0; j < m[0].size(); ++j) t[j][i] = m[i][j];
  return t;
}

Matrix scaled(const Emulation& e, const Real& c, const Matrix& m) {
  Matrix out = m;
  for (auto& row : out)
    for (Real& x : row) x = e.to_storage(e.acc(c * x));
  return out;
}

Matrix sum(const Emulation& e, const Matrix& a, const Matrix& b) {
  Matrix out = a;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a[0].size(); ++j) out[i][j] = e.to_storage(e.acc(a[i][j] + b[i][j]));
  return out;
}

// X / (factor ||X||_F + eps) as torch computes it: the sum of squares in
// fp32 in order, its square root, the norm stored, times the factor, plus
// eps, then each entry divided and stored.
Matrix normalised(const Emulation& e, const Matrix& g, const Normalization& n) {
  Real s = 0;
  for (const auto& row : g)
    for (const Real& x : row) s = e.acc(s + e.acc(x * x));
  Real d = e.to_storage(e.acc(sqrt(s)));
  d = e.to_storage(e.acc(d * e.acc(Real(n.factor))));
  d = e.to_storage(e.acc(d + e.acc(Real(n.eps))));
  Matrix out = g;
  for (auto& row : out)
    for (Real& x : row) x = e.to_storage(e.acc(x / d));
  return out;
}

Matrix torch_step(const Emulation& e, const std::vector<Real>& c, const Matrix& x) {
  const Matrix a = product(e, x, transpose(x));
  Matrix b = scaled(e, e.coefficient(c.back()), a);
  for (std::size_t j = c.size() - 1; j-- > 1;) b = sum(e, scaled(e, e.coefficient(c[j]), a), product(e, b, a));
  return sum(e, scaled(e, e.coefficient(c[0]), x), product(e, b, x));
}

Matrix direct_step(const Emulation& e, const std::vector<Real>& c, const Matrix& x) {
  const Matrix a = product(e, x, transpose(x));
  Matrix p = a;
  Real alpha = e.coefficient(c.back());
  for (std::size_t j = c.size() - 1; j-- > 1;) {
    p = fused(e, alpha, a, p, e.coefficient(c[j]), a);
    alpha = 1;
  }
  return fused(e, alpha, p, x, e.coefficient(c[0]), x);
}

// [[a, b], [b, c]] = Y Y^T exactly.
struct Gram2 {
  Rational a, b, c;
};
Gram2 gram(const Matrix& y) {
  Gram2 g{0, 0, 0};
  for (std::size_t l = 0; l < y[0].size(); ++l) {
    const Rational p = exact_rational(y[0][l]), q = exact_rational(y[1][l]);
    g.a += p * p;
    g.b += p * q;
    g.c += q * q;
  }
  return g;
}

// Both singular values of Y lie in [lower, upper] (exact rational test).
// Past 2^64 the exact rationals would grow without need: an entry that
// large (the emulation has no overflow) must be below the upper end, which
// then bounds nothing else; an upper end past 2^70 exceeds every singular
// value of a matrix whose entries are below 2^64 (sqrt(2 K) 2^64 < 2^70).
bool singular_values_within(const Matrix& y, const Interval& interval) {
  const Real big = boost::multiprecision::ldexp(Real(1), 64);
  Real largest = 0;
  for (const auto& row : y)
    for (const Real& v : row) largest = std::max(largest, Real(abs(v)));
  if (largest > big) return interval.upper >= largest;
  const Gram2 g = gram(y);
  const bool vacuous_top = interval.upper > boost::multiprecision::ldexp(Real(1), 70);
  const Rational top = vacuous_top ? Rational(0) : exact_rational(interval.upper) * exact_rational(interval.upper);
  const Rational bottom = exact_rational(interval.lower) * exact_rational(interval.lower);
  const bool below = vacuous_top || (top >= g.a && top >= g.c && (top - g.a) * (top - g.c) >= g.b * g.b);
  const bool above = bottom <= g.a && bottom <= g.c && (g.a - bottom) * (g.c - bottom) >= g.b * g.b;
  return below && above;
}

// An exact rational rotation in the plane (i, j) of an n-vector space.
Matrix rotation(std::size_t n, std::size_t i, std::size_t j, const Rational& cosine, const Rational& sine) {
  Matrix r(n, std::vector<Real>(n, Real(0)));
  for (std::size_t d = 0; d < n; ++d) r[d][d] = 1;
  // at kBits: a Real made from a rational would take whatever precision
  // represents it, and products would keep growing it.
  const Real c = at_precision(Real(cosine), kBits), s = at_precision(Real(sine), kBits);
  r[i][i] = c;
  r[j][j] = c;
  r[i][j] = -s;
  r[j][i] = s;
  return r;
}

Matrix exact_product(const Matrix& l, const Matrix& r) {
  Matrix out(l.size(), std::vector<Real>(r[0].size(), Real(0)));
  for (std::size_t i = 0; i < l.size(); ++i)
    for (std::size_t j = 0; j < r[0].size(); ++j)
      for (std::size_t m = 0; m < r.size(); ++m) out[i][j] += l[i][m] * r[m][j];
  return out;
}

// U [diag(s1, s2) 0] V^T with U, V products of Pythagorean rotations, each
// entry then stored: the input as the user hands it over.
Matrix input_matrix(std::mt19937& random, std::size_t big, const Real& s1, const Real& s2, int storage) {
  static const std::array<std::pair<int, int>, 4> kTriples{{{3, 5}, {5, 13}, {8, 17}, {20, 29}}};
  auto pick = [&] {
    const auto& [a, c] = kTriples[random() % kTriples.size()];
    const int b = static_cast<int>(std::lround(std::sqrt(static_cast<double>(c * c - a * a))));
    const int sign = random() % 2 ? 1 : -1;
    return std::make_pair(Rational(a, c), Rational(sign * b, c));
  };
  const auto [uc, us] = pick();
  const Matrix u = rotation(2, 0, 1, uc, us);
  Matrix v = rotation(big, 0, 1, Rational(1), Rational(0));
  for (int r = 0; r < 6; ++r) {
    const std::size_t i = random() % big;
    std::size_t j = random() % big;
    if (i == j) j = (j + 1) % big;
    const auto [c, s] = pick();
    v = exact_product(v, rotation(big, i, j, c, s));
  }
  Matrix core(2, std::vector<Real>(big, Real(0)));
  core[0][0] = s1;
  core[1][1] = s2;
  Matrix g = exact_product(exact_product(u, core), transpose(v));
  for (auto& row : g)
    for (Real& x : row) x = rounded(x, storage);
  return g;
}

// The exactly normalised singular values of the stored input, enclosed:
// computed at kBits (error far below 2^-400 relative for these condition
// numbers) and widened by 2^-400.
Interval normalised_interval(const Matrix& g, const Normalization& n) {
  const Gram2 m = gram(g);
  const Real a = at_precision(Real(m.a), kBits), b = at_precision(Real(m.b), kBits), c = at_precision(Real(m.c), kBits);
  const Real half_sum = (a + c) / 2;
  const Real root = sqrt(((a - c) / 2) * ((a - c) / 2) + b * b);
  const Real scale = Real(n.factor) * sqrt(a + c) + Real(n.eps);
  const Real widen = boost::multiprecision::ldexp(Real(1), -400);
  return {sqrt(half_sum - root) / scale * (1 - widen), sqrt(half_sum + root) / scale * (1 + widen)};
}

struct Case {
  const char* schedule;
  const char* dtype;
  StepForm form;
  double lower;  // of the singular values' spread before normalisation (upper 1)
  int steps;
};

void check_against_emulation(const Case& c, RoundingBound bound) {
  PrecisionScope scope(kBits);
  const Schedule schedule = builtin_schedule(c.schedule, kScheduleBits);
  const std::vector<ScheduleStep> steps = expand_steps(schedule, c.steps);
  const bool half = std::string(c.dtype) == "bf16";
  const Emulation e{half ? 8 : 24, 24};
  std::mt19937 random(12345);
  constexpr std::size_t kLong = 5;
  int informative = 0;
  for (int instance = 0; instance < 12; ++instance) {
    const double spread = c.lower + (1 - c.lower) * (instance % 4) / 4.0;
    const Matrix g = input_matrix(random, kLong, Real(1), Real(spread), e.storage);
    const Interval input = normalised_interval(g, schedule.normalization);
    RoundingOptions options;
    options.dtype = c.dtype;
    options.rows = 2;
    options.cols = kLong;
    options.form = c.form;
    options.bound = bound;
    const RoundingCertificate cert = certify_rounding(steps, schedule.normalization, input, options, kScheduleBits);
    Matrix x = normalised(e, g, schedule.normalization);
    INFO(c.schedule << " " << c.dtype << " " << to_string(c.form) << " " << to_string(bound) << " instance "
                    << instance);
    REQUIRE(singular_values_within(x, cert.normalised));
    for (std::size_t t = 0; t < steps.size(); ++t) {
      std::vector<Real> coefficients;
      for (const Real& v : steps[t].polynomial.coefficients) coefficients.push_back(at_precision(v, kBits));
      x = c.form == StepForm::kTorch ? torch_step(e, coefficients, x) : direct_step(e, coefficients, x);
      INFO("step " << t + 1 << ": [" << to_decimal(cert.steps[t].interval.lower, 8) << ", "
                   << to_decimal(cert.steps[t].interval.upper, 8) << "]");
      REQUIRE(singular_values_within(x, cert.steps[t].interval));
    }
    if (cert.final_error < 1) ++informative;
  }
  // The cases are chosen so that the certificate says something.
  CHECK(informative > 0);
}

RoundingOptions options_for(const std::string& dtype, std::int64_t rows, std::int64_t cols) {
  RoundingOptions o;
  o.dtype = dtype;
  o.rows = rows;
  o.cols = cols;
  return o;
}

bool nested(const Interval& inner, const Interval& outer) {
  return outer.lower <= inner.lower && inner.upper <= outer.upper;
}

}  // namespace

TEST_CASE("Emulated torch and direct steps stay inside the certified intervals", "[rounding]") {
  const std::vector<Case> cases{
      {"polar-express-paper-d5", "f32", StepForm::kTorch, 1e-2, 8},
      {"polar-express-paper-d5", "f32", StepForm::kDirect, 1e-2, 8},
      {"newton-schulz-quintic", "bf16", StepForm::kTorch, 0.6, 4},
      {"newton-schulz-quintic", "bf16", StepForm::kDirect, 0.6, 4},
      {"newton-schulz-cubic", "bf16", StepForm::kDirect, 0.5, 5},
      {"muon-jordan-ns5", "f32", StepForm::kTorch, 0.1, 5},
  };
  for (const Case& c : cases) {
    check_against_emulation(c, RoundingBound::kProbabilistic);
    check_against_emulation(c, RoundingBound::kWorstCase);
  }
}

TEST_CASE("The certified intervals widen with the unit roundoff and with the inner length", "[rounding]") {
  const Schedule schedule = builtin_schedule("polar-express-nanochat-d5", kScheduleBits);
  const std::vector<ScheduleStep> steps = expand_steps(schedule, 5);
  const Interval input{parse_real("0.05", kBits), parse_real("0.9", kBits)};
  auto cert = [&](const std::string& dtype, std::int64_t cols) {
    return certify_rounding(steps, schedule.normalization, input, options_for(dtype, 32, cols), kScheduleBits);
  };
  const RoundingCertificate f64 = cert("f64", 64), f32 = cert("f32", 64), f16 = cert("f16", 64), bf16 = cert("bf16", 64);
  const RoundingCertificate f32_longer = cert("f32", 4096);
  REQUIRE(nested(f64.normalised, f32.normalised));
  REQUIRE(nested(f32.normalised, bf16.normalised));
  REQUIRE(nested(f32.normalised, f16.normalised));
  for (std::size_t t = 0; t < steps.size(); ++t) {
    INFO("step " << t + 1);
    CHECK(nested(f64.steps[t].interval, f32.steps[t].interval));
    CHECK(nested(f32.steps[t].interval, bf16.steps[t].interval));
    CHECK(nested(f32.steps[t].interval, f16.steps[t].interval));
    CHECK(nested(f32.steps[t].interval, f32_longer.steps[t].interval));
    // Every interval holds the exact chain's image (rounding only widens).
    CHECK(nested(f64.steps[t].exact, f64.steps[t].interval));
  }
  // A smaller failure probability costs a wider interval.
  RoundingOptions sure = options_for("f32", 32, 64);
  sure.failure_probability = 1e-12;
  const RoundingCertificate surer = certify_rounding(steps, schedule.normalization, input, sure, kScheduleBits);
  CHECK(nested(f32.steps.back().interval, surer.steps.back().interval));
}

TEST_CASE("Each step's interval is the brute-force image of the previous one, widened by its own terms",
          "[rounding]") {
  // Independent of the enclosure machinery: |p| sampled on a fine grid of
  // the interval before each step, widened by the terms the certificate
  // reports, lies inside the certified interval after it.
  const Schedule schedule = builtin_schedule("you-6step", kScheduleBits);
  const std::vector<ScheduleStep> steps = expand_steps(schedule, 6);
  const Interval input{parse_real("0.01", kBits), parse_real("1", kBits)};
  const RoundingCertificate c = certify_rounding(steps, schedule.normalization, input, options_for("f32", 64, 256),
                                                 kScheduleBits);
  PrecisionScope scope(kBits);
  Interval before = c.normalised;
  for (std::size_t t = 0; t < steps.size(); ++t) {
    const RoundedStep& r = c.steps[t];
    constexpr int kPoints = 4000;
    for (int i = 0; i <= kPoints; ++i) {
      const Real x = before.lower + (before.upper - before.lower) * i / kPoints;
      const Real y = abs(steps[t].polynomial(x));
      const Real spread = r.perturbation * before.upper;
      // The widened value's possible range, as section 4 of ROUNDING.md has it.
      const Real top = std::min(Real(y * (1 + r.relative)), Real(y + spread)) + r.absolute;
      Real bottom = y - spread;
      if (r.relative < 1) bottom = std::max(bottom, Real(y * (1 - r.relative)));
      bottom -= r.absolute;
      INFO("step " << t + 1 << " x = " << to_decimal(x, 12));
      REQUIRE(r.interval.upper >= top);
      REQUIRE((r.interval.lower <= bottom || r.interval.lower == 0));
      REQUIRE(r.exact.lower <= y);
      REQUIRE(y <= r.exact.upper);
    }
    before = r.interval;
  }
}

TEST_CASE("Blow-up: found for a list without a safety factor in bf16, absent from gentle ones", "[rounding]") {
  const Interval input{parse_real("1e-3", kBits), parse_real("1", kBits)};
  const Schedule cans = builtin_schedule("cans-5step", kScheduleBits);
  const RoundingCertificate blown =
      certify_rounding(cans.steps, cans.normalization, input, options_for("bf16", 256, 1024), kScheduleBits);
  REQUIRE(blown.blow_up_step.has_value());
  CHECK(!(blown.final_error < 1));
  const Schedule cubic = builtin_schedule("newton-schulz-cubic", kScheduleBits);
  const Interval narrow{parse_real("0.5", kBits), parse_real("1", kBits)};
  const RoundingCertificate calm = certify_rounding(expand_steps(cubic, 6), cubic.normalization, narrow,
                                                    options_for("f64", 256, 1024), kScheduleBits);
  CHECK(!calm.blow_up_step.has_value());
  CHECK(calm.final_error < 1);
  // The exact chain blows up too when the interval is past its band
  // (the paper's list with its top 2% high: an exact error of ~1e11019).
  const Schedule paper = builtin_schedule("polar-express-paper-d5", kScheduleBits);
  const Interval high{parse_real("1e-3", kBits), parse_real("1.02", kBits)};
  const RoundingCertificate f64 =
      certify_rounding(paper.steps, paper.normalization, high, options_for("f64", 64, 64), kScheduleBits);
  CHECK(f64.blow_up_step.has_value());
}

TEST_CASE("The rounding model refuses what it does not cover", "[rounding]") {
  const Schedule aol = builtin_schedule("turbo-muon-aol-4step", kScheduleBits);
  const Interval input{parse_real("1e-3", kBits), parse_real("1", kBits)};
  CHECK_THROWS_AS(certify_rounding(aol.steps, aol.normalization, input, options_for("bf16", 8, 8), kScheduleBits),
                  std::invalid_argument);
  const Schedule paper = builtin_schedule("polar-express-paper-d5", kScheduleBits);
  auto certify_with = [&](const RoundingOptions& o) {
    return certify_rounding(paper.steps, paper.normalization, input, o, kScheduleBits);
  };
  CHECK_THROWS_AS(certify_with(options_for("bf8", 8, 8)), std::invalid_argument);
  CHECK_THROWS_AS(certify_with(options_for("tf32", 8, 8)), std::invalid_argument);
  CHECK_THROWS_AS(certify_with(options_for("bf16", 0, 8)), std::invalid_argument);
  RoundingOptions never = options_for("bf16", 8, 8);
  never.failure_probability = 0;
  CHECK_THROWS_AS(certify_with(never), std::invalid_argument);
  RoundingOptions restarts = options_for("bf16", 8, 8);
  restarts.form = StepForm::kGram;
  restarts.gram_restarts = {3, 2};
  CHECK_THROWS_AS(certify_with(restarts), std::invalid_argument);
}

TEST_CASE("A design for its precision: the model's safety factor keeps it in the band", "[rounding]") {
  PrecisionDesignOptions o;
  o.design.degrees = {5};
  o.design.lower = parse_real("1e-3", kBits);
  o.design.steps = 8;
  o.design.precision_bits = kScheduleBits;
  o.rounding = options_for("f16", 64, 256);
  o.rounding.form = StepForm::kTorch;
  const PrecisionDesign d = design_for_precision(o);
  REQUIRE(d.schedule.design.has_value());
  // The unscaled design of the same degrees leaves the band in f16; the
  // chosen one, certified again here, does not.
  DesignOptions plain = o.design;
  const Schedule unsafe = design_schedule(plain);
  const RoundingCertificate before =
      certify_rounding(unsafe.steps, unsafe.normalization, unsafe.input, o.rounding, kScheduleBits);
  const RoundingCertificate after =
      certify_rounding(d.schedule.steps, d.schedule.normalization, d.schedule.input, o.rounding, kScheduleBits);
  CHECK(before.blow_up_step.has_value());
  CHECK(!after.blow_up_step.has_value());
  CHECK(d.schedule.design->safety > 0);
  CHECK(!d.candidates.empty());
}
