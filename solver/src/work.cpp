#include "polar_express/solver/work.hpp"

namespace polar_express {
namespace {

WorkMonitor* current_monitor = nullptr;

}  // namespace

ScopedWorkMonitor::ScopedWorkMonitor(WorkMonitor& monitor) : previous_(current_monitor) {
  current_monitor = &monitor;
}

ScopedWorkMonitor::~ScopedWorkMonitor() { current_monitor = previous_; }

void work_checkpoint() {
  if (current_monitor != nullptr) current_monitor->checkpoint();
}

void work_progress(int done, int total) {
  if (current_monitor != nullptr) current_monitor->progress(done, total);
}

}  // namespace polar_express
