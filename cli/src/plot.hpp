#pragma once
// Plots of verified schedules through gnuplot: the composite polynomial
// f_T(x) over a log-scaled x, and the certified worst-case error per step.
#include "polar_express/solver/verify.hpp"

#include <string>
#include <vector>

namespace polar_express::cli {

// Throws UsageError when PREFIX cannot name the plot files (its directory
// is missing, or it holds a quote or newline that a gnuplot script cannot
// carry).  Called before any work so that bad usage writes nothing.
void check_plot_prefix(const std::string& prefix);

// Writes PREFIX-composite.dat, PREFIX-errors.dat and PREFIX.gp, then runs
// `gnuplot PREFIX.gp`, which draws PREFIX-composite.{svg,png} and
// PREFIX-errors.{svg,png}.  When gnuplot is missing or fails, says so on
// stderr; the data files and the script stay for later use.
void write_plots(const std::string& prefix, const std::vector<Verification>& verifications);

}  // namespace polar_express::cli
