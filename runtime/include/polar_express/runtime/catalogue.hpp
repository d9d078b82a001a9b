#pragma once
// The published schedules built into the runtime: the catalogue of
// shared/reference/published_schedules.json, compiled from the tables
// codegen emitted into generated/ (coefficients correctly rounded to double,
// each with its certificate at the interval it was published for).  No
// solver, no MPFR.  C++17.
#include "polar_express/runtime/schedule.hpp"

#include <string>
#include <vector>

namespace polar_express::runtime {

// Names in catalogue order, e.g. "polar-express-paper-d5", "muon-jordan-ns5".
const std::vector<std::string>& builtin_names();

// The named schedule; throws std::invalid_argument listing the known names.
Schedule builtin_schedule(const std::string& name);

}  // namespace polar_express::runtime
