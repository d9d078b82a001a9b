#pragma once
// Plots of verified schedules through gnuplot: the composite polynomial
// f_T(x) over a log-scaled x, and the certified worst-case error per step.
#include "polar_express/solver/verify.hpp"

#include <string>
#include <utility>
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

// What other plots share with these.
// f_T(x) of each schedule (its steps as listed) on a dense log-spaced grid
// of x in [lo, hi]: a gnuplot data table, one column per schedule, headed
// "name (T=steps)".
std::string composite_data(const std::vector<const Schedule*>& schedules, const Real& lo, const Real& hi);
// A number as a data file cell ("NaN", a gap, when not finite).
std::string data_cell(double value);
// A quoted column header gnuplot's columnheader() reads.
std::string column_header(const std::string& name);
// Script lines every plot starts with: plain text, ten line colours, grid, key outside.
std::string script_preamble();
// The terminals every plot is drawn in, by file extension (svg, png).
const std::vector<std::pair<std::string, std::string>>& plot_terminals();
// Runs `gnuplot PREFIX.gp`; when gnuplot is missing or fails, says so on
// stderr, naming the data files that stay.
void run_gnuplot(const std::string& prefix, const std::vector<std::string>& data_files);

}  // namespace polar_express::cli
