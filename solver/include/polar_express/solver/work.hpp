#pragma once
// Progress reports and limits for long solver work.
//
// Design and verification can run for minutes (high degrees, thousands of
// bits, narrow intervals, long lists).  The solver's inner loops (each Remez
// exchange, each Newton iteration of root isolation) call work_checkpoint(),
// and design_schedule() calls work_progress() after each step.  A caller
// installs a WorkMonitor to report progress or to stop the work: an
// exception thrown from a callback leaves the solver call that was running,
// which then has changed nothing its caller sees.  One monitor at a time
// (the solver is single-threaded: see real.hpp).
namespace polar_express {

class WorkMonitor {
 public:
  virtual ~WorkMonitor() = default;
  // Between two units of work (cheap: called up to millions of times).
  virtual void checkpoint() = 0;
  // `done` of `total` steps of a design are finished (total 0: not known).
  virtual void progress(int done, int total) = 0;
};

// Installs `monitor` for its lifetime, restoring the previous one after.
class ScopedWorkMonitor {
 public:
  explicit ScopedWorkMonitor(WorkMonitor& monitor);
  ~ScopedWorkMonitor();
  ScopedWorkMonitor(const ScopedWorkMonitor&) = delete;
  ScopedWorkMonitor& operator=(const ScopedWorkMonitor&) = delete;

 private:
  WorkMonitor* previous_;
};

// Calls the installed monitor, if any.
void work_checkpoint();
void work_progress(int done, int total);

}  // namespace polar_express
