// Verification against an independent computation: the worst case of
// |1 - f_t(x)| found by dense sampling in 512-bit MPFR on a log grid, with
// golden-section refinement around the largest local maxima.  Sampling can
// only under-estimate, so certified >= sampled must hold exactly (for the
// best estimate and the rigorous upper bound), and the two must agree to
// the refinement's accuracy (the best estimate and the rigorous lower bound).
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"
#include "polar_express/solver/verify.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace polar_express;

namespace {

constexpr unsigned kSampleBits = 512;

// sum c_k x^(2k+1) by explicit powers: deliberately not the library's Horner.
Real evaluate(const std::vector<Real>& c, const Real& x) {
  const Real x2 = x * x;
  Real power = x;
  Real sum = 0;
  for (const Real& ck : c) {
    sum += ck * power;
    power *= x2;
  }
  return sum;
}

Real composite_gap(const std::vector<std::vector<Real>>& chain, std::size_t steps, const Real& x) {
  Real y = x;
  for (std::size_t t = 0; t < steps; ++t) y = evaluate(chain[t], y);
  return abs(1 - y);
}

// Sampled max |1 - f_t| over [l, u] for t = 1..chain.size().
std::vector<Real> sampled_errors(const std::vector<std::vector<Real>>& chain, const Real& l, const Real& u,
                                 int intervals = 8000) {
  PrecisionScope scope(kSampleBits);
  std::vector<Real> xs;
  const Real ratio = pow(Real(u / l), Real(1) / intervals);
  Real x = l;
  for (int i = 0; i < intervals; ++i, x *= ratio) xs.push_back(x);
  xs.push_back(u);
  const std::size_t n = xs.size();
  std::vector<std::vector<Real>> gaps(chain.size(), std::vector<Real>(n));
  for (std::size_t i = 0; i < n; ++i) {
    Real y = xs[i];
    for (std::size_t t = 0; t < chain.size(); ++t) {
      y = evaluate(chain[t], y);
      gaps[t][i] = abs(1 - y);
    }
  }
  std::vector<Real> result;
  const Real golden = (sqrt(Real(5)) - 1) / 2;
  for (std::size_t t = 0; t < chain.size(); ++t) {
    const std::vector<Real>& g = gaps[t];
    std::vector<std::size_t> peaks;
    for (std::size_t i = 0; i < n; ++i) {
      if ((i == 0 || g[i] >= g[i - 1]) && (i + 1 == n || g[i] >= g[i + 1])) peaks.push_back(i);
    }
    std::sort(peaks.begin(), peaks.end(), [&](std::size_t a, std::size_t b) { return g[a] > g[b]; });
    peaks.resize(std::min<std::size_t>(peaks.size(), 4));
    Real best = g[peaks.front()];
    for (std::size_t i : peaks) {
      Real a = xs[i == 0 ? 0 : i - 1];
      Real b = xs[std::min(i + 1, n - 1)];
      Real c = b - golden * (b - a);
      Real d = a + golden * (b - a);
      Real gc = composite_gap(chain, t + 1, c);
      Real gd = composite_gap(chain, t + 1, d);
      for (int k = 0; k < 90; ++k) {
        if (gc > gd) {
          b = d, d = c, gd = gc;
          c = b - golden * (b - a);
          gc = composite_gap(chain, t + 1, c);
        } else {
          a = c, c = d, gc = gd;
          d = a + golden * (b - a);
          gd = composite_gap(chain, t + 1, d);
        }
      }
      best = max(best, max(gc, gd));
    }
    result.push_back(best);
  }
  return result;
}

std::vector<std::vector<Real>> chain_of(const Verification& v) {
  std::vector<std::vector<Real>> chain;
  for (const ScheduleStep& step : v.schedule.steps) chain.push_back(step.polynomial.coefficients);
  return chain;
}

// certified >= sampled (up to the sampling's own rounding) and within
// `tolerance` relative of it.
void check_against_sampling(const Verification& v, double tolerance = 1e-6) {
  const std::vector<Real> sampled = sampled_errors(chain_of(v), v.schedule.input.lower, v.schedule.input.upper);
  REQUIRE(sampled.size() == v.schedule.steps.size());
  // The sampling's own rounding (512 bits through up to 20 steps) is far
  // below 1e-40 relative; the slack is built at full precision, since a
  // Real made from a double keeps only 53 bits.
  PrecisionScope scope(kSampleBits);
  const Real slack = parse_real("1e-40", kSampleBits);
  const Real floor = parse_real("1e-140", kSampleBits);
  const Real allowed = parse_real(std::to_string(tolerance), kSampleBits);
  for (std::size_t t = 0; t < sampled.size(); ++t) {
    const Real& certified = v.schedule.steps[t].error_after;
    INFO(v.schedule.name << " step " << t + 1 << ": certified " << to_decimal(certified, 20) << ", sampled "
                         << to_decimal(sampled[t], 20) << ", relative difference "
                         << to_decimal((certified - sampled[t]) / certified, 5));
    CHECK(certified >= sampled[t] * (1 - slack) - floor);
    CHECK(sampled[t] >= certified * (1 - allowed));
    const Interval& enclosure = v.schedule.steps[t].error_enclosure;
    CHECK(enclosure.upper >= sampled[t] * (1 - slack) - floor);
    CHECK(sampled[t] >= enclosure.lower * (1 - allowed));
    CHECK(enclosure.lower <= certified);
    CHECK(certified <= enclosure.upper);
  }
}

Schedule schedule_from(const std::string& json) { return parse_schedule(json, 256); }

VerifyOptions on(const char* lower, const char* upper, std::optional<int> steps) {
  VerifyOptions o;
  o.lower = parse_real(lower, 600);
  o.upper = parse_real(upper, 600);
  o.steps = steps;
  return o;
}

bool has(const Verification& v, const std::string& kind, int step) {
  return std::any_of(v.diagnostics.begin(), v.diagnostics.end(),
                     [&](const Diagnostic& d) { return d.kind == kind && d.step == step; });
}

std::string six_digits(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

}  // namespace

TEST_CASE("every catalogued list: certified errors after each of 10 steps on [1e-3, 1] match dense sampling",
          "[verify][catalogue]") {
  for (const std::string& name : builtin_names()) {
    const Verification v = verify_schedule(builtin_schedule(name, 256), on("1e-3", "1", 10));
    REQUIRE(v.schedule.steps.size() == 10);
    check_against_sampling(v);
  }
}

TEST_CASE("the known figures: Jordan's tuple stalls at 0.3182 from step 6, the paper's list is at 0.1538 after 5",
          "[verify][catalogue]") {
  // tests/solver/reference_errors.py (mpmath: interval images by polyroots,
  // confirmed by sampling the composite), on [1e-3, 1].
  const double jordan_expected[] = {0.99655550477499797, 0.98813563133821928, 0.95914115623693301,
                                    0.85958719169601057, 0.52945604878446029, 0.31816853782281529};
  const Verification jordan = verify_schedule(builtin_schedule("muon-jordan-ns5", 256), on("1e-3", "1", 10));
  for (std::size_t t = 0; t < 10; ++t) {
    INFO("step " << t + 1);
    CHECK(static_cast<double>(jordan.schedule.steps[t].error_after) == Approx(jordan_expected[std::min<std::size_t>(t, 5)]).epsilon(1e-14));
  }
  CHECK(has(jordan, "stall", 6));

  const double paper_expected[] = {0.99179486248791295, 0.96663624903069492, 0.86966608262194868,
                                   0.5771087332567074,  0.15382262651760448, 0.0055932665559806607,
                                   9.053926330905111e-6, 1.8554443320395782e-15};
  const Verification paper = verify_schedule(builtin_schedule("polar-express-paper-d5", 256), on("1e-3", "1", 8));
  for (std::size_t t = 0; t < 8; ++t) {
    INFO("step " << t + 1);
    CHECK(static_cast<double>(paper.schedule.steps[t].error_after) == Approx(paper_expected[t]).epsilon(1e-12));
  }
  for (const Diagnostic& d : paper.diagnostics) CHECK(d.severity == Severity::kNote);
}

TEST_CASE("mixed degrees 3, 5, 7 cycled", "[verify]") {
  const Schedule s = schedule_from(R"({"name": "mixed", "after_list": "cycle", "steps": [
      [1.5, -0.5], [3.4445, -4.7750, 2.0315], [2.1875, -2.1875, 1.3125, -0.3125]]})");
  const Verification v = verify_schedule(s, on("1e-2", "1", 9));
  for (std::size_t t = 0; t < 9; ++t) CHECK(v.schedule.steps[t].degree() == 3 + 2 * static_cast<int>(t % 3));
  check_against_sampling(v);
}

TEST_CASE("a non-monotone step is found where p' changes sign", "[verify]") {
  const Verification v = verify_schedule(builtin_schedule("muon-jordan-ns5", 256), on("1e-3", "1", 1));
  REQUIRE(has(v, "non_monotone", 1));
  // p'(x) = 3.4445 - 14.325 x^2 + 10.1575 x^4: the smaller root in x^2.
  const double a = 10.1575, b = -14.325, c = 3.4445;
  const double x = std::sqrt((-b - std::sqrt(b * b - 4 * a * c)) / (2 * a));
  const auto note = std::find_if(v.diagnostics.begin(), v.diagnostics.end(),
                                 [](const Diagnostic& d) { return d.kind == "non_monotone"; });
  CHECK_THAT(note->message, Catch::Contains("x = " + six_digits(x)));
  // Newton-Schulz is monotone on [1e-3, 1].
  const Verification ns = verify_schedule(builtin_schedule("newton-schulz-quintic", 256), on("1e-3", "1", 3));
  CHECK_FALSE(has(ns, "non_monotone", 1));
}

TEST_CASE("upper bounds above 1", "[verify]") {
  const Verification ns = verify_schedule(builtin_schedule("newton-schulz-quintic", 256), on("0.5", "1.5", 4));
  check_against_sampling(ns);
  // CANS has no safety factor: 1% above the top it diverges.
  const Verification cans = verify_schedule(builtin_schedule("cans-5step", 256), on("1e-3", "1.01", 5));
  check_against_sampling(cans);
  CHECK(cans.schedule.final_error > Real(1e100));
  CHECK(has(cans, "band_overshoot", 1));
}

TEST_CASE("a single step has the closed-form error of the cubic", "[verify]") {
  const Verification v = verify_schedule(builtin_schedule("newton-schulz-cubic", 256), on("1e-3", "1", 1));
  REQUIRE(v.schedule.steps.size() == 1);
  PrecisionScope scope(600);
  const Real l = parse_real("1e-3", 600);
  const Real expected = 1 - (3 * l - l * l * l) / 2;  // p is increasing on [0, 1]
  CHECK(abs(v.schedule.final_error - expected) < expected * parse_real("1e-70", 600));
  CHECK(v.schedule.final_error_enclosure.lower <= expected);
  CHECK(expected <= v.schedule.final_error_enclosure.upper);
}

TEST_CASE("a 20-step list: after_list repeat_last and cycle", "[verify]") {
  const Verification jordan = verify_schedule(builtin_schedule("muon-jordan-ns5", 256), on("1e-3", "1", 20));
  REQUIRE(jordan.schedule.steps.size() == 20);
  for (std::size_t t = 5; t < 20; ++t) CHECK(std::abs(static_cast<double>(jordan.schedule.steps[t].error_after) - 0.3182) < 5e-5);

  const Schedule two = schedule_from(R"({"name": "two", "after_list": "cycle",
      "steps": [[3.4445, -4.7750, 2.0315], [1.875, -1.25, 0.375]]})");
  const std::vector<ScheduleStep> expanded = expand_steps(two, 20);
  for (std::size_t t = 0; t < 20; ++t) {
    CHECK(expanded[t].polynomial.coefficients == two.steps[t % 2].polynomial.coefficients);
  }
  const Verification v = verify_schedule(two, on("1e-3", "1", 20));
  check_against_sampling(v);
  const nlohmann::json doc = nlohmann::json::parse(to_json(v));
  CHECK(doc["steps"][18]["list_index"] == 1);
  CHECK(doc["steps"][19]["list_index"] == 2);
  CHECK_THROWS_WITH(expand_steps(two, 0), Catch::Contains("steps 0"));
  CHECK_THROWS_WITH(expand_steps(two, 1001), Catch::Contains("steps 1001"));
}

TEST_CASE("the smallest lower bound for a target error", "[verify][lower]") {
  VerifyOptions o = on("0.5", "1", 1);
  o.target_error = parse_real("0.5", 600);
  const Verification v = verify_schedule(builtin_schedule("newton-schulz-cubic", 256), o);
  // 1 - (3l - l^3)/2 = 1/2  <=>  l^3 - 3l + 1 = 0, whose root in (0, 1) is 2 cos(4 pi / 9).
  const double root = 2 * std::cos(4 * M_PI / 9);
  REQUIRE(v.smallest_lower.outcome == LowerSearch::Outcome::kFound);
  CHECK(v.smallest_lower.failing < Real(root));
  CHECK(v.smallest_lower.lower >= Real(root));
  CHECK(v.smallest_lower.lower <= v.smallest_lower.failing * (1 + Real(kLowerSearchTolerance)));
  CHECK(v.smallest_lower.lower_error <= o.target_error);
  CHECK(v.smallest_lower.failing_error > o.target_error);

  o.upper = parse_real("0.9", 600);
  o.target_error = parse_real("1e-3", 600);
  CHECK(verify_schedule(builtin_schedule("newton-schulz-cubic", 256), o).smallest_lower.outcome ==
        LowerSearch::Outcome::kUnreachable);
  o.target_error = Real(1);
  CHECK(verify_schedule(builtin_schedule("newton-schulz-cubic", 256), o).smallest_lower.outcome ==
        LowerSearch::Outcome::kBelowRange);
}

TEST_CASE("safe-band diagnostics", "[verify][band]") {
  // (3x - x^3)/2 is negative beyond sqrt(3): an input at 1.8 changes sign.
  const Verification flip = verify_schedule(builtin_schedule("newton-schulz-cubic", 256), on("0.5", "1.8", 1));
  CHECK(has(flip, "sign_flip", 1));
  // Jordan's tuple sends x near 0.55 to 1.2, above the stalled interval's top 1.134.
  const Verification jordan = verify_schedule(builtin_schedule("muon-jordan-ns5", 256), on("1e-3", "1", 10));
  CHECK(has(jordan, "band_below", 7));
  CHECK_FALSE(has(jordan, "band_below", 6));
  // The paper's list is designed with a 1% safety factor: no warnings at a 1% margin.
  const Verification paper = verify_schedule(builtin_schedule("polar-express-paper-d5", 256), on("1e-3", "1", 8));
  CHECK(std::none_of(paper.diagnostics.begin(), paper.diagnostics.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kWarning; }));
  for (const Diagnostic& d : jordan.diagnostics) CHECK(d.message.find('\n') == std::string::npos);
}

TEST_CASE("perturbed intervals are certified; widened ones can only raise the error", "[verify][sensitivity]") {
  const Verification v = verify_schedule(builtin_schedule("polar-express-nanochat-d5", 256), on("1e-3", "1", 5));
  REQUIRE(v.perturbations.size() == 6);
  const char* labels[] = {"upper x 1.01", "upper x 1.02", "all / 1.01", "all / 1.02", "lower / 10", "lower / 100"};
  // Each perturbed interval, written out, and its final error after the 5
  // steps from tests/solver/reference_errors.py (mpmath).
  struct Expected {
    const char* lower;
    const char* upper;
    double final_error;
  };
  const Expected expected[] = {
      {"1e-3", "1.01", 0.14112735647331068},          {"1e-3", "1.02", 0.14112735647331068},
      {"1e-3 / 1.01", "1 / 1.01", 0.14726957446395034}, {"1e-3 / 1.02", "1 / 1.02", 0.15335298826892982},
      {"1e-4", "1", 0.90119380683891958},             {"1e-5", "1", 0.99010545679385877},
  };
  auto read = [](const std::string& text) {
    PrecisionScope scope(600);
    const std::size_t slash = text.find(" / ");
    if (slash == std::string::npos) return parse_real(text, 600);
    return Real(parse_real(text.substr(0, slash), 600) / parse_real(text.substr(slash + 3), 600));
  };
  for (std::size_t i = 0; i < 6; ++i) {
    INFO(labels[i]);
    CHECK(v.perturbations[i].label == labels[i]);
    const Real lower = read(expected[i].lower);
    const Real upper = read(expected[i].upper);
    CHECK(abs(v.perturbations[i].input.lower - lower) <= lower * Real(1e-60));
    CHECK(abs(v.perturbations[i].input.upper - upper) <= upper * Real(1e-60));
    CHECK(static_cast<double>(v.perturbations[i].final_error) == Approx(expected[i].final_error).epsilon(1e-12));
    // Scaling the whole interval down is no widening: only the others bound the error from below.
    const bool widens = i != 2 && i != 3;
    if (widens) CHECK(v.perturbations[i].final_error >= v.schedule.final_error);
    check_against_sampling(verify_schedule(builtin_schedule("polar-express-nanochat-d5", 256),
                                           [&] {
                                             VerifyOptions o;
                                             o.lower = v.perturbations[i].input.lower;
                                             o.upper = v.perturbations[i].input.upper;
                                             o.steps = 5;
                                             return o;
                                           }()));
  }
  // l ten times too high: the list designed for 1e-3 is far from converged at 1e-4.
  CHECK(v.perturbations[4].final_error > Real(0.5));
}

TEST_CASE("verification JSON carries the design-style steps and the analyses", "[verify][json]") {
  const Verification v = verify_schedule(builtin_schedule("muon-jordan-ns5", 256), on("1e-3", "1", 7));
  const nlohmann::json doc = nlohmann::json::parse(to_json(v, parse_real("0.3", 64)));
  CHECK(doc["schema"] == kVerificationSchema);
  CHECK(doc["name"] == "muon-jordan-ns5");
  CHECK(doc["after_list"] == "repeat_last");
  CHECK(doc["list_length"] == 1);
  REQUIRE(doc["steps"].size() == 7);
  for (const auto& step : doc["steps"]) {
    CHECK(step["degree"] == 5);
    CHECK(step["coefficients"].size() == 3);
    CHECK(step.contains("lower"));
    CHECK(step.contains("upper"));
    CHECK(step["list_index"] == 1);
    REQUIRE(step["error_enclosure"].size() == 2);
    // The decimal ends are rounded outward: they still enclose the estimate.
    PrecisionScope scope(600);
    const Real estimate = parse_real(step["error_after"].get<std::string>(), 600);
    CHECK(parse_real(step["error_enclosure"][0].get<std::string>(), 600) <= estimate);
    CHECK(estimate <= parse_real(step["error_enclosure"][1].get<std::string>(), 600));
  }
  CHECK(doc["final_error"] == doc["steps"][6]["error_after"]);
  CHECK(doc["error_enclosure"] == doc["steps"][6]["error_enclosure"]);
  CHECK(doc["passed"] == false);
  CHECK(doc["smallest_lower"]["outcome"] == "found");
  CHECK(doc["perturbations"].size() == 6);
  CHECK(doc["diagnostics"].size() == v.diagnostics.size());
  const nlohmann::json list = nlohmann::json::parse(to_json(std::vector<Verification>{v, v}));
  CHECK(list["schema"] == kVerificationListSchema);
  CHECK(list["verifications"].size() == 2);
}

TEST_CASE("verify rejects a bad interval, step count or margin", "[verify][errors]") {
  const Schedule s = builtin_schedule("muon-jordan-ns5", 256);
  CHECK_THROWS_WITH(verify_schedule(s, on("1", "0.5", 1)), Catch::Contains("upper bound 0.5") && Catch::Contains("lower bound 1"));
  CHECK_THROWS_WITH(verify_schedule(s, on("1", "1", 1)), Catch::Contains("upper bound 1"));
  CHECK_THROWS_WITH(verify_schedule(s, on("-1", "1", 1)), Catch::Contains("lower bound -1"));
  CHECK_THROWS_WITH(verify_schedule(s, on("1e-3", "1", 0)), Catch::Contains("steps 0"));
  VerifyOptions o = on("1e-3", "1", 2);
  o.band_margin = 0;
  CHECK_THROWS_WITH(verify_schedule(s, o), Catch::Contains("band margin 0"));
}
