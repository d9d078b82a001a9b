#pragma once
// Code generation: a schedule turned into files a consumer compiles or runs.
// Every target is a pure function of the schedule, so the bytes are the same
// on every machine and every run (no timestamps, paths or locale).
#include "polar_express/solver/schedule.hpp"

#include <string>
#include <vector>

namespace polar_express::codegen {

enum class Target {
  kCpp,    // <ident>.hpp: C++17 constexpr tables, standard library only
  kCuda,   // <ident>.cu (kernels specialised to the schedule) + <ident>_cuda.hpp (its factory)
  kJson,   // <ident>.json: schema polar-express/schedule/v1
  kTorch,  // <ident>.py: a self-contained PyTorch function
};

// "cpp", "cuda", "json", "torch"; parse throws std::invalid_argument naming
// the text and the accepted values.
Target parse_target(const std::string& text);
std::string to_string(Target target);

struct GeneratedFile {
  std::string name;  // a bare file name, e.g. "polar_express_paper_d5.hpp"
  std::string content;
};

// The schedule's name with '-' turned to '_'.  Throws std::invalid_argument
// when the result is not usable as a C++ and Python identifier (empty, a
// leading digit, a character outside [A-Za-z0-9_], a reserved spelling or a
// keyword of either language).
std::string identifier(const std::string& schedule_name);

// The schedule with every step's interval and certified error recomputed
// over its input interval (certify()), and final_error set from the last
// step: what the emitted metadata reports.
Schedule certified(Schedule schedule);

// The files of `target` for `schedule`, which is certified first.  Throws
// std::invalid_argument for a bad name, an empty schedule, or a coefficient
// that is not finite in the target's arithmetic.
std::vector<GeneratedFile> emit(const Schedule& schedule, Target target);

// The registry of several schedules for `target`, a header naming each
// schedule with what the runtime needs of it:
//   cpp  -> polar_express_registry.hpp: {name, the runtime::Schedule from its
//           tables and certificate} per schedule;
//   cuda -> polar_express_cuda_registry.hpp: {name, its kernel-set factory}.
// It includes each schedule's own `target` files, emitted beside it.  Throws
// std::invalid_argument for another target, no schedules, or two that share a
// name or an identifier.
GeneratedFile registry(const std::vector<Schedule>& schedules, Target target);

// The nearest double / float to `value` (ties to even), rounded once from the
// MPFR value (so the float is not double-rounded through a double).  Throws
// std::invalid_argument when the result is not finite.
double nearest_double(const Real& value);
float nearest_float(const Real& value);
// The smallest double >= `value` (a bound stays a bound); throws like
// nearest_double.
double double_rounded_up(const Real& value);

// Exact hexadecimal floating literal of a finite value, in the shape of C's
// %a ("0x1.8p+1", "-0x1.0cp-3", "0x0p+0"), computed from the bits so that it
// does not depend on the C library or its locale.  The float overload appends
// the 'f' suffix.
std::string hex_literal(double value);
std::string hex_literal(float value);

// The shortest decimal that reads back as `value` (as Python's repr prints
// it, always with a '.' or an exponent), for languages without hex literals.
std::string shortest_decimal(double value);

}  // namespace polar_express::codegen
