#pragma once
// Long solver work in a command (design, verify, emit): a rough estimate up front,
// progress on stderr for work estimated past a couple of seconds, and a time
// limit (--max-minutes) past which it stops with a message and exit 2.
// The command's output is written only after the work, so a stop (or
// Ctrl-C) leaves no output behind.
#include "polar_express/solver/schedule.hpp"
#include "polar_express/solver/work.hpp"

#include <chrono>
#include <string>

namespace polar_express::cli {

class LongWork final : public WorkMonitor {
 public:
  // `command` names the work in messages; `limit_minutes` 0: no limit.
  LongWork(std::string command, double limit_minutes);

  // Estimated seconds of what is about to run, described by `what` ("the
  // first 3 of 8 steps of degree 63 at 4096 bits").  Refuses it (UsageError)
  // when the estimate passes the limit, and says on stderr when it passes a
  // couple of seconds.
  void expect(double estimated_seconds, const std::string& what);

  void checkpoint() override;
  void progress(int done, int total) override;

 private:
  double elapsed() const;
  void report(double now);

  std::string command_;
  double limit_seconds_;
  std::chrono::steady_clock::time_point start_;
  double last_report_ = -1;
  // Progress is reported only for work announced as long by expect(), so
  // that what a command prints does not depend on the machine's load.
  bool announced_ = false;
  int done_ = 0;
  int total_ = 0;
};

// The --max-minutes option's value: a decimal number >= 0.
double parse_minutes(const std::string& text);

// Rough seconds, on one core of the 2-core x86-64 machine they were measured
// on (bench/RESULTS.md), of one Remez solve of `degree` at `working_bits`
// (remez_working_bits()), and of one interval image of a `degree` step at
// `bits` (certification), wide interval.  Cost grows as q^3 (q = (degree+1)/2)
// times an MPFR operation's cost at that precision.
double estimated_remez_seconds(int degree, unsigned working_bits);
double estimated_image_seconds(int degree, unsigned bits);
// One evaluation of a `degree` step at `bits` (q multiply-adds).
double estimated_evaluation_seconds(int degree, unsigned bits);

// Rough seconds of certify() over the first `steps` steps of `schedule`
// (past its list, the last step repeated: an estimate needs no more).  The
// first steps map wide intervals, whose images isolate every critical point
// (q^3); once the chain has converged an image isolates few (about q^2).
double estimated_certify_seconds(const Schedule& schedule, int steps);

// A duration for messages: "40 s", "12 min", "3.5 h".
std::string describe_seconds(double seconds);

}  // namespace polar_express::cli
