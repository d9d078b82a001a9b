// The MPFR solver for Python: design, verification and the schedule-file
// reader.  Schedules cross to the runtime as the doubles it runs, and every
// certificate given to Python is computed for exactly those doubles.
#include "bindings.hpp"

#include "polar_express/bridge/bridge.hpp"
#include "polar_express/solver/schedule_io.hpp"
#include "polar_express/solver/verify.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;

namespace polar_express::python {
namespace {

// The runtime schedule of a solver schedule, with the certificate of
// exactly its doubles and their floats (bridge.hpp).
ScheduleHandle to_handle(const Schedule& s) { return make_handle(bridge::to_runtime(s)); }

void check_precision(unsigned bits) {
  if (bits < kMinPrecisionBits || bits > kMaxPrecisionBits) {
    throw std::invalid_argument("precision_bits " + std::to_string(bits) + " is outside [" +
                                std::to_string(kMinPrecisionBits) + ", " + std::to_string(kMaxPrecisionBits) + "]");
  }
}

Real number(const char* what, const std::string& text, unsigned bits) {
  try {
    return parse_real(text, bits);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string(what) + " '" + text + "' is not a number");
  }
}

// The solver sets MPFR's process-wide default precision, so calls take
// turns; other Python threads run meanwhile (the GIL is released).
std::mutex solver_mutex;

ScheduleHandle read_file(const std::string& path, unsigned precision_bits) {
  check_precision(precision_bits);
  nb::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(solver_mutex);
  return to_handle(read_schedule_file(path, precision_bits));
}

// The greedy chain (design_schedule), numbers given as decimal text so that
// 1e-3 means 1/1000 as on the command line.  Returns the runtime schedule
// and the solver's JSON (schema polar-express/schedule/v1).
std::pair<ScheduleHandle, std::string> design(const std::vector<int>& degrees, const std::string& lower,
                                              const std::string& upper, std::optional<int> steps,
                                              const std::optional<std::string>& target_error,
                                              const std::string& cushion, const std::string& safety,
                                              const std::string& safety_mode, unsigned precision_bits,
                                              const std::optional<std::string>& name) {
  check_precision(precision_bits);
  nb::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(solver_mutex);
  DesignOptions options;
  options.degrees = degrees;
  options.precision_bits = precision_bits;
  const unsigned bits = certification_bits(precision_bits);
  options.lower = number("lower", lower, bits);
  options.upper = number("upper", upper, bits);
  options.cushion = number("cushion", cushion, bits);
  options.safety = number("safety", safety, bits);
  options.lower_text = lower;
  options.upper_text = upper;
  options.cushion_text = cushion;
  options.safety_text = safety;
  options.safety_mode = parse_safety_mode(safety_mode);
  options.steps = steps;
  if (target_error) options.target_error = number("target_error", *target_error, bits);
  validate(options);
  Schedule schedule = design_schedule(options);
  if (name) schedule.name = *name;
  return {to_handle(schedule), to_json(schedule)};
}

// Verification of the doubles the runtime runs on [lower, upper]: JSON,
// schema polar-express/verification/v1; with `dtype`, also the rounding
// certificate for a rows x cols matrix in that element type ("rounding").
std::string verify(const ScheduleHandle& handle, const std::string& lower, const std::string& upper,
                   std::optional<int> steps, unsigned precision_bits, std::optional<std::string> dtype,
                   std::int64_t rows, std::int64_t cols) {
  check_precision(precision_bits);
  nb::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(solver_mutex);
  PrecisionScope scope(certification_bits(precision_bits));
  const unsigned bits = certification_bits(precision_bits);
  const Schedule schedule = bridge::to_solver(handle.schedule, {number("lower", lower, bits), number("upper", upper, bits)},
                                              precision_bits);
  VerifyOptions options;
  options.steps = steps;
  if (dtype) {
    RoundingOptions rounding;
    rounding.dtype = *dtype;
    rounding.rows = rows;
    rounding.cols = cols;
    validate(rounding);
    options.rounding = rounding;
  }
  return to_json(verify_schedule(schedule, options));
}

}  // namespace

void bind_solver(nb::module_& m) {
  m.attr("has_solver") = true;
  m.attr("precision_bits_range") = nb::make_tuple(kMinPrecisionBits, kMaxPrecisionBits);
  m.def("read_schedule_file", &read_file, nb::arg("path"), nb::arg("precision_bits"));
  m.def("design", &design, nb::arg("degrees"), nb::arg("lower"), nb::arg("upper"), nb::arg("steps").none(),
        nb::arg("target_error").none(), nb::arg("cushion"), nb::arg("safety"), nb::arg("safety_mode"),
        nb::arg("precision_bits"), nb::arg("name").none());
  m.def("verify", &verify, nb::arg("schedule"), nb::arg("lower"), nb::arg("upper"), nb::arg("steps").none(),
        nb::arg("precision_bits"), nb::arg("dtype").none(), nb::arg("rows"), nb::arg("cols"));
}

}  // namespace polar_express::python
