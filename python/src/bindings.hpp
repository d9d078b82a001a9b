#pragma once
// The pieces of the extension polar_express._core, one function per source
// file that adds its part to the module.
#include "polar_express/runtime/schedule.hpp"

#include <nanobind/nanobind.h>

#include <string>

namespace polar_express::python {

// A validated runtime schedule as Python holds it, with the key that
// identifies its content exactly (every field, doubles by their bits): two
// handles with one key run the same plan.
struct ScheduleHandle {
  runtime::Schedule schedule;
  std::string key;
};

// Validates `schedule` (std::invalid_argument, i.e. ValueError, naming the
// problem) and computes its key.
ScheduleHandle make_handle(runtime::Schedule schedule);

void bind_schedule(nanobind::module_& m);
void bind_execute(nanobind::module_& m);
void bind_program(nanobind::module_& m);
// Adds design, verify and read_schedule_file when the solver is built in
// (the module's attribute has_solver says which).
void bind_solver(nanobind::module_& m);

}  // namespace polar_express::python
