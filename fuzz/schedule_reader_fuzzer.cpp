// libFuzzer target for the schedule reader: any byte string must either
// parse or raise ScheduleFormatError (a std::invalid_argument); anything
// else (another exception, a crash, a sanitizer report) is a bug.  Parsed
// schedules are also certified for a few steps, which drives the interval
// image (root isolation) with arbitrary coefficients.
#include "polar_express/solver/schedule_io.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace polar_express;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Schedule schedule;
  try {
    schedule = parse_schedule(text, kMinPrecisionBits);
  } catch (const ScheduleFormatError&) {
    return 0;
  }
  // Bounded work per input: at most 3 steps of degree <= 15.
  if (schedule.steps.size() > 3) schedule.steps.resize(3);
  for (const ScheduleStep& step : schedule.steps) {
    if (step.degree() > 15) return 0;
  }
  certify(schedule.steps, schedule.input, schedule.precision_bits);
  return 0;
}
