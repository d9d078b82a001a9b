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

// The input is scaled to X / (factor * ||X||_F + eps) before the first step.
struct Normalization {
  double factor = 1.0;
  double eps = 0.0;
};

// Steps past the end of the list: reuse the last one, or start the list again.
enum class AfterList { kRepeatLast, kCycle };

struct Schedule {
  std::string name;
  std::vector<Step> steps;
  Normalization normalization;
  AfterList after_list = AfterList::kRepeatLast;

  // The polynomial applied at step t (0-based), past the list's end by
  // after_list.  Throws std::out_of_range for t < 0 or an empty list.
  const Step& step(int t) const;
};

// Throws std::invalid_argument naming the first problem: no steps, an even
// or < 3 degree, a coefficient count that is not (degree + 1) / 2, a
// non-finite coefficient, factor <= 0 or eps < 0 (or either not finite).
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

// What happened to one matrix of a batch.
enum class MatrixStatus : int {
  kOk = 0,
  kZero = 1,       // the input was all zeros: the output is all zeros
  kNonFinite = 2,  // the input held a NaN or an infinity: the output is all NaN
  kDiverged = 3,   // the iteration left the finite range: the output is all NaN
};

// "ok", "zero", "non-finite input", "diverged".
const char* to_string(MatrixStatus status);

// Whether a status means the output is a polar-factor estimate (ok or zero).
inline bool succeeded(MatrixStatus status) {
  return status == MatrixStatus::kOk || status == MatrixStatus::kZero;
}

}  // namespace polar_express::runtime
