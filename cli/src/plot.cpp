#include "plot.hpp"

#include "common.hpp"

#include "polar_express/solver/work.hpp"

#include <fmt/format.h>

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

extern char** environ;

namespace polar_express::cli {
namespace {

// f_T oscillates up to (d/2)^T times over [l, 1]; a dense grid keeps the
// drawn curve from aliasing for the usual T <= 10.
constexpr int kGridPoints = 20000;
// Errors below double precision's rounding say nothing a run can see, and
// would squash the rest of the plot: they are drawn at this floor.
constexpr double kErrorFloor = 1e-16;

}  // namespace

// gnuplot reads "NaN" as a missing point: overflowed values and zero errors
// (which a log axis cannot show) become gaps instead of plot errors.
std::string data_cell(double v) { return std::isfinite(v) ? fmt::format("{:.10g}", v) : "NaN"; }

std::string column_header(const std::string& name) {
  std::string text = name;
  std::replace(text.begin(), text.end(), '"', '\'');
  return fmt::format("\"{}\"", text);
}

std::string composite_data(const std::vector<const Schedule*>& all, const Real& lo, const Real& hi) {
  std::string out = "# composite polynomial f_T(x) of each schedule over log-spaced x (polar-express)\n\"x\"";
  for (const Schedule* s : all) {
    out += fmt::format(" {}", column_header(fmt::format("{} (T={})", s->name, s->steps.size())));
  }
  out += "\n";
  const double log_lo = std::log(static_cast<double>(lo));
  const double log_hi = std::log(static_cast<double>(hi));
  std::vector<std::string> rows(kGridPoints);
  for (int i = 0; i < kGridPoints; ++i) {
    rows[static_cast<std::size_t>(i)] = data_cell(std::exp(log_lo + (log_hi - log_lo) * i / (kGridPoints - 1)));
  }
  for (const Schedule* s : all) {
    PrecisionScope scope(certification_bits(s->precision_bits));
    for (int i = 0; i < kGridPoints; ++i) {
      work_checkpoint();
      Real y = std::exp(log_lo + (log_hi - log_lo) * i / (kGridPoints - 1));
      for (const ScheduleStep& step : s->steps) y = step.polynomial(y);
      rows[static_cast<std::size_t>(i)] += fmt::format(" {}", data_cell(static_cast<double>(y)));
    }
  }
  for (const std::string& row : rows) out += row + "\n";
  return out;
}

std::string script_preamble() {
  std::string out = "set termoption noenhanced\n";
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  for (int i = 0; i < 10; ++i) out += fmt::format("set linetype {} lc rgb '{}' lw 2\n", i + 1, colours[i]);
  out += "set linetype cycle 10\nset grid\nset key outside right top\n";
  return out;
}

const std::vector<std::pair<std::string, std::string>>& plot_terminals() {
  static const std::vector<std::pair<std::string, std::string>> terminals{
      {"svg", "set terminal svg size 1000,600 dynamic font 'sans,12' background rgb 'white'"},
      {"png", "set terminal pngcairo size 1000,600 font 'sans,11' background rgb 'white'"},
  };
  return terminals;
}

namespace {

std::string error_data(const std::vector<Verification>& all) {
  std::string out = "# certified worst-case error max |1 - f_t(x)| over the input interval after step t (polar-express verify)\n\"step\"";
  std::size_t longest = 0;
  for (const Verification& v : all) {
    out += fmt::format(" {}", column_header(v.schedule.name));
    longest = std::max(longest, v.schedule.steps.size());
  }
  out += "\n";
  for (std::size_t t = 0; t <= longest; ++t) {
    out += std::to_string(t);
    for (const Verification& v : all) {
      double e = NAN;
      if (t == 0) {
        e = static_cast<double>(distance_from_one(v.schedule.input));
      } else if (t <= v.schedule.steps.size()) {
        e = static_cast<double>(v.schedule.steps[t - 1].error_after);
      }
      out += fmt::format(" {}", data_cell(std::isnan(e) ? e : std::max(e, kErrorFloor)));
    }
    out += "\n";
  }
  return out;
}

std::string script(const std::string& prefix, std::size_t series, const Real& lo, const Real& hi) {
  const std::string n = std::to_string(series + 1);
  std::string out = "# Draws the verify plots: gnuplot " + prefix + ".gp\n";
  out += script_preamble();
  for (const auto& [extension, terminal] : plot_terminals()) {
    out += fmt::format("\n{}\nset termoption noenhanced\n", terminal);
    out += fmt::format("set output '{}-composite.{}'\n", prefix, extension);
    out += "unset logscale\nset logscale x\nset format x '%.0e'\nset format y '%g'\n";
    out += fmt::format("set xrange [{}:{}]\nset yrange [*:*]\n", data_cell(static_cast<double>(lo)), data_cell(static_cast<double>(hi)));
    out += "set title 'composite polynomial f_T(x) after the T steps of each schedule'\n";
    out += "set xlabel 'x: singular value of the normalised input (log scale)'\nset ylabel 'f_T(x)'\n";
    // The reference line y = 1 comes last so that each schedule keeps the
    // same colour in both plots.
    out += fmt::format("plot for [i=2:{}] '{}-composite.dat' using 1:i with lines title columnheader(i), \\\n"
                       "     1 with lines dt 2 lc rgb '#444444' lw 1 notitle\n",
                       n, prefix);
    out += fmt::format("set output '{}-errors.{}'\n", prefix, extension);
    out += "unset logscale\nset logscale y\nset format x '%g'\nset format y '%.0e'\n";
    out += "set xrange [*:*]\nset yrange [*:*]\nset xtics 1\n";
    out += "set title 'certified worst-case error after each step (clipped at 1e-16)'\n";
    out += "set xlabel 'step t (0: the input)'\nset ylabel 'max |1 - f_t(x)| on the input interval (log scale)'\n";
    out += fmt::format("plot for [i=2:{}] '{}-errors.dat' using 1:i with linespoints pt 7 ps 0.7 title columnheader(i)\n",
                       n, prefix);
    out += "set xtics autofreq\nunset output\n";
  }
  return out;
}

}  // namespace

void check_plot_prefix(const std::string& prefix) {
  if (prefix.empty()) throw UsageError("--plot needs a file prefix, e.g. --plot out/jordan");
  if (prefix.find_first_of("'\"\n\r") != std::string::npos) {
    throw UsageError("--plot prefix '" + prefix + "' contains a quote or newline");
  }
  const std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw UsageError("--plot directory '" + parent.string() + "' does not exist");
  }
  if (std::filesystem::path(prefix).filename().empty()) {
    throw UsageError("--plot prefix '" + prefix + "' names a directory, not a file prefix");
  }
}

void write_plots(const std::string& prefix, const std::vector<Verification>& verifications) {
  Real lo = verifications.front().schedule.input.lower;
  Real hi = verifications.front().schedule.input.upper;
  for (const Verification& v : verifications) {
    if (v.schedule.input.lower < lo) lo = v.schedule.input.lower;
    if (v.schedule.input.upper > hi) hi = v.schedule.input.upper;
  }
  // The composite is drawn up to 1 at least, the top of a normalised input.
  if (hi < 1) hi = 1;
  std::vector<const Schedule*> schedules;
  for (const Verification& v : verifications) schedules.push_back(&v.schedule);
  const std::filesystem::path path(prefix);
  const std::string base = path.filename().string();
  write_files(path.parent_path().string(), {{base + "-composite.dat", composite_data(schedules, lo, hi)},
                                             {base + "-errors.dat", error_data(verifications)},
                                             {base + ".gp", script(prefix, verifications.size(), lo, hi)}});
  run_gnuplot(prefix, {prefix + "-composite.dat", prefix + "-errors.dat"});
}

void run_gnuplot(const std::string& prefix, const std::vector<std::string>& data_files) {
  std::string data;
  for (std::size_t i = 0; i < data_files.size(); ++i) {
    data += (i == 0 ? "" : i + 1 == data_files.size() ? " and " : ", ") + data_files[i];
  }
  const std::string script_path = prefix + ".gp";
  std::vector<char*> argv{const_cast<char*>("gnuplot"), const_cast<char*>(script_path.c_str()), nullptr};
  pid_t child = 0;
  const int spawned = ::posix_spawnp(&child, "gnuplot", nullptr, nullptr, argv.data(), environ);
  if (spawned != 0) {
    std::cerr << "polar-express: gnuplot " << (spawned == ENOENT ? "is not installed" : std::strerror(spawned))
              << ": wrote the data " << data << " and the script " << script_path
              << " (install gnuplot, e.g. Debian's gnuplot-nox, and run gnuplot " << script_path << ")\n";
    return;
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "polar-express: gnuplot failed on " << script_path << "; the data files " << data
              << " are written\n";
  }
}

}  // namespace polar_express::cli
