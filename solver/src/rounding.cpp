#include "polar_express/solver/rounding.hpp"

#include "outward.hpp"
#include "polar_express/runtime/vocabulary.hpp"
#include "rounding_gram.hpp"
#include "rounding_step.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace polar_express {
namespace {

namespace iv = detail::outward;
using namespace detail::rounding;

std::string shown(const Real& v) { return to_decimal(v, 6); }

// max(1 - lower, upper - 1), rounded up.
Real error_of(const Interval& singular) {
  return larger(sub_up(Real(1), singular.lower), sub_up(singular.upper, Real(1)));
}

struct Normalised {
  Interval singular;
  Real relative;
  Real absolute;
};

// X0 = fl(G / fl(factor fl(||G||_F) + eps)): the scale within (1 +- nu) of
// 1 / (factor ||G||_F + eps) (the sum of k K squares in the accumulation
// format, its square root, the norm stored in the element type, the factor
// and eps each rounded), then every entry rounded.
Normalised normalise(const Model& model, const StepArithmetic& a, const Interval& input) {
  const std::int64_t terms = a.k * a.long_side;
  const Real& ua = a.accumulation.unit;
  Real sum_error;  // relative, of a sum of non-negative terms (each square rounded too)
  if (model.probabilistic()) {
    ErrorBound first;
    first.variance = mul_up(Real(static_cast<long long>(terms + 1)), mul_up(ua, ua));
    sum_error = add_up(model.norm(first, 2), model.remainder(terms + 1, Real(static_cast<long long>(terms)), ua));
  } else {
    sum_error = model.gamma(terms + 1, ua);
  }
  if (!(sum_error < 1)) throw std::invalid_argument("the norm's sum of squares has no error bound below 1 here");
  const Real one = 1;
  const Real us = a.storage.unit, ue = a.elementwise.unit;
  const Real above = mul_up(mul_up(sqrt_up(add_up(one, sum_error)), add_up(one, ua)),
                            mul_up(add_up(one, us), mul_up(add_up(one, ue), add_up(one, ue))));
  const Real below = mul_down(mul_down(sqrt_down(sub_down(one, sum_error)), sub_down(one, ua)),
                              mul_down(sub_down(one, us), mul_down(sub_down(one, ue), sub_down(one, ue))));
  Normalised n;
  n.relative = larger(sub_up(above, one), sub_up(one, below));
  if (!(n.relative < 1)) throw std::invalid_argument("the normalisation has no error bound below 1 here");
  // Each entry: g / largest * ratio in the accumulation format, then stored.
  Unit entry = a.storage;
  entry.unit = sub_up(mul_up(add_up(one, us), mul_up(add_up(one, ua), add_up(one, ua))), one);
  const Real top = div_up(input.upper, sub_down(one, n.relative));
  n.absolute = model.norm(round_rectangle(model, top, entry, a.k, a.long_side), a.k + a.long_side);
  Real bottom = sub_down(div_down(input.lower, add_up(one, n.relative)), n.absolute);
  if (!(bottom > 0)) bottom = 0;
  n.singular = {std::move(bottom), add_up(top, n.absolute)};
  return n;
}

// The largest x >= 0 (to a relative 2^-24) such that `top_after(x)` (the
// upper end after a step whose input reaches x) is at most `limit`; it
// grows with x.  Capped at 2^40.
template <class TopAfter>
Real band_before(const Real& limit, const TopAfter& top_after) {
  auto fits = [&](const Real& x) { return top_after(x) <= limit; };
  const Real cap = boost::multiprecision::ldexp(Real(1), 40);
  Real good = 0;
  Real bad = limit;
  if (fits(bad)) {
    good = bad;
    while (fits(bad)) {
      good = bad;
      bad *= 2;
      if (bad > cap) return cap;
    }
  } else {
    Real x = limit;
    for (int i = 0; i < 200 && !fits(x); ++i) x /= 2;
    if (!fits(x)) return Real(0);
    good = x;
  }
  const Real tolerance = boost::multiprecision::ldexp(Real(1), -24);
  while (bad - good > good * tolerance) {
    Real mid = (good + bad) / 2;
    if (fits(mid)) good = std::move(mid);
    else bad = std::move(mid);
  }
  return good;
}

}  // namespace

FloatFormat float_format(const std::string& name) {
  // TF32 is no element type of the runtime's, only the operands of the
  // tensor cores' fp32 products: its own row here.
  if (name == "tf32") return {name, 11, -126, 128};
  const ElementTypeInfo& type = info(parse_element_type(name));
  return {type.name, type.significand_bits, type.min_exponent, type.max_exponent};
}

std::string to_string(StepForm form) {
  switch (form) {
    case StepForm::kTorch: return "torch";
    case StepForm::kDirect: return "direct";
    case StepForm::kGram: return "gram";
  }
  return "direct";
}

StepForm parse_step_form(const std::string& text) {
  if (text == "torch") return StepForm::kTorch;
  if (text == "direct") return StepForm::kDirect;
  if (text == "gram") return StepForm::kGram;
  throw std::invalid_argument("form '" + text + "' is not torch, direct or gram");
}

std::string to_string(RoundingBound bound) {
  return bound == RoundingBound::kWorstCase ? "worst-case" : "probabilistic";
}

RoundingBound parse_rounding_bound(const std::string& text) {
  if (text == "worst-case") return RoundingBound::kWorstCase;
  if (text == "probabilistic") return RoundingBound::kProbabilistic;
  throw std::invalid_argument("rounding bound '" + text + "' is not worst-case or probabilistic");
}

Arithmetic arithmetic_for(const std::string& dtype, StepForm form) {
  const FloatFormat element = float_format(dtype);
  if (element.name == "tf32") throw std::invalid_argument("element type 'tf32' is not f64, f32, bf16 or f16");
  const bool half = element.significand_bits < 24;
  Arithmetic a;
  a.storage = element;
  a.accumulation = half ? float_format("f32") : element;
  a.coefficients = element.significand_bits >= 53 ? element : float_format("f32");
  a.side = form == StepForm::kGram && half ? float_format("f32") : element;
  if (form != StepForm::kGram) a.side = a.storage;
  a.side_operands = form == StepForm::kGram && half ? float_format("tf32") : a.side;
  return a;
}

void validate(const RoundingOptions& options) {
  float_format(options.dtype);
  if (options.dtype == "tf32") throw std::invalid_argument("element type 'tf32' is not f64, f32, bf16 or f16");
  constexpr std::int64_t kLargest = std::int64_t(1) << 30;
  if (options.rows < 1 || options.cols < 1 || options.rows > kLargest || options.cols > kLargest) {
    throw std::invalid_argument("shape " + std::to_string(options.rows) + "x" + std::to_string(options.cols) +
                                " is not two sides in [1, 2^30]");
  }
  if (options.bound == RoundingBound::kProbabilistic &&
      !(options.failure_probability > 0 && options.failure_probability < 1)) {
    throw std::invalid_argument("failure probability " + std::to_string(options.failure_probability) +
                                " is outside (0, 1)");
  }
  int previous = 0;
  for (int t : options.gram_restarts) {
    if (t <= previous) {
      throw std::invalid_argument("Gram restart before step " + std::to_string(t) + " is not increasing and positive");
    }
    previous = t;
  }
}

RoundingCertificate certify_rounding(const std::vector<ScheduleStep>& steps, const Normalization& normalization,
                                     const Interval& input, const RoundingOptions& options, unsigned precision_bits) {
  validate(options);
  if (normalization.kind == NormalizationKind::kAol) {
    throw std::invalid_argument(
        "the rounding model covers the Frobenius normalisation; the AOL rescaling's rounding is not modelled");
  }
  if (steps.empty()) throw std::invalid_argument("a rounding certificate needs at least one step");
  if (!options.gram_restarts.empty() && options.gram_restarts.back() >= static_cast<int>(steps.size())) {
    throw std::invalid_argument("Gram restart before step " + std::to_string(options.gram_restarts.back()) +
                                " is past the " + std::to_string(steps.size()) + " steps");
  }
  const unsigned work = certification_bits(precision_bits);
  PrecisionScope scope(work);
  const Interval in{at_precision(input.lower, work), at_precision(input.upper, work)};
  if (!iv::finite(in) || in.lower < 0 || in.upper < in.lower) {
    throw std::invalid_argument("interval [" + shown(in.lower) + ", " + shown(in.upper) +
                                "] is not finite with 0 <= lower <= upper");
  }

  RoundingCertificate cert;
  cert.options = options;
  cert.arithmetic = arithmetic_for(options.dtype, options.form);
  cert.k = std::min(options.rows, options.cols);
  cert.long_side = std::max(options.rows, options.cols);
  cert.input = in;
  const StepArithmetic a = step_arithmetic(cert.arithmetic, cert.k, cert.long_side);

  // Each step's polynomial, prepared once per distinct tuple.
  std::map<std::vector<Rational>, std::shared_ptr<const StepPolynomial>> prepared;
  std::vector<std::shared_ptr<const StepPolynomial>> chain;
  std::size_t widest = 2;
  for (const ScheduleStep& step : steps) {
    std::vector<Rational> exact = step.exact();
    auto& slot = prepared[exact];
    if (!slot) slot = std::make_shared<const StepPolynomial>(std::move(exact), work);
    chain.push_back(slot);
    widest = std::max(widest, slot->size());
  }
  // The run's failure budget, split evenly over every event it can use.
  const Real events = Real(static_cast<long long>((steps.size() + 1) * static_cast<std::size_t>(events_per_step(widest))));
  const Real budget = Real(options.failure_probability);
  const Model model(options.bound, options.bound == RoundingBound::kProbabilistic ? div_down(budget, events) : Real(1) / 2);

  // Every event the forward pass uses is one of the budget's (the band
  // below only re-evaluates the same products on other intervals).
  const std::size_t per_step = static_cast<std::size_t>(events_per_step(widest));
  auto check_events = [&](std::size_t used, std::size_t allowed) {
    if (used > allowed) throw std::logic_error("the rounding model used more events than its failure budget holds");
  };
  const Normalised n = normalise(model, a, in);
  check_events(model.events(), per_step);
  cert.normalised = n.singular;
  cert.normalisation_relative = n.relative;
  cert.normalisation_absolute = n.absolute;

  if (options.form == StepForm::kGram) {
    const std::size_t before = model.events();
    cert.steps = gram_chain(model, cert.arithmetic, a, chain, cert.normalised, options.gram_restarts);
    check_events(model.events() - before, per_step * steps.size());
  } else {
    const bool torch = options.form == StepForm::kTorch;
    Interval current = cert.normalised;
    for (const auto& p : chain) {
      const std::size_t before = model.events();
      const Interval exact = singular_image(p->odd(), current);
      const StepTerms terms =
          torch ? torch_step(model, a, *p, current, exact) : direct_step(model, a, *p, current, exact);
      cert.steps.push_back(rounded_step(exact, terms, current.upper));
      current = cert.steps.back().interval;
      check_events(model.events() - before, per_step);
    }
  }
  for (std::size_t t = 0; t < cert.steps.size(); ++t) {
    RoundedStep& r = cert.steps[t];
    r.error = error_of(r.interval);
    if (!cert.vanishing_step && !(r.interval.lower > 0)) cert.vanishing_step = static_cast<int>(t + 1);
  }

  cert.final_error = cert.steps.back().error;
  const bool blows_up = !(cert.steps.back().interval.upper <= kBlowUpTop);
  if (!options.band) {
    cert.input_band = 0;
    for (RoundedStep& r : cert.steps) r.band = 0;
    if (blows_up) {
      cert.blow_up_step = static_cast<int>(cert.steps.size());
      for (std::size_t t = 0; t < cert.steps.size(); ++t) {
        if (!(cert.steps[t].interval.upper <= kBlowUpTop)) {
          cert.blow_up_step = static_cast<int>(t + 1);
          break;
        }
      }
    }
    return cert;
  }
  // The band, backwards from kBlowUpTop after the last step: the largest
  // top before step t, with the lower end where the chain has it, from
  // which step t lands within the next band.  The Gram form's rounding
  // depends on the segment's history, so its band is that of the exact
  // steps.
  Real band = kBlowUpTop;
  for (std::size_t t = cert.steps.size(); t-- > 0;) {
    cert.steps[t].band = band;
    const StepPolynomial& p = *chain[t];
    const Real& bottom = t == 0 ? cert.normalised.lower : cert.steps[t - 1].interval.lower;
    band = band_before(band, [&](const Real& x) {
      const Interval singular{x < bottom ? x : bottom, x};
      const Interval exact = singular_image(p.odd(), singular);
      if (options.form == StepForm::kGram) return exact.upper;
      const StepTerms terms = options.form == StepForm::kTorch ? torch_step(model, a, p, singular, exact)
                                                               : direct_step(model, a, p, singular, exact);
      return widen(exact, terms, x).upper;
    });
  }
  cert.input_band = band;
  if (blows_up) {
    if (!(cert.normalised.upper <= cert.input_band)) {
      cert.blow_up_step = 0;
    } else {
      for (std::size_t t = 0; t < cert.steps.size(); ++t) {
        if (!(cert.steps[t].interval.upper <= cert.steps[t].band)) {
          cert.blow_up_step = static_cast<int>(t + 1);
          break;
        }
      }
      if (!cert.blow_up_step) cert.blow_up_step = static_cast<int>(cert.steps.size());
    }
  }
  return cert;
}

}  // namespace polar_express
