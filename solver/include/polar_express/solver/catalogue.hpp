#pragma once
// The published coefficient lists (shared/reference/published_schedules.json),
// compiled into the tool under the names used there.
#include "polar_express/solver/schedule.hpp"

#include <string>
#include <vector>

namespace polar_express {

// Names in catalogue order, e.g. "polar-express-paper-d5", "muon-jordan-ns5".
const std::vector<std::string>& builtin_names();

// The named list as a Schedule (name, source, normalization, after_list,
// steps' polynomials; the paper's raw list already safety-scaled).  Its
// `input` is [design lower or 1e-3, 1]; intervals and errors are left for
// certify().  Throws std::invalid_argument listing the known names.
Schedule builtin_schedule(const std::string& name, unsigned precision_bits = 256);

// The embedded published-list file, byte for byte as
// tests/data/published_schedules.json (a test checks that they agree).
const std::string& builtin_catalogue_json();

}  // namespace polar_express
