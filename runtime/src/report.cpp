#include "polar_express/runtime/report.hpp"

#include <algorithm>

namespace polar_express::runtime {

void summarize(Report& report, const Schedule& schedule, int steps, ElementType element) {
  report.all_succeeded = std::all_of(report.status.begin(), report.status.end(), succeeded);
  const bool all_ok = std::all_of(report.status.begin(), report.status.end(),
                                  [](MatrixStatus s) { return s == MatrixStatus::kOk; });
  report.sigma_error_bound = all_ok ? schedule.error_bound(steps, element) : std::nullopt;
}

}  // namespace polar_express::runtime
