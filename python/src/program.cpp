// The iteration program (runtime/program.hpp) for Python: the very operation
// list the native backends run for a shape, schedule, step count and
// backend traits, so that the torch and JAX backends interpret it instead of
// restating the iteration.
#include "bindings.hpp"

#include "polar_express/runtime/cpu.hpp"
#include "polar_express/runtime/device.hpp"
#include "polar_express/runtime/program.hpp"

#include <nanobind/operators.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;

namespace polar_express::python {
namespace {

// A buffer's name (program.hpp's to_string), None for kNone.
std::optional<std::string> buffer_name(runtime::Buffer b) {
  if (b == runtime::Buffer::kNone) return std::nullopt;
  return std::string(runtime::to_string(b));
}

runtime::ProductMode parse_mode(const std::string& text, const char* what) {
  if (text == "auto") return runtime::ProductMode::kAuto;
  if (text == "off") return runtime::ProductMode::kOff;
  if (text == "on") return runtime::ProductMode::kOn;
  throw std::invalid_argument(std::string(what) + " '" + text + "' is not 'auto', 'off' or 'on'");
}

// The planning traits of the backend `device` ("cpu": the CPU runtime's;
// "cuda": the CUDA plan's, which other accelerators plan by too) for an
// iterate stored in `dtype` ("float64", "float32", "float16", "bfloat16").
// The backend's traits (its threshold for symmetric products) with `dtype`
// as the storage, whose significand bits set the Gram restart budget.
runtime::BackendTraits traits_for(const std::string& device, const std::string& dtype) {
  const runtime::ElementType element = parse_element_type(dtype);
  runtime::BackendTraits traits;
  if (device == "cpu") {
    traits = element == runtime::ElementType::kF64 ? runtime::cpu_traits<double>() : runtime::cpu_traits<float>();
  } else if (device == "cuda") {
    traits = runtime::cuda_traits(element == runtime::ElementType::kF64 ? runtime::ElementType::kF32 : element);
  } else {
    throw std::invalid_argument("device '" + device + "' is not 'cpu' or 'cuda'");
  }
  traits.storage = element;
  return traits;
}

// compile_program for `batch` matrices of rows x cols (packed), `steps`
// steps (0: the schedule's list once), the options' Gram and symmetric
// modes and restart interval, and the traits of (device, dtype).
runtime::Program compile(const ScheduleHandle& handle, std::int64_t batch, std::int64_t rows, std::int64_t cols,
                         int steps, const std::string& device, const std::string& dtype, const std::string& gram,
                         const std::string& symmetric, int restart_interval) {
  runtime::PlanOptions options;
  options.steps = steps;
  options.gram = parse_mode(gram, "gram");
  options.symmetric = parse_mode(symmetric, "symmetric");
  if (restart_interval < 0) {
    throw std::invalid_argument("restart_interval " + std::to_string(restart_interval) + " is negative");
  }
  options.gram_restart_interval = restart_interval;
  return runtime::compile_program({batch, rows, cols}, handle.schedule, options, traits_for(device, dtype));
}

}  // namespace

void bind_program(nb::module_& m) {
  using runtime::Operation;
  using runtime::Program;
  nb::class_<Operation>(m, "Operation", "One operation of an iteration program (runtime/program.hpp)")
      .def_prop_ro("kind", [](const Operation& op) { return std::string(runtime::to_string(op.kind)); },
                   "'normalise', 'gram', 'aol-scale', 'product', 'add-identity', 'apply' or 'store'")
      .def_ro("step", &Operation::step, "the schedule step (0-based), -1 for normalise, store and AOL's Gram")
      .def_prop_ro("dst", [](const Operation& op) { return buffer_name(op.dst); })
      .def_prop_ro("lhs", [](const Operation& op) { return buffer_name(op.lhs); })
      .def_prop_ro("rhs", [](const Operation& op) { return buffer_name(op.rhs); })
      .def_prop_ro("addend", [](const Operation& op) { return buffer_name(op.addend); })
      .def_ro("alpha", &Operation::alpha)
      .def_ro("beta", &Operation::beta)
      .def_ro("symmetric", &Operation::symmetric, "dst is symmetric (the native backends compute a triangle)")
      .def(nb::self == nb::self)
      .def(nb::self != nb::self);

  nb::class_<Program>(m, "Program", "A schedule compiled for one shape: the operations every backend runs")
      .def_prop_ro("batch", [](const Program& p) { return p.shape.batch; })
      .def_prop_ro("rows", [](const Program& p) { return p.shape.rows; })
      .def_prop_ro("cols", [](const Program& p) { return p.shape.cols; })
      .def_ro("steps", &Program::steps)
      .def_ro("wide", &Program::wide, "rows <= cols: k x k matrices multiply the iterate from the left")
      .def_prop_ro("short_side", &Program::short_side)
      .def_prop_ro("long_side", &Program::long_side)
      .def_prop_ro("gram", [](const Program& p) { return p.products.gram; }, "the Gram iteration runs")
      .def_prop_ro("restarts", [](const Program& p) { return p.products.restarts; },
                   "steps (0-based) before which the Gram iteration restarts")
      .def_prop_ro("symmetric", [](const Program& p) { return p.products.symmetric; })
      .def_prop_ro("normalization", [](const Program& p) { return std::string(to_string(p.normalization.kind)); })
      .def_prop_ro("normalization_factor", [](const Program& p) { return p.normalization.factor; })
      .def_prop_ro("eps", [](const Program& p) { return p.normalization.eps; })
      .def_ro("operations", &Program::operations)
      .def_prop_ro("buffers",
                   [](const Program& p) {
                     std::vector<std::string> names;
                     for (runtime::Buffer b : p.buffers()) names.emplace_back(runtime::to_string(b));
                     return names;
                   })
      .def("flops", &Program::flops, "matrix-multiply FLOPs of one execute over the batch, counted dense")
      .def("__str__", &Program::to_string);

  m.def("compile_program", &compile, nb::arg("schedule"), nb::arg("batch"), nb::arg("rows"), nb::arg("cols"),
        nb::arg("steps"), nb::arg("device"), nb::arg("dtype"), nb::arg("gram") = "auto",
        nb::arg("symmetric") = "auto", nb::arg("restart_interval") = 0);
  m.def("backend_traits",
        [](const std::string& device, const std::string& dtype) {
          const runtime::BackendTraits t = traits_for(device, dtype);
          return std::make_pair(significand_bits(t.storage), t.symmetric_from_k);
        },
        nb::arg("device"), nb::arg("dtype"), "(significand bits, k from which products are symmetric)");
}

}  // namespace polar_express::python
