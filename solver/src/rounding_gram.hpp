#pragma once
// The rounding model of the runtime's Gram iteration (internal; solver/
// ROUNDING.md, section 5).  Between restarts the iterate is never formed:
// the model follows the virtual iterate X_t = Q_t X0 (the computed Q times
// the stored X0, exactly), the error of the computed A_t against
// X_t X_t^T (which the recursion A <- H (H A) lets grow by about ||H||^2
// per step) and the norm of Q; at a restart and at the end the stored
// iterate fl(fl(Q) X0) adds its own rounding.
#include "rounding_step.hpp"

#include <memory>
#include <vector>

namespace polar_express::detail::rounding {

// Every step of the chain from the normalised singular values; restarts as
// RoundingOptions::gram_restarts.  Fills each step's exact, interval,
// relative, perturbation, absolute and overflow.
std::vector<RoundedStep> gram_chain(const Model& model, const Arithmetic& arithmetic, const StepArithmetic& a,
                                    const std::vector<std::shared_ptr<const StepPolynomial>>& chain,
                                    const Interval& normalised, const std::vector<int>& restarts);

}  // namespace polar_express::detail::rounding
