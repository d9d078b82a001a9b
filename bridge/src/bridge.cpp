#include "polar_express/bridge/bridge.hpp"

#include <cmath>
#include <cstdio>

namespace polar_express::bridge {
namespace {

// The steps of `schedule` as odd polynomials with exactly its doubles
// (exact at any precision of 53 bits or more).
std::vector<ScheduleStep> steps_of(const runtime::Schedule& schedule, unsigned bits) {
  std::vector<ScheduleStep> steps;
  for (const runtime::Step& step : schedule.steps) {
    ScheduleStep s;
    for (double c : step.coefficients) s.polynomial.coefficients.push_back(at_precision(Real(c), bits));
    steps.push_back(std::move(s));
  }
  return steps;
}

// The rigorous bound after each step of a certified schedule, rounded up to
// doubles, up to the first that is no finite double.
std::vector<double> bounds_of(const Schedule& certified) {
  std::vector<double> bounds;
  for (const ScheduleStep& step : certified.steps) {
    const double bound = to_double(step.error_enclosure.upper, Rounding::kUp);
    if (!std::isfinite(bound)) break;
    bounds.push_back(bound);
  }
  return bounds;
}

std::string shortest(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

}  // namespace

runtime::Schedule runtime_polynomials(const std::vector<OddPolynomial>& steps, const std::string& name) {
  runtime::Schedule s;
  s.name = name;
  for (const OddPolynomial& p : steps) {
    runtime::Step r;
    r.degree = p.degree();
    for (const Real& c : p.coefficients) r.coefficients.push_back(to_double(c, Rounding::kNearest));
    s.steps.push_back(std::move(r));
  }
  return s;
}

runtime::Schedule to_runtime(const Schedule& schedule) {
  validate(schedule);
  const Schedule doubles = rounded_to(schedule, ElementType::kF64);
  const Schedule floats = rounded_to(schedule, ElementType::kF32);
  runtime::Schedule s;
  s.name = schedule.name;
  s.normalization = schedule.normalization;
  s.after_list = schedule.after_list;
  for (const ScheduleStep& step : doubles.steps) {
    runtime::Step r;
    r.degree = step.degree();
    for (const Real& c : step.polynomial.coefficients) r.coefficients.push_back(to_double(c, Rounding::kNearest));
    s.steps.push_back(std::move(r));
  }
  runtime::Certificate certificate;
  certificate.lower = to_double(schedule.input.lower, Rounding::kUp);
  certificate.upper = to_double(schedule.input.upper, Rounding::kDown);
  certificate.error_bounds = bounds_of(doubles);
  certificate.float_error_bounds = bounds_of(floats);
  s.certificate = certificate;
  runtime::validate(s);
  return s;
}

Schedule to_solver(const runtime::Schedule& r, const Interval& input, unsigned precision_bits) {
  Schedule s;
  s.name = r.name;
  s.source = "polar_express: the double coefficients the runtime runs";
  s.normalization = r.normalization;
  s.normalization_text = r.normalization.kind == NormalizationKind::kFrobenius
                             ? "X / (" + shortest(r.normalization.factor) + " * ||X||_F + " +
                                   shortest(r.normalization.eps) + ")"
                             : info(r.normalization.kind).text;
  s.after_list = r.after_list;
  s.precision_bits = precision_bits;
  s.input = input;
  s.steps = steps_of(r, precision_bits);
  return s;
}

}  // namespace polar_express::bridge
