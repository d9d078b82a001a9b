// polar_express._core: the runtime (and the solver, when built) for the
// Python package; python/polar_express/ is the public face.
#include "bindings.hpp"

#include "polar_express/runtime/device.hpp"

NB_MODULE(_core, m) {
  m.doc() = "polar_express native core: schedules, the CPU and CUDA runtimes, and the MPFR solver";
  // Schedules held in module-level caches (functools.lru_cache, the operator
  // registry) outlive this module at interpreter exit, which nanobind would
  // report as leaks although nothing is lost.
  nanobind::set_leak_warnings(false);
  // A device backend that this build or machine cannot provide.  A
  // ValueError: the input names a device the package cannot run on here.
  nanobind::exception<polar_express::runtime::BackendUnavailable>(m, "BackendUnavailable", PyExc_ValueError);
  polar_express::python::bind_schedule(m);
  polar_express::python::bind_execute(m);
  polar_express::python::bind_program(m);
#if POLAR_EXPRESS_PYTHON_SOLVER
  polar_express::python::bind_solver(m);
#else
  m.attr("has_solver") = false;  // built without MPFR: no design, verify or schedule files
#endif
}
