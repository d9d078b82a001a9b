#pragma once
// The schedule as the runtime sees it: plain doubles, no solver, no MPFR.
// C++17 and the standard library only, so that generated headers and CUDA
// translation units compiled with -std=c++17 can include it.
#include "polar_express/runtime/vocabulary.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace polar_express::runtime {

// One odd polynomial p(x) = c0 x + c1 x^3 + ... + c_{q-1} x^{2q-1}.
struct Step {
  int degree = 5;
  std::vector<double> coefficients;  // q = (degree + 1) / 2 values, increasing power
};

// The shared vocabulary (vocabulary.hpp) under the runtime's names.
using polar_express::AfterList;
using polar_express::ElementType;
using polar_express::Normalization;
using polar_express::NormalizationKind;

// What verification proved about the numbers a schedule's list runs with,
// for a matrix whose singular values, once normalised, lie in [lower,
// upper]: for t = 1.. the bound on max |1 - f_t(x)| over x in [lower, upper]
// is error_bounds[t - 1] for the list's doubles (what an f64 run multiplies
// by) and float_error_bounds[t - 1] for their floats (each double rounded to
// the nearest float, what every f32, f16 and bf16 run multiplies by).  Either
// list may stop short of the list's end, or be empty.
struct Certificate {
  double lower = 0;
  double upper = 0;
  std::vector<double> error_bounds;
  std::vector<double> float_error_bounds;
};

struct Schedule {
  std::string name;
  std::vector<Step> steps;
  Normalization normalization;
  AfterList after_list = AfterList::kRepeatLast;
  std::optional<Certificate> certificate;

  // The polynomial applied at step t (0-based), past the list's end by
  // after_list.  Throws std::out_of_range for t < 0 or an empty list.
  const Step& step(int t) const;

  // The certified bound on max |1 - sigma| after `steps` steps of a run on
  // matrices of `element` (f64 runs the doubles, the others their floats),
  // for steps within the certified list; nullopt otherwise.
  std::optional<double> error_bound(int steps, ElementType element = ElementType::kF64) const;
};

// Throws std::invalid_argument naming the first problem: no steps, an even
// or < 3 degree, a coefficient count that is not (degree + 1) / 2, a
// non-finite coefficient, factor <= 0 or eps < 0 (or either not finite), a
// certificate whose interval is not 0 < lower <= upper or whose bounds are
// not finite and non-negative, or more bounds of either kind than steps.
void validate(const Schedule& schedule);

// A schedule from a table in the shape codegen emits: any range whose
// elements have `.degree` and `.coefficients[k]` for k < (degree + 1) / 2,
// e.g. std::array<OddPolynomialStep<double, Q>, T>.  Validated.
template <class Range>
Schedule schedule_from_table(const Range& table, Normalization normalization,
                             AfterList after_list = AfterList::kRepeatLast, std::string name = {}) {
  Schedule schedule;
  schedule.name = std::move(name);
  schedule.normalization = normalization;
  schedule.after_list = after_list;
  for (const auto& entry : table) {
    Step step;
    step.degree = static_cast<int>(entry.degree);
    const int count = step.degree >= 1 ? (step.degree + 1) / 2 : 0;
    for (int k = 0; k < count; ++k) step.coefficients.push_back(static_cast<double>(entry.coefficients[k]));
    schedule.steps.push_back(std::move(step));
  }
  validate(schedule);
  return schedule;
}

// A shipped or emitted schedule from its generated header: a table
// (`<ident>`, doubles, or `<ident>_f32`, floats) and its information
// (`<ident>_info`: name, normalisation, after_list and, for each table, the
// certificate of every step).  The certificate is that of the numbers the
// table holds: for the double table its own bounds and, for the floats of
// its doubles, the float table's (codegen rounds the float table from the
// doubles); for the float table the float table's bounds for both.
// Validated.
template <class Table, class Info>
Schedule schedule_from_generated(const Table& table, const Info& info) {
  Schedule schedule = schedule_from_table(
      table, {info.normalization_factor, info.normalization_eps, parse_normalization_kind(info.normalization_kind)},
      parse_after_list(info.after_list), info.name);
  using Coefficient = std::remove_cv_t<std::remove_reference_t<decltype(table[0].coefficients[0])>>;
  constexpr bool floats = std::is_same_v<Coefficient, float>;
  Certificate certificate;
  certificate.lower = info.input_lower_value;
  certificate.upper = info.input_upper_value;
  for (const auto& step : info.steps) {
    certificate.error_bounds.push_back(floats ? step.error_bound_f32_value : step.error_bound_value);
    certificate.float_error_bounds.push_back(step.error_bound_f32_value);
  }
  schedule.certificate = certificate;
  validate(schedule);
  return schedule;
}

// What happened to one matrix of a batch.
enum class MatrixStatus : int {
  kOk = 0,
  kZero = 1,       // the input was all zeros: the output is all zeros
  kNonFinite = 2,  // the input held a NaN or an infinity: the output is all NaN
  kDiverged = 3,   // the iteration left the finite range, or ended too large (iterate_diverged,
                   // vocabulary.hpp): no polar-factor estimate; the output is all NaN
};

// "ok", "zero", "non-finite input", "diverged".
const char* to_string(MatrixStatus status);

// Whether a status means the output is a polar-factor estimate (ok or zero).
inline bool succeeded(MatrixStatus status) {
  return status == MatrixStatus::kOk || status == MatrixStatus::kZero;
}

}  // namespace polar_express::runtime
