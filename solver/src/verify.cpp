#include "polar_express/solver/verify.hpp"

#include "json_support.hpp"
#include "outward.hpp"
#include "rounding_json.hpp"

#include "polar_express/solver/enclosure.hpp"

#include <algorithm>
#include <stdexcept>

namespace polar_express {
namespace {

using detail::Json;


std::string shown(const Real& v) { return to_decimal(v, 6); }

// The rigorous enclosure of the final error over `input`.
Interval final_error_on(const RigorousChain& chain, const Interval& input) {
  return error_enclosure(chain.ranges(input).back());
}

// Interior critical points of an odd p on any interval: p' is even, so the
// points left of zero mirror those right of it.
std::vector<Real> interior_critical_points(const OddPolynomial& p, const Interval& d) {
  if (!(d.lower < d.upper)) return {};
  if (d.lower >= 0) return critical_points(p, d.lower, d.upper);
  auto mirrored = [&](const Real& a, const Real& b) {
    std::vector<Real> points = critical_points(p, a, b);
    std::reverse(points.begin(), points.end());
    for (Real& x : points) x = -x;
    return points;
  };
  if (d.upper <= 0) return mirrored(-d.upper, -d.lower);
  std::vector<Real> points = mirrored(Real(0), -d.lower);
  for (Real& x : critical_points(p, Real(0), d.upper)) points.push_back(std::move(x));
  return points;
}

std::string step_label(std::size_t index, const ScheduleStep& step) {
  return "step " + std::to_string(index + 1) + " (degree " + std::to_string(step.degree()) + ")";
}

// Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + string.
std::string interval_text(const Interval& i) {
  std::string text(1, '[');
  text += shown(i.lower);
  text += ", ";
  text += shown(i.upper);
  text += ']';
  return text;
}

// Each step maps its certified interval [a, b] onto the next, [a', b'].  In
// finite precision the values reaching it may exceed b by a relative s
// (rounding, an under-estimated norm) or lie below a (a too optimistic l).
// The step keeps the safe band when it maps [0, b(1+s)] into [0, b'(1+s)]:
// [a, b] lands in [a', b'] by construction, so the parts to check are the
// excess [b, b(1+s)] and the part [0, a] below the interval.
void check_band(const std::vector<ScheduleStep>& steps, const Interval& final_image, const Real& s,
                std::vector<Diagnostic>& out) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const ScheduleStep& step = steps[i];
    const Real& a = step.interval.lower;
    const Real& b = step.interval.upper;
    if (b <= 0) continue;
    const Real next_top = i + 1 < steps.size() ? steps[i + 1].interval.upper : final_image.upper;
    const Real widened = b * (1 + s);
    const Real bound = next_top * (1 + s);
    const Interval excess = image(step.polynomial, {b, widened});
    const std::optional<Interval> below =
        a > 0 ? std::optional<Interval>(image(step.polynomial, {Real(0), a})) : std::nullopt;
    const int t = static_cast<int>(i + 1);
    const std::string label = step_label(i, step);
    const std::string limit = shown(bound) + " (the next top " + shown(next_top) + " times 1+" + shown(s) + ")";
    if (excess.lower < 0) {
      out.push_back({Severity::kWarning, "sign_flip", t,
                     label + " maps [" + shown(b) + ", " + shown(widened) + "], up to " + shown(s) +
                         " above its interval's top, down to " + shown(excess.lower) +
                         ": such singular values would change sign"});
    }
    if (below && below->lower < 0) {
      out.push_back({Severity::kWarning, "sign_flip", t,
                     label + " maps [0, " + shown(a) + "], below its interval, down to " + shown(below->lower) +
                         ": singular values under the assumed lower bound would change sign"});
    }
    if (next_top > 0 && excess.upper > bound) {
      const Real growth = (excess.upper / next_top - 1) / s;
      out.push_back({Severity::kWarning, "band_overshoot", t,
                     label + " maps [" + shown(b) + ", " + shown(widened) + "] (its interval's top times 1+" +
                         shown(s) + ") up to " + shown(excess.upper) + ", above " + limit +
                         ": an excess above the top is not pulled back (it grows " + to_decimal(growth, 3) + "x)"});
    }
    if (next_top > 0 && below && below->upper > bound) {
      out.push_back({Severity::kWarning, "band_below", t,
                     label + " maps [0, " + shown(a) + "], below its interval, up to " + shown(below->upper) +
                         ", above " + limit + ": singular values under the assumed lower bound overshoot"});
    }
  }
}

void check_monotone(const std::vector<ScheduleStep>& steps, std::vector<Diagnostic>& out) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const ScheduleStep& step = steps[i];
    const std::vector<Real> points = interior_critical_points(step.polynomial, step.interval);
    if (points.empty()) continue;
    std::string where;
    for (std::size_t k = 0; k < points.size() && k < 3; ++k) {
      where += (k ? ", " : "") + shown(points[k]) + " (p = " + shown(step.polynomial(points[k])) + ")";
    }
    if (points.size() > 3) where += ", ...";
    out.push_back({Severity::kNote, "non_monotone", static_cast<int>(i + 1),
                   step_label(i, step) + " is not monotone on its interval " + interval_text(step.interval) +
                       ": p' changes sign at x = " + where +
                       "; it folds the interval, so singular values there lose their order"});
  }
}

// Errors that rise, and the step from which they no longer fall.  Errors
// at the level of the precision's rounding are left alone.
void check_progress(const std::vector<ScheduleStep>& steps, unsigned precision_bits, std::vector<Diagnostic>& out) {
  const Real noise = boost::multiprecision::ldexp(Real(1), -static_cast<int>(precision_bits / 2));
  const Real rise = Real(1) + Real(1) / 1000000000;
  for (std::size_t i = 1; i < steps.size(); ++i) {
    const Real& before = steps[i - 1].error_after;
    const Real& after = steps[i].error_after;
    if (after > before * rise && after > noise) {
      out.push_back({Severity::kNote, "error_increase", static_cast<int>(i + 1),
                     step_label(i, steps[i]) + " raises the worst-case error from " + shown(before) + " to " +
                         shown(after)});
    }
  }
  // The first step k after which no step improves the error by more than
  // a relative 1e-6.
  const Real keep = Real(1) - Real(1) / 1000000;
  std::size_t k = steps.size() - 1;
  Real best = steps.back().error_after;
  for (std::size_t i = steps.size() - 1; i-- > 0;) {
    if (best < steps[i].error_after * keep) break;
    if (steps[i].error_after < best) best = steps[i].error_after;
    k = i;
  }
  if (k + 1 < steps.size() && steps[k].error_after > noise) {
    out.push_back({Severity::kNote, "stall", static_cast<int>(k + 1),
                   "the worst-case error stalls at " + shown(steps[k].error_after) + " from step " +
                       std::to_string(k + 1) + ": the " + std::to_string(steps.size() - k - 1) +
                       " steps after it do not reduce it"});
  }
}

// Each l is judged by the rigorous upper bound of its error: `lower`
// provably reaches the target; `failing` is not proved to.  The errors
// reported are the best estimates.
LowerSearch search_lower(const RigorousChain& chain, const Real& upper, const Real& target) {
  LowerSearch r;
  r.target_error = target;
  auto reaches = [&](const Interval& error) { return error.upper <= target; };
  const Interval at_top = final_error_on(chain, {upper, upper});
  if (!reaches(at_top)) {
    r.outcome = LowerSearch::Outcome::kUnreachable;
    r.failing = upper;
    r.failing_error = detail::outward::midpoint(at_top);
    return r;
  }
  Real lo = upper * Real(kLowerSearchFloor);
  Interval lo_error = final_error_on(chain, {lo, upper});
  if (reaches(lo_error)) {
    r.outcome = LowerSearch::Outcome::kBelowRange;
    r.lower = lo;
    r.lower_error = detail::outward::midpoint(lo_error);
    return r;
  }
  Real hi = upper;
  Interval hi_error = at_top;
  const Real ratio = 1 + Real(kLowerSearchTolerance);
  while (hi > lo * ratio) {
    Real mid = sqrt(lo * hi);
    Interval e = final_error_on(chain, {mid, upper});
    if (reaches(e)) {
      hi = std::move(mid);
      hi_error = std::move(e);
    } else {
      lo = std::move(mid);
      lo_error = std::move(e);
    }
  }
  r.outcome = LowerSearch::Outcome::kFound;
  r.lower = hi;
  r.lower_error = detail::outward::midpoint(hi_error);
  r.failing = lo;
  r.failing_error = detail::outward::midpoint(lo_error);
  return r;
}

std::string outcome_text(LowerSearch::Outcome o) {
  switch (o) {
    case LowerSearch::Outcome::kFound: return "found";
    case LowerSearch::Outcome::kBelowRange: return "below_range";
    case LowerSearch::Outcome::kUnreachable: return "unreachable";
  }
  return "found";
}

Json verification_object(const Verification& v, const std::optional<Real>& expect_error) {
  const Schedule& s = v.schedule;
  const int digits = detail::json_digits(s.precision_bits);
  auto decimal = [&](const Real& x) { return to_decimal(x, digits); };
  Json doc;
  doc["schema"] = kVerificationSchema;
  doc["name"] = s.name;
  doc["source"] = s.source;
  doc["method"] = s.design ? "polar-express" : "published";
  doc["normalization"] = {{"factor", s.normalization.factor}, {"eps", s.normalization.eps}, {"text", s.normalization_text}};
  doc["after_list"] = to_string(s.after_list);
  doc["certified"] = detail::certified_numbers(s);
  doc["list_length"] = v.list_length;
  doc["input"] = {{"lower", decimal(s.input.lower)},
                  {"upper", decimal(s.input.upper)},
                  {"steps", s.steps.size()},
                  {"precision_bits", s.precision_bits},
                  {"band_margin", to_decimal(v.band_margin, 17)}};
  Json steps = Json::array();
  for (std::size_t t = 0; t < s.steps.size(); ++t) {
    Json j = detail::step_json(s.steps[t], digits);
    j["list_index"] = list_index(t, v.list_length, s.after_list) + 1;
    steps.push_back(j);
  }
  doc["steps"] = steps;
  doc["final_error"] = decimal(s.final_error);
  doc["error_enclosure"] = detail::enclosure_json(s.final_error_enclosure, digits);
  if (expect_error) {
    doc["expect_error"] = to_decimal(*expect_error, 17);
    doc["passed"] = s.final_error_enclosure.upper <= *expect_error;
  }
  const LowerSearch& l = v.smallest_lower;
  Json search;
  search["target_error"] = decimal(l.target_error);
  search["outcome"] = outcome_text(l.outcome);
  if (l.outcome != LowerSearch::Outcome::kUnreachable) {
    search["lower"] = decimal(l.lower);
    search["lower_error"] = decimal(l.lower_error);
  }
  if (l.outcome != LowerSearch::Outcome::kBelowRange) {
    search["failing"] = decimal(l.failing);
    search["failing_error"] = decimal(l.failing_error);
  }
  doc["smallest_lower"] = search;
  Json perturbations = Json::array();
  for (const Perturbation& p : v.perturbations) {
    perturbations.push_back({{"label", p.label},
                             {"lower", decimal(p.input.lower)},
                             {"upper", decimal(p.input.upper)},
                             {"final_error", decimal(p.final_error)},
                             {"error_enclosure", detail::enclosure_json(p.final_error_enclosure, digits)}});
  }
  doc["perturbations"] = perturbations;
  Json diagnostics = Json::array();
  for (const Diagnostic& d : v.diagnostics) {
    diagnostics.push_back(
        {{"severity", to_string(d.severity)}, {"kind", d.kind}, {"step", d.step}, {"message", d.message}});
  }
  doc["diagnostics"] = diagnostics;
  if (v.rounding) doc["rounding"] = detail::rounding_json(*v.rounding);
  return doc;
}

}  // namespace

std::string to_string(Severity severity) { return severity == Severity::kWarning ? "warning" : "note"; }

std::vector<ScheduleStep> expand_steps(const Schedule& schedule, int steps) {
  if (steps < 1 || steps > kMaxVerifySteps) {
    throw std::invalid_argument("steps " + std::to_string(steps) + " is outside [1, " +
                                std::to_string(kMaxVerifySteps) + "]");
  }
  if (schedule.steps.empty()) throw std::invalid_argument("schedule '" + schedule.name + "' has no steps");
  const std::size_t n = schedule.steps.size();
  std::vector<ScheduleStep> result;
  for (std::size_t t = 0; t < static_cast<std::size_t>(steps); ++t) {
    const std::size_t k = list_index(t, n, schedule.after_list);
    ScheduleStep step;
    step.polynomial = schedule.steps[k].polynomial;
    step.exact_coefficients = schedule.steps[k].exact_coefficients;
    step.osculating = schedule.steps[k].osculating;
    result.push_back(std::move(step));
  }
  return result;
}

Verification verify_schedule(const Schedule& schedule, const VerifyOptions& options) {
  const unsigned bits = schedule.precision_bits;
  const unsigned work = certification_bits(bits);
  PrecisionScope scope(work);
  const Real lower = at_precision(options.lower.value_or(schedule.input.lower), work);
  const Real upper = at_precision(options.upper.value_or(schedule.input.upper), work);
  auto finite = [](const Real& v) { return boost::multiprecision::isfinite(v); };
  if (!finite(lower) || lower <= 0) throw std::invalid_argument("lower bound " + shown(lower) + " is not a positive finite number");
  if (!finite(upper) || upper <= lower) {
    throw std::invalid_argument("upper bound " + shown(upper) + " is not a finite number above the lower bound " +
                                shown(lower));
  }
  const Real margin = at_precision(options.band_margin, work);
  if (!finite(margin) || margin <= 0 || margin >= 1) {
    throw std::invalid_argument("band margin " + shown(margin) + " is outside (0, 1)");
  }
  const int steps = options.steps.value_or(static_cast<int>(schedule.steps.size()));

  Verification v;
  v.list_length = schedule.steps.size();
  v.band_margin = margin;
  v.schedule = schedule;
  v.schedule.input = {lower, upper};
  v.schedule.steps = expand_steps(schedule, steps);
  // One chain serves the certificate, the lower-bound search and the
  // perturbed intervals: the roots of each distinct p' are isolated once.
  const RigorousChain chain(v.schedule.steps, bits);
  record_enclosures(v.schedule.steps, v.schedule.input, chain.ranges(v.schedule.input), chain.working_bits());
  v.schedule.final_error = v.schedule.steps.back().error_after;
  v.schedule.final_error_enclosure = v.schedule.steps.back().error_enclosure;
  const std::vector<ScheduleStep>& certified = v.schedule.steps;

  const Interval final_image = image(certified.back().polynomial, certified.back().interval);
  check_band(certified, final_image, margin, v.diagnostics);
  check_monotone(certified, v.diagnostics);
  check_progress(certified, bits, v.diagnostics);
  std::stable_sort(v.diagnostics.begin(), v.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.step < b.step; });

  if (options.target_error && !(finite(*options.target_error) && *options.target_error >= 0)) {
    throw std::invalid_argument("target error " + shown(*options.target_error) + " is not a finite number >= 0");
  }
  const Real target = options.target_error.value_or(v.schedule.final_error);
  if (finite(target)) {
    v.smallest_lower = search_lower(chain, upper, at_precision(target, work));
  } else {
    // The chain overflows MPFR's exponent range: no l reaches an infinite
    // error's "target" in any meaningful sense.
    v.smallest_lower.outcome = LowerSearch::Outcome::kUnreachable;
    v.smallest_lower.target_error = target;
    v.smallest_lower.failing = upper;
    v.smallest_lower.failing_error = target;
  }

  // The norm used to normalise can miss the top singular value either way:
  // too small lets values exceed u (rounding of a bf16 norm, a stale
  // estimate); too large shrinks the whole interval.
  const std::vector<std::pair<std::string, Interval>> perturbed{
      {"upper x 1.01", {lower, upper * Real(101) / 100}},
      {"upper x 1.02", {lower, upper * Real(102) / 100}},
      {"all / 1.01", {lower * 100 / Real(101), upper * 100 / Real(101)}},
      {"all / 1.02", {lower * 100 / Real(102), upper * 100 / Real(102)}},
      {"lower / 10", {lower / 10, upper}},
      {"lower / 100", {lower / 100, upper}},
  };
  for (const auto& [label, input] : perturbed) {
    const Interval error = final_error_on(chain, input);
    v.perturbations.push_back({label, input, detail::outward::midpoint(error), error});
  }
  if (options.rounding) {
    v.rounding = certify_rounding(v.schedule.steps, schedule.normalization, v.schedule.input, *options.rounding, bits);
  }
  return v;
}

std::string to_json(const Verification& verification, const std::optional<Real>& expect_error) {
  return verification_object(verification, expect_error).dump(2) + "\n";
}

std::string to_json(const std::vector<Verification>& verifications, const std::optional<Real>& expect_error) {
  Json doc;
  doc["schema"] = kVerificationListSchema;
  Json list = Json::array();
  for (const Verification& v : verifications) list.push_back(verification_object(v, expect_error));
  doc["verifications"] = list;
  return doc.dump(2) + "\n";
}

}  // namespace polar_express
