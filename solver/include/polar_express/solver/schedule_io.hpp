#pragma once
// Schedules to and from JSON: this tool's schema (polar-express/schedule/v1)
// and the published-list format of shared/reference/published_schedules.json.
#include "polar_express/solver/schedule.hpp"

#include <string>

namespace polar_express {

inline constexpr const char* kScheduleSchema = "polar-express/schedule/v1";
// `polar-express plan --format json`: a plan whose "schedule" is a
// polar-express/schedule/v1 object; parse_schedule reads that schedule.
inline constexpr const char* kPlanSchema = "polar-express/plan/v1";

// A malformed schedule file or text; the message names what is wrong.
class ScheduleFormatError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The schedule as JSON (schema polar-express/schedule/v1): coefficients and
// intervals with all the decimal digits its precision supports, correctly
// rounded; 2-space indent, keys in the documented order, trailing newline.
std::string to_json(const Schedule& schedule);

// Parses this tool's JSON (a schedule, or a plan holding one) or one
// published-list object (with "steps", or "raw_steps" plus a posthoc
// "design", which are then safety-scaled).  The
// certified fields (interval, error_after) are left for certify().
// Throws ScheduleFormatError.
Schedule parse_schedule(const std::string& json_text, unsigned precision_bits);

// Reads and parses a file; a missing or unreadable file is a ScheduleFormatError too.
Schedule read_schedule_file(const std::string& path, unsigned precision_bits);

}  // namespace polar_express
