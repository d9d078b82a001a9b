#pragma once
// Shared by the reader and the compiled-in catalogue: the whole published
// file (shared/reference/published_schedules.json, {"about": ..., "schedules":
// [...]}) parsed into schedules, so that a built-in list and the same list
// read from a file are parsed by the same code.
#include "polar_express/solver/schedule.hpp"

#include <string>
#include <vector>

namespace polar_express::detail {

// Every schedule of a published file, in file order.  Throws
// ScheduleFormatError naming the schedule and field at fault.
std::vector<Schedule> parse_published_file(const std::string& json_text, unsigned precision_bits);

}  // namespace polar_express::detail
