#pragma once
// The one crossing between the solver's schedules (MPFR, exact rationals)
// and the runtime's (doubles), with the certificate of what runs.  The CLI
// and the Python extension both go through it; it depends on the solver and
// the runtime, and the runtime never depends on the solver.
#include "polar_express/runtime/schedule.hpp"
#include "polar_express/solver/schedule.hpp"

#include <string>
#include <vector>

namespace polar_express::bridge {

// The polynomials as runtime steps, each coefficient the double nearest its
// MPFR value; normalisation and after_list left at the runtime's defaults,
// no certificate.  For costing candidate chains, where the numbers only
// place the Gram iteration's restarts.
runtime::Schedule runtime_polynomials(const std::vector<OddPolynomial>& steps, const std::string& name);

// The runtime schedule of `schedule` (validated first): each coefficient the
// double nearest its exact value, its normalisation and after_list, and the
// certificate of exactly those numbers on its input interval (rounded
// inwards to doubles): for t = 1.. the rigorous bound after step t, rounded
// up, for the doubles and for their floats (solver rounded_to).  A list of
// bounds stops before the first step whose bound is no finite double (a
// schedule that diverges on its interval).
runtime::Schedule to_runtime(const Schedule& schedule);

// A runtime schedule as the solver's on `input`, at `precision_bits`: its
// coefficients exactly its doubles, for verifying what runs.
Schedule to_solver(const runtime::Schedule& schedule, const Interval& input, unsigned precision_bits);

}  // namespace polar_express::bridge
