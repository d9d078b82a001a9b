#pragma once
// What an execute of a plan produced, the same for every backend.  C++17.
#include "polar_express/runtime/schedule.hpp"

#include <optional>
#include <vector>

namespace polar_express::runtime {

struct Report {
  // One entry per matrix of the batch.
  std::vector<MatrixStatus> status;
  // <G, U> per matrix, PolarGrad's nuclear-norm estimate (NaN where the
  // status is not a success); empty unless PlanOptions::nuclear_norm.
  std::vector<double> nuclear_norms;
  // Every status is kOk or kZero.
  bool all_succeeded = false;
  // The schedule's certified bound on max |1 - sigma_i| for the steps run
  // and the numbers that ran (Schedule::error_bound), when every matrix is kOk (a zero matrix has no
  // singular values near 1).  It holds for matrices whose normalised
  // singular values lie in the certificate's interval.
  std::optional<double> sigma_error_bound;
};

// Fills all_succeeded and sigma_error_bound from the statuses of a plan of
// `schedule` run for `steps` steps on matrices of `element` (allocates
// nothing).
void summarize(Report& report, const Schedule& schedule, int steps, ElementType element);

}  // namespace polar_express::runtime
