#pragma once
// A design for the precision it runs in: the safety factor (and, unless the
// caller fixes it, the cushion) chosen from the rounding model instead of a
// fixed guess.
//
// The safety factor s makes every step but the last p(x / (1 + s)), which
// tolerates inputs up to (1 + s) times the top of the interval it was
// designed for.  Under the model the singular values before step t reach
// hi_t, above the exact chain's top u_t; so s must be at least
// max_t hi_t / u_t - 1 over the scaled steps, where hi_t itself depends on
// s.  The search iterates s <- that requirement from s = 0 until it holds
// (the requirement barely moves with s, so a few designs suffice), and the
// result must also not blow up under the model.  Among cushions (0 and a few
// of the published ones) it keeps the design with the smallest final error
// under the model.
#include "polar_express/solver/rounding.hpp"
#include "polar_express/solver/schedule.hpp"

#include <optional>
#include <vector>

namespace polar_express {

struct PrecisionDesignOptions {
  DesignOptions design;        // safety is chosen; cushion too unless cushion_fixed
  bool cushion_fixed = false;  // keep design.cushion
  RoundingOptions rounding;    // the element type, shape, form and bound
};

struct PrecisionCandidate {
  Real cushion;
  Real safety;
  Real final_error;  // under the model (infinite when it blows up)
  int steps = 0;
  bool blows_up = false;
};

struct PrecisionDesign {
  Schedule schedule;                 // designed with the chosen cushion and safety
  RoundingCertificate certificate;   // of that schedule under the model
  std::vector<PrecisionCandidate> candidates;  // every (cushion, steps) tried, the chosen one included
};

// The cushions tried when the caller does not fix one.
const std::vector<double>& precision_design_cushions();

// Steps: design.steps, or with design.target_error the fewest steps (from
// the exact design's count, up to kMaxDesignSteps) whose final error under
// the model meets it.  Throws std::invalid_argument for bad options and
// SolverError when no candidate stays in the safe band, or the target is
// below what the model allows in the steps tried.
PrecisionDesign design_for_precision(const PrecisionDesignOptions& options);

}  // namespace polar_express
