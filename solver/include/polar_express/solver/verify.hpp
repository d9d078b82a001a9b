#pragma once
// Verification of any schedule: the exact image of [l, u] after each step,
// the certified worst-case error max |1 - f_t(x)| after every step, and the
// finite-precision diagnostics (safe band, monotonicity, stalls), the
// smallest l that reaches a target error, and the sensitivity to a wrong
// top singular value or lower bound.
#include "polar_express/solver/rounding.hpp"
#include "polar_express/solver/schedule.hpp"

#include <optional>
#include <string>
#include <vector>

namespace polar_express {

inline constexpr const char* kVerificationSchema = "polar-express/verification/v1";
inline constexpr const char* kVerificationListSchema = "polar-express/verification-list/v1";
inline constexpr int kMaxVerifySteps = 1000;

// The first `steps` polynomials of `schedule`, steps past the end of its
// list following its after_list rule (repeat_last: the last tuple again;
// cycle: the list from its start).  Intervals and errors are left for
// certify().  Throws std::invalid_argument for steps outside [1, kMaxVerifySteps].
std::vector<ScheduleStep> expand_steps(const Schedule& schedule, int steps);

struct VerifyOptions {
  std::optional<Real> lower;         // default: the schedule's input lower bound
  std::optional<Real> upper;         // default: the schedule's input upper bound (may exceed 1)
  std::optional<int> steps;          // default: the list length
  std::optional<Real> target_error;  // for the smallest-l search; default: the final error
  // The relative perturbation s a step must tolerate at the top of its
  // interval (rounding in bf16/fp16 matmuls, an under-estimated norm).
  Real band_margin = Real(1) / 100;
  // Also certify the precision the schedule runs in (rounding.hpp).
  std::optional<RoundingOptions> rounding;
};

enum class Severity { kNote, kWarning };

struct Diagnostic {
  Severity severity = Severity::kNote;
  // "sign_flip", "band_overshoot", "band_below", "non_monotone", "stall", "error_increase".
  std::string kind;
  int step = 0;          // 1-based; 0 for the schedule as a whole
  std::string message;   // one line
};

// The smallest lower bound l (with u and T fixed) whose error after T steps
// is proved to be at most `target_error` (its rigorous upper bound is).  The
// error over [l, u] is the maximum of |1 - f_T| over [l, u], so it can only
// grow as l falls: the l that reach the target form one interval [l*, u],
// and bisection on log l brackets l* with rigorous evaluations on both sides.
struct LowerSearch {
  enum class Outcome {
    kFound,        // l* in (failing, lower]; lower / failing <= 1 + kLowerSearchTolerance
    kBelowRange,   // even lower = u * kLowerSearchFloor reaches the target
    kUnreachable,  // even the single point x = u misses the target
  };
  Outcome outcome = Outcome::kFound;
  Real target_error;
  Real lower;         // proved: error over [lower, u] <= target (kFound, kBelowRange)
  Real lower_error;   // that error (best estimate)
  Real failing;       // not proved: the upper bound over [failing, u] exceeds target (kFound)
  Real failing_error; // that error (best estimate)
};
inline constexpr double kLowerSearchTolerance = 1e-4;
inline constexpr double kLowerSearchFloor = 1e-20;

// The certified final error when the input interval is off: the top
// singular value mis-estimated by 1% or 2% (under: inputs up to u * 1.01,
// u * 1.02; over: the whole interval divided by 1.01, 1.02) or the lower
// bound too optimistic (l / 10, l / 100).
struct Perturbation {
  std::string label;    // e.g. "upper x 1.01"
  Interval input;
  Real final_error;     // best estimate
  Interval final_error_enclosure;  // rigorous
};

struct Verification {
  // The schedule with its steps expanded to T and certified on `input`
  // (each step's interval and error_after, final_error).
  Schedule schedule;
  std::size_t list_length = 0;
  Real band_margin;
  std::vector<Diagnostic> diagnostics;
  LowerSearch smallest_lower;
  std::vector<Perturbation> perturbations;
  // With VerifyOptions::rounding: the steps under the rounding model, from
  // the same interval.
  std::optional<RoundingCertificate> rounding;
};

// Certifies `schedule` per `options` at the schedule's precision (images
// computed with guard bits above it, as certify() does).  Throws
// std::invalid_argument naming a bad interval, step count or target.
Verification verify_schedule(const Schedule& schedule, const VerifyOptions& options);

// JSON, schema polar-express/verification/v1: the schedule's identity, the
// input, the same "steps" list as design's JSON, final_error, the lower-bound
// search, the perturbations and the diagnostics, and "rounding" (the
// rounding certificate) when there is one.  `expect_error`, when given, is
// recorded with "passed".
std::string to_json(const Verification& verification, const std::optional<Real>& expect_error = std::nullopt);

// Several verifications in one document (schema
// polar-express/verification-list/v1, {"schema", "verifications": [...]}).
std::string to_json(const std::vector<Verification>& verifications,
                    const std::optional<Real>& expect_error = std::nullopt);

std::string to_string(Severity severity);

}  // namespace polar_express
