#pragma once
// The schedule as the runtime sees it: plain doubles, no solver, no MPFR.
// C++17 and the standard library only, so that generated headers and CUDA
// translation units compiled with -std=c++17 can include it.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace polar_express::runtime {

// One odd polynomial p(x) = c0 x + c1 x^3 + ... + c_{q-1} x^{2q-1}.
struct Step {
  int degree = 5;
  std::vector<double> coefficients;  // q = (degree + 1) / 2 values, increasing power
};

// How the input is scaled before the first step.
//   kFrobenius: X / (factor * ||X||_F + eps), so every singular value is at
//               most 1 / factor.
//   kAol:       D X with D = diag(1 / sqrt(sum_j |X X^T|_ij)) on the short
//               side (almost-orthogonal-layer rescaling, as Turbo-Muon uses
//               it), which also bounds every singular value by 1 (Gershgorin
//               on X X^T) and lifts the small ones; the Gram matrix it forms
//               is reused by the first step.  factor and eps are unused.
enum class NormalizationKind { kFrobenius, kAol };
struct Normalization {
  double factor = 1.0;
  double eps = 0.0;
  NormalizationKind kind = NormalizationKind::kFrobenius;
};

// What verification proved about a schedule's list: for t = 1..steps,
// error_bounds[t - 1] bounds max |1 - f_t(x)| over x in [lower, upper] from
// above (the rigorous bound codegen writes into the generated tables).  It
// holds for a matrix whose singular values, once normalised, lie in
// [lower, upper].
struct Certificate {
  double lower = 0;
  double upper = 0;
  std::vector<double> error_bounds;
};

// Steps past the end of the list: reuse the last one, or start the list again.
enum class AfterList { kRepeatLast, kCycle };

struct Schedule {
  std::string name;
  std::vector<Step> steps;
  Normalization normalization;
  AfterList after_list = AfterList::kRepeatLast;
  std::optional<Certificate> certificate;

  // The polynomial applied at step t (0-based), past the list's end by
  // after_list.  Throws std::out_of_range for t < 0 or an empty list.
  const Step& step(int t) const;

  // The certified bound on max |1 - sigma| after `steps` steps, for steps
  // within the certified list; nullopt otherwise.
  std::optional<double> error_bound(int steps) const;
};

// Throws std::invalid_argument naming the first problem: no steps, an even
// or < 3 degree, a coefficient count that is not (degree + 1) / 2, a
// non-finite coefficient, factor <= 0 or eps < 0 (or either not finite), a
// certificate whose interval is not 0 < lower <= upper or whose bounds are
// not finite and non-negative, or more bounds than steps.
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

// A shipped or emitted schedule from its generated header: the table
// (`<ident>`) and its information (`<ident>_info`: name, normalisation,
// after_list and the certificate of every step).  Validated.
template <class Table, class Info>
Schedule schedule_from_generated(const Table& table, const Info& info) {
  const std::string after_list = info.after_list;
  const std::string kind = info.normalization_kind;
  Schedule schedule = schedule_from_table(
      table,
      {info.normalization_factor, info.normalization_eps,
       kind == "aol" ? NormalizationKind::kAol : NormalizationKind::kFrobenius},
      after_list == "cycle" ? AfterList::kCycle : AfterList::kRepeatLast, info.name);
  Certificate certificate;
  certificate.lower = info.steps[0].lower_value;
  certificate.upper = info.steps[0].upper_value;
  for (const auto& step : info.steps) certificate.error_bounds.push_back(step.error_bound_value);
  schedule.certificate = certificate;
  validate(schedule);
  return schedule;
}

// What happened to one matrix of a batch.
enum class MatrixStatus : int {
  kOk = 0,
  kZero = 1,       // the input was all zeros: the output is all zeros
  kNonFinite = 2,  // the input held a NaN or an infinity: the output is all NaN
  kDiverged = 3,   // the iteration left the finite range, or ended with ||U||_F > 2 sqrt(k)
                   // (k = min(rows, cols)): no polar-factor estimate; the output is all NaN
};

// "ok", "zero", "non-finite input", "diverged".
const char* to_string(MatrixStatus status);

// Whether a status means the output is a polar-factor estimate (ok or zero).
inline bool succeeded(MatrixStatus status) {
  return status == MatrixStatus::kOk || status == MatrixStatus::kZero;
}

}  // namespace polar_express::runtime
