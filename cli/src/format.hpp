#pragma once
// Human-readable and CSV renderings of a schedule's steps.
#include "polar_express/solver/schedule.hpp"

#include <string>

namespace polar_express::cli {

// One block per step: degree, the interval it maps, the rigorous upper bound
// of the error after it, and its coefficients to 17 significant digits
// (x, x^3, ...); then the final error, saying which numbers it is about
// (the MPFR coefficients, or the source's exact decimals) and, given the
// schedule rounded to doubles and certified (rounded_to), the bound of the
// doubles the runtime runs.
std::string schedule_table(const Schedule& schedule, const Schedule* doubles = nullptr);

// step,degree,lower,upper,error_after,c0,c1,...; full precision digits.
std::string schedule_csv(const Schedule& schedule);

// Short decimal for tables (`digits` significant digits).
std::string short_decimal(const Real& value, int digits = 6);

// An enclosure's upper end, rounded up to `digits` significant digits.
std::string upper_bound(const Interval& enclosure, int digits = 6);

}  // namespace polar_express::cli
