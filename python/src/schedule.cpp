// Schedules for Python: the runtime's catalogue and schedules made from
// coefficient lists, as immutable handles.
#include "bindings.hpp"

#include "polar_express/runtime/catalogue.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace nb = nanobind;

namespace polar_express::python {
namespace {

// The bits of a double in hex: distinct doubles give distinct text.
void append_bits(std::string& out, double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  char text[20];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  out += text;
  out += ',';
}

std::string content_key(const runtime::Schedule& s) {
  std::string key = std::to_string(s.name.size()) + ':' + s.name + '|';
  key += to_string(s.normalization.kind);
  key += '|';
  append_bits(key, s.normalization.factor);
  append_bits(key, s.normalization.eps);
  key += to_string(s.after_list);
  for (const runtime::Step& step : s.steps) {
    key += '|' + std::to_string(step.degree) + ':';
    for (double c : step.coefficients) append_bits(key, c);
  }
  if (s.certificate) {
    key += "|certificate:";
    append_bits(key, s.certificate->lower);
    append_bits(key, s.certificate->upper);
    for (double e : s.certificate->error_bounds) append_bits(key, e);
    key += "|floats:";
    for (double e : s.certificate->float_error_bounds) append_bits(key, e);
  }
  return key;
}

// A schedule from coefficient lists in increasing power (x, x^3, ...): a
// list of q values is the odd polynomial of degree 2q - 1.
ScheduleHandle from_coefficients(const std::vector<std::vector<double>>& coefficients, double factor, double eps,
                                 const std::string& normalization, const std::string& after_list,
                                 const std::string& name) {
  runtime::Schedule s;
  s.name = name;
  s.normalization = {factor, eps, parse_normalization_kind(normalization)};
  s.after_list = parse_after_list(after_list);
  for (std::size_t t = 0; t < coefficients.size(); ++t) {
    if (coefficients[t].size() < 2) {
      throw std::invalid_argument("step " + std::to_string(t + 1) + " has " + std::to_string(coefficients[t].size()) +
                                  " coefficient(s); an odd polynomial step needs at least 2 (degree 3)");
    }
    s.steps.push_back({2 * static_cast<int>(coefficients[t].size()) - 1, coefficients[t]});
  }
  return make_handle(std::move(s));
}

// The same schedule with another normalisation eps (the certificate does not
// depend on it: it is stated for the normalised singular values).
ScheduleHandle with_eps(const ScheduleHandle& handle, double eps) {
  runtime::Schedule s = handle.schedule;
  s.normalization.eps = eps;
  return make_handle(std::move(s));
}

}  // namespace

ScheduleHandle make_handle(runtime::Schedule schedule) {
  runtime::validate(schedule);
  ScheduleHandle handle{std::move(schedule), {}};
  handle.key = content_key(handle.schedule);
  return handle;
}

void bind_schedule(nb::module_& m) {
  using Handle = ScheduleHandle;
  nb::class_<Handle>(m, "ScheduleHandle", "A validated runtime schedule (immutable)")
      .def_prop_ro("name", [](const Handle& h) { return h.schedule.name; })
      .def_prop_ro("key", [](const Handle& h) { return h.key; })
      .def_prop_ro("degrees",
                   [](const Handle& h) {
                     std::vector<int> degrees;
                     for (const runtime::Step& s : h.schedule.steps) degrees.push_back(s.degree);
                     return degrees;
                   })
      .def_prop_ro("coefficients",
                   [](const Handle& h) {
                     std::vector<std::vector<double>> all;
                     for (const runtime::Step& s : h.schedule.steps) all.push_back(s.coefficients);
                     return all;
                   })
      .def_prop_ro("normalization", [](const Handle& h) { return to_string(h.schedule.normalization.kind); })
      .def_prop_ro("normalization_factor", [](const Handle& h) { return h.schedule.normalization.factor; })
      .def_prop_ro("eps", [](const Handle& h) { return h.schedule.normalization.eps; })
      .def_prop_ro("after_list", [](const Handle& h) { return to_string(h.schedule.after_list); })
      .def_prop_ro("certificate",
                   [](const Handle& h)
                       -> std::optional<std::tuple<double, double, std::vector<double>, std::vector<double>>> {
                     if (!h.schedule.certificate) return std::nullopt;
                     const runtime::Certificate& c = *h.schedule.certificate;
                     return std::make_tuple(c.lower, c.upper, c.error_bounds, c.float_error_bounds);
                   })
      .def("error_bound", [](const Handle& h, int steps) { return h.schedule.error_bound(steps); }, nb::arg("steps"));

  m.def("element_types", [] {
    std::vector<std::tuple<std::string, std::string, int, int>> types;
    for (const ElementTypeInfo& t : kElementTypes) types.emplace_back(t.name, t.array_name, t.bits, t.significand_bits);
    return types;
  }, "(name, array name, bits, significand bits) of every element type (vocabulary.hpp)");
  m.def("builtin_names", &runtime::builtin_names, "Names of the built-in (catalogue) schedules, in catalogue order");
  m.def("builtin_schedule", [](const std::string& name) { return make_handle(runtime::builtin_schedule(name)); },
        nb::arg("name"));
  m.def("schedule_from_coefficients", &from_coefficients, nb::arg("coefficients"), nb::arg("normalization_factor"),
        nb::arg("eps"), nb::arg("normalization"), nb::arg("after_list"), nb::arg("name"));
  m.def("with_eps", &with_eps, nb::arg("handle"), nb::arg("eps"));
}

}  // namespace polar_express::python
