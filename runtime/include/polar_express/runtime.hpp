#pragma once
// The runtime in one include: its vocabulary, schedules (built in or from
// generated tables), iteration programs, the CPU backend, and the loadable
// accelerator backends.  C++17.
#include "polar_express/runtime/batch.hpp"
#include "polar_express/runtime/catalogue.hpp"
#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/cpu_info.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express/runtime/gram.hpp"
#include "polar_express/runtime/program.hpp"
#include "polar_express/runtime/report.hpp"
#include "polar_express/runtime/schedule.hpp"
#include "polar_express/runtime/vocabulary.hpp"
