#include "long_work.hpp"

#include "common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>

namespace polar_express::cli {
namespace {

// Work shorter than this is silent.
constexpr double kQuietSeconds = 2;
// Progress lines at most this often while a step runs.
constexpr double kReportInterval = 10;

// Relative cost of one MPFR operation at `bits` (1 at a few hundred bits):
// fixed overhead below ~1000 bits, then GMP's Toom/FFT growth, fitted to
// Remez and certification timings from 330 to 8256 bits.
double operation_cost(unsigned bits) { return 1 + std::pow(bits / 1000.0, 1.6); }

double cubed_coefficients(int degree) {
  const double q = (degree + 1) / 2.0;
  return q * q * q;
}

}  // namespace

double estimated_remez_seconds(int degree, unsigned working_bits) {
  return 1.0e-5 * cubed_coefficients(degree) * operation_cost(working_bits);
}

double estimated_image_seconds(int degree, unsigned bits) {
  return 1.3e-6 * cubed_coefficients(degree) * operation_cost(bits);
}

double estimated_evaluation_seconds(int degree, unsigned bits) {
  return 2.0e-7 * ((degree + 1) / 2.0) * operation_cost(bits);
}

double estimated_certify_seconds(const Schedule& schedule, int steps) {
  constexpr int kWideSteps = 4;
  const unsigned bits = certification_bits(schedule.precision_bits);
  double seconds = 0;
  for (int t = 0; t < steps; ++t) {
    const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(t), schedule.steps.size() - 1);
    const int degree = schedule.steps[k].degree();
    const double image = estimated_image_seconds(degree, bits);
    seconds += t < kWideSteps ? image : image / ((degree + 1) / 2.0);
  }
  return seconds;
}

std::string describe_seconds(double seconds) {
  if (seconds < 90) return fmt::format("{:.0f} s", std::max(seconds, 1.0));
  if (seconds < 90 * 60) return fmt::format("{:.0f} min", seconds / 60);
  return fmt::format("{:.1f} h", seconds / 3600);
}

double parse_minutes(const std::string& text) {
  const Real value = parse_number("--max-minutes", text, 64);
  if (!(boost::multiprecision::isfinite(value) && value >= 0)) {
    throw UsageError("--max-minutes '" + text + "' is not a number of minutes >= 0 (0: no limit)");
  }
  return static_cast<double>(value);
}

LongWork::LongWork(std::string command, double limit_minutes)
    : command_(std::move(command)), limit_seconds_(limit_minutes * 60), start_(std::chrono::steady_clock::now()) {}

double LongWork::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void LongWork::expect(double estimated_seconds, const std::string& what) {
  if (limit_seconds_ > 0 && estimated_seconds > limit_seconds_) {
    throw UsageError(fmt::format("{}: {} is estimated at {}, beyond --max-minutes {:g}; ask for less (lower "
                                 "--precision, degree or steps) or raise --max-minutes (0: no limit)",
                                 command_, what, describe_seconds(estimated_seconds), limit_seconds_ / 60));
  }
  if (estimated_seconds > kQuietSeconds) {
    announced_ = true;
    std::cerr << fmt::format("polar-express: {}: {} is estimated at {}{}; progress follows (Ctrl-C stops it and "
                             "writes nothing)\n",
                             command_, what, describe_seconds(estimated_seconds),
                             limit_seconds_ > 0 ? fmt::format(" (stops at --max-minutes {:g})", limit_seconds_ / 60)
                                                : std::string());
  }
}

void LongWork::report(double now) {
  std::string line = fmt::format("polar-express: {}: {} elapsed", command_, describe_seconds(now));
  if (done_ > 0) line += total_ > 0 ? fmt::format(", {} of {} steps done", done_, total_)
                                    : fmt::format(", {} steps done", done_);
  std::cerr << line << '\n';
  last_report_ = now;
}

void LongWork::checkpoint() {
  const double now = elapsed();
  if (limit_seconds_ > 0 && now > limit_seconds_) {
    std::string done;
    if (done_ > 0) done = total_ > 0 ? fmt::format(" with {} of {} steps done", done_, total_)
                                     : fmt::format(" with {} steps done", done_);
    throw UsageError(fmt::format("{} stopped after {}, the --max-minutes limit{}; nothing is written (ask for less, "
                                 "or raise --max-minutes; 0: no limit)",
                                 command_, describe_seconds(now), done));
  }
  if (announced_ && now > kQuietSeconds && (last_report_ < 0 || now - last_report_ >= kReportInterval)) report(now);
}

void LongWork::progress(int done, int total) {
  done_ = done;
  total_ = total;
  const double now = elapsed();
  if (announced_ && now > kQuietSeconds && now - last_report_ >= 1) report(now);
}

}  // namespace polar_express::cli
