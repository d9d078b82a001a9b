// polar-express verify: the certified worst-case error of any schedule, the
// published catalogue side by side, diagnostics and plots.
#include "common.hpp"
#include "format.hpp"
#include "long_work.hpp"
#include "plot.hpp"
#include "rounding_options.hpp"

#include "polar_express/bridge/bridge.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/verify.hpp"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace polar_express::cli {
namespace {

struct VerifyArguments {
  ScheduleChoice schedule;  // --builtin all: every catalogued list
  std::string lower;
  std::string upper;
  std::optional<int> steps;
  std::string expect_error;
  std::string target_error;
  std::string margin = "0.01";
  unsigned precision = 256;
  std::string format = "table";
  std::string plot;
  std::string max_minutes = "10";
  RoundingArguments rounding;
};

// Rough seconds of verify_schedule() on `steps` steps of `s`: about 30
// passes over the chain (the certificate, the diagnostics, the bisection for
// the smallest lower bound, six perturbed intervals); the plots evaluate the
// composite at 20000 points.
double estimated_verify_seconds(const Schedule& s, int steps, bool plot, bool rounding) {
  constexpr int kPasses = 30;
  // The rounding certificate: the forward chain and each step's band, about
  // 60 passes of one step over a wide interval (a bisection).
  constexpr int kRoundingPasses = 70;
  double seconds = (kPasses + (rounding ? kRoundingPasses : 0)) * estimated_certify_seconds(s, steps);
  if (plot) {
    for (int t = 0; t < steps; ++t) {
      const int degree = s.steps[std::min<std::size_t>(static_cast<std::size_t>(t), s.steps.size() - 1)].degree();
      seconds += 20000 * estimated_evaluation_seconds(degree, certification_bits(s.precision_bits));
    }
  }
  return seconds;
}

std::optional<Real> optional_number(const std::string& flag, const std::string& text, unsigned bits) {
  if (text.empty()) return std::nullopt;
  return parse_number(flag, text, bits);
}

std::string list_line(const Verification& v) {
  const std::size_t n = v.list_length;
  return fmt::format("list of {} step{}; past its end: {}", n, n == 1 ? "" : "s",
                     to_string(v.schedule.after_list));
}

std::string single_table(const Verification& v) {
  const Schedule& s = v.schedule;
  std::string out = fmt::format("schedule {}", s.name);
  if (!s.source.empty()) out += " (" + s.source + ")";
  out += "\n";
  out += fmt::format("normalization {}; {}\n", s.normalization_text.empty() ? "-" : s.normalization_text, list_line(v));
  out += fmt::format("certified on [{}, {}] over {} steps, {}-bit MPFR\n\n", short_decimal(s.input.lower),
                     short_decimal(s.input.upper), s.steps.size(), s.precision_bits);
  out += schedule_table(s);
  if (v.rounding) out += "\nwith rounding, " + rounding_table(*v.rounding) + "\n";

  const LowerSearch& l = v.smallest_lower;
  const std::string target = short_decimal(l.target_error, 6);
  switch (l.outcome) {
    case LowerSearch::Outcome::kFound:
      out += fmt::format("smallest lower bound reaching error {} in {} steps: l in ({}, {}] (error {} at {})\n", target,
                         s.steps.size(), short_decimal(l.failing), short_decimal(l.lower), short_decimal(l.lower_error),
                         short_decimal(l.lower));
      break;
    case LowerSearch::Outcome::kBelowRange:
      out += fmt::format("error {} in {} steps holds for every l >= {} (the bottom of the search)\n", target,
                         s.steps.size(), short_decimal(l.lower));
      break;
    case LowerSearch::Outcome::kUnreachable:
      out += fmt::format("error {} is out of reach in {} steps for any l: at x = {} alone the error is {}\n", target,
                         s.steps.size(), short_decimal(s.input.upper), short_decimal(l.failing_error));
      break;
  }
  out += "if the input interval is off (final error, rigorous upper bound):\n";
  for (const Perturbation& p : v.perturbations) {
    out += fmt::format("  {:<13} [{}, {}]: {}\n", p.label, short_decimal(p.input.lower), short_decimal(p.input.upper),
                       upper_bound(p.final_error_enclosure));
  }
  if (v.diagnostics.empty()) {
    out += fmt::format("no diagnostics (band margin {})\n", short_decimal(v.band_margin));
  } else {
    out += fmt::format("diagnostics (band margin {}):\n", short_decimal(v.band_margin));
    for (const Diagnostic& d : v.diagnostics) out += fmt::format("  {}: {}\n", to_string(d.severity), d.message);
  }
  return out;
}

std::string comparison_table(const std::vector<Verification>& all) {
  std::size_t longest = 0;
  std::size_t name_width = 8;
  for (const Verification& v : all) {
    longest = std::max(longest, v.schedule.steps.size());
    name_width = std::max(name_width, v.schedule.name.size());
  }
  const Schedule& first = all.front().schedule;
  std::string out = fmt::format("rigorous upper bound of the worst-case error max |1 - f_t(x)| over [{}, {}] after step t\n",
                                short_decimal(first.input.lower), short_decimal(first.input.upper));
  out += fmt::format("{:<{}}", "schedule", name_width);
  for (std::size_t t = 1; t <= longest; ++t) out += fmt::format(" {:>10}", t);
  out += fmt::format("  {:>8}\n", "warnings");
  std::optional<RoundingOptions> rounding;
  for (const Verification& v : all) {
    out += fmt::format("{:<{}}", v.schedule.name, name_width);
    for (const ScheduleStep& step : v.schedule.steps) out += fmt::format(" {:>10}", upper_bound(step.error_enclosure, 4));
    std::size_t warnings = 0;
    for (const Diagnostic& d : v.diagnostics) warnings += d.severity == Severity::kWarning;
    out += fmt::format("  {:>8}\n", warnings);
    if (v.rounding) rounding = v.rounding->options;
  }
  if (!rounding) return out;
  const RoundingOptions& o = *rounding;
  out += fmt::format("\nwith rounding in {} on {}x{} ({} form; {}): upper bound of max |1 - sigma| after step t\n",
                     o.dtype, o.rows, o.cols, to_string(o.form), bound_text(o));
  out += fmt::format("{:<{}}", "schedule", name_width);
  for (std::size_t t = 1; t <= longest; ++t) out += fmt::format(" {:>10}", t);
  out += fmt::format("  {:>8}\n", "blow-up");
  for (const Verification& v : all) {
    out += fmt::format("{:<{}}", v.schedule.name, name_width);
    if (!v.rounding) {
      out += "  (its AOL normalisation's rounding is not modelled)\n";
      continue;
    }
    for (const RoundedStep& step : v.rounding->steps) out += fmt::format(" {:>10}", short_decimal(step.error, 4));
    const std::optional<int>& b = v.rounding->blow_up_step;
    out += fmt::format("  {:>8}\n", b ? "step " + std::to_string(*b) : std::string("none"));
  }
  return out;
}

int run_verify(const VerifyArguments& args) {
  if (args.format != "table" && args.format != "json") {
    throw UsageError("unknown format '" + args.format + "' (expected table or json)");
  }
  check_precision(args.precision);
  check_schedule_choice(args.schedule);
  if (args.steps && (*args.steps < 1 || *args.steps > kMaxVerifySteps)) {
    throw UsageError("--steps " + std::to_string(*args.steps) + " is outside [1, " + std::to_string(kMaxVerifySteps) + "]");
  }
  if (!args.plot.empty()) check_plot_prefix(args.plot);

  const bool all = args.schedule.builtin == "all";
  std::vector<Schedule> schedules;
  if (all) {
    for (const std::string& name : builtin_names()) schedules.push_back(builtin_schedule(name, args.precision));
  } else {
    schedules.push_back(load_schedule(args.schedule, args.precision));
    // Without --steps the list's own length is the step count.
    const std::size_t listed = schedules.front().steps.size();
    if (!args.steps && listed > static_cast<std::size_t>(kMaxVerifySteps)) {
      throw UsageError("schedule '" + schedules.front().name + "' lists " + std::to_string(listed) +
                       " steps, more than verify's limit of " + std::to_string(kMaxVerifySteps) +
                       "; give --steps T (at most " + std::to_string(kMaxVerifySteps) + ") to verify its first T steps");
    }
  }

  const unsigned bits = certification_bits(args.precision);
  VerifyOptions options;
  options.lower = optional_number("--lower", args.lower, bits);
  options.upper = optional_number("--upper", args.upper, bits);
  options.steps = args.steps;
  options.target_error = optional_number("--target-error", args.target_error, bits);
  options.band_margin = parse_number("--margin", args.margin, bits);
  const std::optional<Real> expect = optional_number("--expect-error", args.expect_error, bits);
  if (expect && !(boost::multiprecision::isfinite(*expect) && *expect >= 0)) {
    throw UsageError("--expect-error '" + args.expect_error + "' is not a finite number >= 0");
  }
  if (all) {
    // One table compares the lists on a common interval and step count.
    if (!options.lower) options.lower = parse_real("1e-3", bits);
    if (!options.upper) options.upper = Real(1);
    if (!options.steps) options.steps = 10;
  }

  const std::optional<RoundingOptions> rounding = parse_rounding(args.rounding);
  if (rounding && !all && schedules.front().normalization.kind == NormalizationKind::kAol) {
    throw UsageError("schedule '" + schedules.front().name +
                     "' normalises by AOL, whose rounding the model does not cover; --dtype certifies Frobenius-normalised schedules");
  }

  LongWork work("verify", parse_minutes(args.max_minutes));
  double estimate = 0;
  int longest = 0;
  for (const Schedule& s : schedules) {
    const int steps = options.steps.value_or(static_cast<int>(s.steps.size()));
    longest = std::max(longest, steps);
    estimate += estimated_verify_seconds(s, steps, !args.plot.empty(), rounding.has_value());
  }
  work.expect(estimate, fmt::format("{} of {} step{} at {} bits{}", all ? "every list" : "the certificate",
                                    longest, longest == 1 ? "" : "s", args.precision,
                                    args.plot.empty() ? "" : " with plots"));
  ScopedWorkMonitor monitor(work);
  std::vector<Verification> results;
  for (const Schedule& s : schedules) {
    VerifyOptions these = options;
    if (rounding && s.normalization.kind != NormalizationKind::kAol) {
      these.rounding = rounding;
      place_gram_restarts(*these.rounding, bridge::to_runtime(s), options.steps.value_or(static_cast<int>(s.steps.size())));
    }
    results.push_back(verify_schedule(s, these));
  }

  std::string text;
  if (args.format == "json") {
    text = all ? to_json(results, expect) : to_json(results.front(), expect);
  } else {
    text = all ? comparison_table(results) : single_table(results.front());
  }
  if (!args.plot.empty()) write_plots(args.plot, results);
  write_output("", text);

  int status = kExitOk;
  for (const Verification& v : results) {
    if (expect && !(v.schedule.final_error_enclosure.upper <= *expect)) {
      std::cerr << "polar-express: check failed: " << v.schedule.name << " ends at an error bound of "
                << upper_bound(v.schedule.final_error_enclosure, 10) << " > --expect-error " << args.expect_error
                << '\n';
      status = kExitCheckFailed;
    } else if (expect && v.rounding && !(v.rounding->final_error <= *expect)) {
      std::cerr << "polar-express: check failed: " << v.schedule.name << " ends at an error bound of "
                << short_decimal(v.rounding->final_error, 10) << " with rounding in " << v.rounding->options.dtype
                << " > --expect-error " << args.expect_error << '\n';
      status = kExitCheckFailed;
    }
  }
  return status;
}

}  // namespace

Command add_verify_command(CLI::App& root) {
  auto args = std::make_shared<VerifyArguments>();
  CLI::App* app = root.add_subcommand(
      "verify",
      "Certify a schedule: a rigorous enclosure of the image of [lower, upper] after each step (the\n"
      "endpoints and the critical points inside, the roots of p' isolated exactly in rational\n"
      "arithmetic, p evaluated in outward-rounded MPFR interval arithmetic) and so of the worst-case\n"
      "error max |1 - f_t(x)| after every step (tables show its upper bound; JSON adds\n"
      "\"error_enclosure\": [lower, upper]), with diagnostics for finite precision: steps that leave\n"
      "the safe band (an input a relative --margin above a step's interval must come back within\n"
      "--margin of the next interval's top and never change sign), steps not monotone on their\n"
      "interval, stalls, the smallest lower bound reaching --target-error, and the final error when\n"
      "the top singular value is off by 1% or 2% either way or the lower bound is 10x or 100x too high.\n"
      "Steps past the end of a list follow its after_list rule (repeat_last or cycle).\n"
      "With --dtype D --shape MxN, also the certificate for the precision it runs in: the interval carried\n"
      "through a model of every product's rounding (solver/ROUNDING.md), the error after each step with\n"
      "rounding, and whether a singular value can leave the safe band (blow up); --expect-error then\n"
      "checks that bound too.\n"
      "Exit 1 when --expect-error fails (the report and plots are still written).");
  app->add_option("schedule", args->schedule.file,
                  "Schedule JSON: polar-express/schedule/v1 (design --format json) or one published list\n"
                  "(an object of shared/reference/published_schedules.json, or such a file holding one)");
  app->add_option("--builtin", args->schedule.builtin,
                  "A compiled-in published list by name, or 'all' for one table of every list\n"
                  "(defaults there: --lower 1e-3 --upper 1 --steps 10)");
  app->add_option("--lower", args->lower, "Lower bound l > 0 (default: the schedule's design lower bound, else 1e-3)");
  app->add_option("--upper", args->upper, "Upper bound u > l, may exceed 1 (default: the schedule's, else 1)");
  app->add_option("--steps", args->steps, "Steps T, 1..1000 (default: the list length)")->transform(integer_text<int>());
  app->add_option("--expect-error", args->expect_error,
                  "Exit 1 unless the final error's rigorous upper bound is at most E");
  app->add_option("--target-error", args->target_error,
                  "Error E for the smallest-lower-bound search (default: --expect-error, else the final error)");
  app->add_option("--margin", args->margin, "Relative band margin s for the safe-band check, 0 < s < 1")
      ->capture_default_str();
  app->add_option("--precision", args->precision, "MPFR precision in bits (64..65536)")
      ->transform(integer_text<unsigned>())
      ->capture_default_str();
  app->add_option("--format", args->format, "table or json (schema polar-express/verification/v1)")
      ->capture_default_str();
  app->add_option("--max-minutes", args->max_minutes,
                  "Stop (exit 2, nothing written) once verification runs this long; refused up front when\n"
                  "its estimate is longer.  Progress goes to stderr past a couple of seconds.  0: no limit")
      ->capture_default_str();
  app->add_option("--plot", args->plot,
                  "Also write PREFIX-composite.dat (f_T(x) on log-spaced x in [l, max(u, 1)]), PREFIX-errors.dat\n"
                  "(error after each step) and PREFIX.gp, and run gnuplot on it for PREFIX-composite.svg/.png\n"
                  "and PREFIX-errors.svg/.png (log y); without gnuplot, says so and keeps the data.  The three\n"
                  "files are written all or none (regular files; links are followed)")
      ->transform(path_text());
  add_rounding_options(*app, args->rounding, true, true);
  return {app, [args] {
            VerifyArguments effective = *args;
            if (effective.target_error.empty()) effective.target_error = effective.expect_error;
            return run_verify(effective);
          }};
}

}  // namespace polar_express::cli
