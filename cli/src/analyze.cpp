// polar-express analyze: the singular values of real gradient or momentum
// matrices as a schedule's normalisation scales them, each schedule's exact
// error on them, and a recommended lower bound and schedule (through plan).
#include "common.hpp"
#include "format.hpp"
#include "planning.hpp"
#include "plot.hpp"
#include "spectrum.hpp"
#include "tensor_file.hpp"

#include "polar_express/solver/catalogue.hpp"
#include "polar_express/solver/schedule_io.hpp"
#include "polar_express/solver/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

namespace polar_express::cli {
namespace {

inline constexpr const char* kAnalysisSchema = "polar-express/analysis/v1";
const std::vector<std::string> kDefaultSchedules{"polar-express-nanochat-d5", "polar-express-paper-d5",
                                                 "muon-jordan-ns5"};
const char* const kQuantiles[] = {"0.01", "0.1", "0.5", "0.9"};
// Tensors with more elements than this get a progress line on stderr.
constexpr std::uint64_t kProgressElements = std::uint64_t{1} << 22;
// Histogram bins per decade in the plot.
constexpr int kBinsPerDecade = 10;

struct AnalyzeArguments {
  std::string file;
  std::string normalization = to_string(NormalizationKind::kFrobenius);
  std::vector<std::string> schedules;
  std::string format = "table";
  std::string output;
  std::string plot;
  std::string candidates = "1e-4,1e-3,1e-2,1e-1";
  double quantile = 0.01;
  std::string target_error;
  std::string dtype = "bf16";
  std::string degrees = "3,5,7,9";
  int max_steps = 8;
  std::string algorithm = "auto";
  std::string cushion = "0.02";
  std::string safety = "0.02";
  std::string safety_mode = "inloop";
  unsigned precision = 256;
};

// A schedule to evaluate: its steps expanded to the count it runs.
struct Evaluated {
  std::string label;
  Schedule schedule;  // steps expanded
  Scaling scaling;
};

struct TensorResult {
  std::string name;
  std::vector<std::int64_t> shape;
  Shape matrices;
  std::vector<MatrixSpectrum> spectra;
};

struct Skipped {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string reason;
};

// What one tensor (or the pool of all) shows under one scaling.
struct Stats {
  std::size_t values = 0;
  std::size_t unresolved = 0;
  std::vector<double> sorted;  // resolved normalised singular values, ascending
  std::vector<ErrorSummary> errors;  // per evaluated schedule
};

std::vector<double> parse_candidates(const std::string& text, unsigned bits) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const double v = static_cast<double>(parse_number("--candidates", item, bits));
    if (!(v > 0 && v < 1)) throw UsageError("--candidates item '" + item + "' is outside (0, 1)");
    values.push_back(v);
  }
  if (values.empty()) throw UsageError("--candidates '" + text + "' names no value");
  return values;
}

Evaluated evaluated(const std::string& label, const Schedule& s, int steps) {
  Evaluated e{label, s, scaling_of(s)};
  e.schedule.steps = expand_steps(s, steps);
  return e;
}

Schedule load_named(const std::string& item, unsigned bits) {
  const std::vector<std::string>& names = builtin_names();
  if (std::find(names.begin(), names.end(), item) != names.end()) return builtin_schedule(item, bits);
  if (!std::filesystem::exists(item)) {
    throw UsageError("--schedule '" + item + "' is neither a built-in schedule nor a file");
  }
  return read_schedule_file(item, bits);
}

// The value rounded down to one significant digit (3.7e-3 -> 3e-3), the
// lower bound a recommendation states.
double round_down(double v) {
  const double scale = std::pow(10.0, std::floor(std::log10(v)));
  return std::max(1.0, std::floor(v / scale)) * scale;
}

std::string number(double v) { return fmt::format("{:.4g}", v); }

// The unit roundoff of a stored element type.
double roundoff(ElementType type) { return std::ldexp(1.0, -significand_bits(type)); }

class Analysis {
 public:
  explicit Analysis(const AnalyzeArguments& args) : args_(args) {}

  int run() {
    validate_arguments();
    for (const std::string& item : schedule_items()) {
      const Schedule s = load_named(item, args_.precision);
      evaluated_.push_back(evaluated(s.name, s, published_steps(s)));
    }
    bool need_aol = spectrum_scaling_.aol();
    for (const Evaluated& e : evaluated_) need_aol = need_aol || e.scaling.aol();
    read_tensors(need_aol);
    if (tensors_.empty()) throw UsageError("tensor file '" + args_.file + "' holds no matrix to analyse");
    recommend();
    std::vector<Stats> per_tensor;
    Stats overall;
    overall.errors.resize(all_evaluated().size());
    for (const TensorResult& t : tensors_) {
      per_tensor.push_back(stats(t));
      const Stats& s = per_tensor.back();
      overall.values += s.values;
      overall.unresolved += s.unresolved;
      overall.sorted.insert(overall.sorted.end(), s.sorted.begin(), s.sorted.end());
      for (std::size_t i = 0; i < s.errors.size(); ++i) overall.errors[i].add(s.errors[i]);
    }
    std::sort(overall.sorted.begin(), overall.sorted.end());
    const std::string text = args_.format == "json" ? json(per_tensor, overall).dump(2) + "\n" : table(per_tensor, overall);
    if (!args_.plot.empty()) write_plot(overall);
    write_output(args_.output, text);
    return kExitOk;
  }

 private:
  void validate_arguments() {
    if (args_.format != "table" && args_.format != "json") {
      throw UsageError("unknown format '" + args_.format + "' (expected table or json)");
    }
    try {
      spectrum_kind_ = parse_normalization_kind(args_.normalization);
    } catch (const std::invalid_argument& e) {
      throw UsageError("--" + std::string(e.what()));
    }
    if (!(args_.quantile > 0 && args_.quantile < 1)) {
      throw UsageError("--quantile " + number(args_.quantile) + " is outside (0, 1)");
    }
    check_precision(args_.precision);
    if (!args_.plot.empty()) check_plot_prefix(args_.plot);
    const unsigned bits = certification_bits(args_.precision);
    candidates_ = parse_candidates(args_.candidates, bits);

    request_.dtype = parse_dtype(args_.dtype);
    request_.algorithm = parse_algorithm(args_.algorithm);
    if (args_.max_steps < 1 || args_.max_steps > kMaxDesignSteps) {
      throw UsageError("--max-steps " + std::to_string(args_.max_steps) + " is outside [1, " +
                       std::to_string(kMaxDesignSteps) + "]");
    }
    request_.search.max_steps = args_.max_steps;
    DesignOptions& design = request_.search.design;
    design.degrees = parse_degree_list(args_.degrees);
    design.precision_bits = args_.precision;
    design.upper = Real(1);
    design.upper_text = "1";
    design.cushion = parse_number("--cushion", args_.cushion, bits);
    design.safety = parse_number("--safety", args_.safety, bits);
    design.safety_mode = parse_safety_mode(args_.safety_mode);
    design.cushion_text = args_.cushion;
    design.safety_text = args_.safety;
    if (args_.target_error.empty()) {
      // The accuracy nearly everyone trains with: nanochat's list on its own design interval.
      const std::string reference = "polar-express-nanochat-d5";
      Schedule nanochat = builtin_schedule(reference, args_.precision);
      certify(nanochat.steps, nanochat.input, args_.precision);
      design.target_error = nanochat.steps.back().error_after;
      target_source_ = "the certified error of " + reference + " on its design interval [" +
                       short_decimal(nanochat.input.lower) + ", 1]";
    } else {
      design.target_error = parse_number("--target-error", args_.target_error, bits);
      target_source_ = "--target-error";
    }
    design.lower = Real(args_.quantile);  // a placeholder until the spectrum is known
    validate(design);
    // Frobenius: the recommended schedule's own factor and eps.
    spectrum_scaling_ = spectrum_kind_ == NormalizationKind::kFrobenius
                            ? Scaling{design_normalization(design), design_normalization_text(design)}
                            : Scaling{{1, 0, spectrum_kind_}, info(spectrum_kind_).text};
  }

  std::vector<std::string> schedule_items() const {
    return args_.schedules.empty() ? kDefaultSchedules : args_.schedules;
  }

  void read_tensors(bool need_aol) {
    TensorFile file(args_.file);
    for (const TensorEntry& entry : file.tensors()) {
      const std::optional<Shape> matrices = matrices_of(entry.shape);
      if (!matrices) {
        skipped_.push_back({entry.name, entry.shape,
                            entry.elements == 0 ? "no elements" : "not a matrix (rank below 2): not orthogonalised"});
        continue;
      }
      if (entry.elements > kProgressElements) {
        std::cerr << "polar-express: analyze: " << entry.name << " (" << shape_text(*matrices) << ")\n";
      }
      const std::vector<double> values = file.read(entry);
      TensorResult t{entry.name, entry.shape, *matrices, {}};
      const std::int64_t size = matrices->rows * matrices->cols;
      for (std::int64_t b = 0; b < matrices->batch; ++b) {
        MatrixSpectrum m =
            matrix_spectrum(values.data() + b * size, matrices->rows, matrices->cols, roundoff(entry.kind), need_aol);
        if (m.largest == 0) {
          ++zero_matrices_;
          continue;
        }
        t.spectra.push_back(std::move(m));
      }
      if (!t.spectra.empty()) tensors_.push_back(std::move(t));
      else skipped_.push_back({entry.name, entry.shape, "all zero"});
    }
  }

  Stats stats(const TensorResult& t) const {
    Stats s;
    for (const MatrixSpectrum& m : t.spectra) {
      const std::vector<double> values = scaled_spectrum(m, spectrum_scaling_);
      s.sorted.insert(s.sorted.end(), values.begin(), values.end());
      s.unresolved += spectrum_scaling_.aol() ? m.aol_unresolved : m.unresolved;
    }
    s.values = s.sorted.size() + s.unresolved;
    std::sort(s.sorted.begin(), s.sorted.end());
    for (const Evaluated& e : all_evaluated()) {
      ErrorSummary total;
      for (const MatrixSpectrum& m : t.spectra) {
        total.add(schedule_errors(e.schedule.steps, e.schedule.precision_bits, scaled_spectrum(m, e.scaling)));
      }
      s.errors.push_back(total);
    }
    return s;
  }

  // The given schedules and, when there is one, the recommended.
  std::vector<Evaluated> all_evaluated() const {
    std::vector<Evaluated> all = evaluated_;
    if (recommended_) all.push_back(*recommended_);
    return all;
  }

  void recommend() {
    std::vector<double> pooled;
    for (const TensorResult& t : tensors_) {
      for (const MatrixSpectrum& m : t.spectra) {
        const std::vector<double> values = scaled_spectrum(m, spectrum_scaling_);
        pooled.insert(pooled.end(), values.begin(), values.end());
      }
    }
    std::sort(pooled.begin(), pooled.end());
    if (pooled.empty()) {
      no_recommendation_ = "no resolved singular values";
      return;
    }
    lower_ = round_down(lower_quantile(pooled, args_.quantile));
    DesignOptions& design = request_.search.design;
    design.lower = parse_real(fmt::format("{:.1e}", lower_), certification_bits(args_.precision));
    design.lower_text = fmt::format("{:.1e}", lower_);
    for (const TensorResult& t : tensors_) request_.shapes.push_back(t.matrices);
    try {
      plan_ = make_plan(request_);
    } catch (const SolverError& e) {
      no_recommendation_ = e.what();
      return;
    }
    Schedule& s = plan_->plan.schedule;
    if (spectrum_kind_ != NormalizationKind::kFrobenius) {
      s.normalization = spectrum_scaling_.normalization;
      s.normalization_text = spectrum_scaling_.text;
    }
    s.name += "-recommended";
    recommended_ = evaluated(s.name, s, static_cast<int>(s.steps.size()));
  }

  double fraction_below(const Stats& s, double l) const {
    const auto below = std::lower_bound(s.sorted.begin(), s.sorted.end(), l) - s.sorted.begin();
    return s.values ? static_cast<double>(below + static_cast<std::ptrdiff_t>(s.unresolved)) / static_cast<double>(s.values)
                    : 0.0;
  }

  nlohmann::ordered_json stats_json(const std::string& name, const nlohmann::ordered_json& shape, const Stats& s) const {
    nlohmann::ordered_json j;
    j["name"] = name;
    j["shape"] = shape;
    j["singular_values"] = s.values;
    j["unresolved_singular_values"] = s.unresolved;
    if (s.sorted.empty()) {
      j["sigma_min"] = nullptr;
      j["sigma_max"] = nullptr;
    } else {
      j["sigma_min"] = s.sorted.front();
      j["sigma_max"] = s.sorted.back();
      nlohmann::ordered_json q;
      for (const char* p : kQuantiles) q[p] = lower_quantile(s.sorted, std::stod(p));
      j["quantiles"] = q;
    }
    nlohmann::ordered_json below;
    for (double l : candidates_) below[fmt::format("{:g}", l)] = fraction_below(s, l);
    j["fraction_below"] = below;
    nlohmann::ordered_json schedules = nlohmann::ordered_json::array();
    const std::vector<Evaluated> all = all_evaluated();
    for (std::size_t i = 0; i < all.size(); ++i) {
      const ErrorSummary& e = s.errors[i];
      schedules.push_back({{"name", all[i].label},
                           {"steps", all[i].schedule.steps.size()},
                           {"normalization", all[i].scaling.text},
                           {"max_error", e.count ? nlohmann::ordered_json(static_cast<double>(e.max_error)) : nullptr},
                           {"mean_error", e.count ? nlohmann::ordered_json(e.mean()) : nullptr}});
    }
    j["schedules"] = schedules;
    return j;
  }

  nlohmann::ordered_json json(const std::vector<Stats>& per_tensor, const Stats& overall) const {
    nlohmann::ordered_json doc;
    doc["schema"] = kAnalysisSchema;
    doc["file"] = args_.file;
    doc["normalization"] = spectrum_scaling_.text;
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      nlohmann::ordered_json j = stats_json(tensors_[i].name, tensors_[i].shape, per_tensor[i]);
      j["matrices"] = shape_text(tensors_[i].matrices);
      tensors.push_back(j);
    }
    doc["tensors"] = tensors;
    doc["overall"] = stats_json("overall", nullptr, overall);
    nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
    for (const Skipped& s : skipped_) skipped.push_back({{"name", s.name}, {"shape", s.shape}, {"reason", s.reason}});
    doc["skipped"] = skipped;
    doc["zero_matrices"] = zero_matrices_;
    nlohmann::ordered_json r;
    if (no_recommendation_.empty()) {
      r["lower"] = lower_;
      r["quantile"] = args_.quantile;
      r["target_error"] = to_decimal(*request_.search.design.target_error, 17);
      r["target_source"] = target_source_;
      r["schedule"] = nlohmann::ordered_json::parse(to_json(plan_->plan.schedule));
      nlohmann::ordered_json plan = plan_json(*plan_);
      plan.erase("schedule");
      r["plan"] = plan;
    } else {
      r["lower"] = nullptr;
      r["schedule"] = nullptr;
      r["reason"] = no_recommendation_;
    }
    doc["recommendation"] = r;
    return doc;
  }

  std::string table(const std::vector<Stats>& per_tensor, const Stats& overall) const {
    std::size_t width = 8;
    for (const TensorResult& t : tensors_) width = std::max(width, t.name.size());
    std::string out = fmt::format("{}: {} tensors analysed", args_.file, tensors_.size());
    if (!skipped_.empty()) out += fmt::format(", {} skipped (not matrices, empty or all zero)", skipped_.size());
    out += fmt::format("\nsingular values in double, normalised as {}; those the stored dtype cannot resolve\n"
                       "(at most its unit roundoff times ||X||_F) counted apart as unresolved\n\n",
                       spectrum_scaling_.text);
    out += fmt::format("{:<{}} {:>14} {:>6} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10}", "tensor", width, "matrices",
                       "sv", "unres", "sigma_min", "q0.01", "q0.1", "q0.5", "sigma_max");
    for (double l : candidates_) out += fmt::format(" {:>7}", fmt::format("<{:g}", l));
    out += "\n";
    auto stats_row = [&](const std::string& name, const std::string& shape, const Stats& s) {
      std::string row = fmt::format("{:<{}} {:>14} {:>6} {:>5}", name, width, shape, s.values, s.unresolved);
      if (s.sorted.empty()) {
        row += fmt::format(" {:>10} {:>10} {:>10} {:>10} {:>10}", "-", "-", "-", "-", "-");
      } else {
        row += fmt::format(" {:>10} {:>10} {:>10} {:>10} {:>10}", number(s.sorted.front()),
                           number(lower_quantile(s.sorted, 0.01)), number(lower_quantile(s.sorted, 0.1)),
                           number(lower_quantile(s.sorted, 0.5)), number(s.sorted.back()));
      }
      for (double l : candidates_) row += fmt::format(" {:>6.1f}%", 100 * fraction_below(s, l));
      return row + "\n";
    };
    for (std::size_t i = 0; i < tensors_.size(); ++i) out += stats_row(tensors_[i].name, shape_text(tensors_[i].matrices), per_tensor[i]);
    out += stats_row("overall", "", overall);

    const std::vector<Evaluated> all = all_evaluated();
    out += "\nexact max |1 - f_T(sigma)| over each tensor's resolved singular values (mean below), each schedule\n"
           "on its own normalisation:\n";
    out += fmt::format("{:<{}}", "tensor", width);
    for (std::size_t i = 0; i < all.size(); ++i) out += fmt::format(" {:>12}", fmt::format("[{}]", i + 1));
    out += "\n";
    auto error_rows = [&](const std::string& name, const Stats& s) {
      std::string max_row = fmt::format("{:<{}}", name, width);
      std::string mean_row = fmt::format("{:<{}}", "", width);
      for (const ErrorSummary& e : s.errors) {
        max_row += fmt::format(" {:>12}", e.count ? number(static_cast<double>(e.max_error)) : "-");
        mean_row += fmt::format(" {:>12}", e.count ? "(" + number(e.mean()) + ")" : "");
      }
      return max_row + "\n" + mean_row + "\n";
    };
    for (std::size_t i = 0; i < tensors_.size(); ++i) out += error_rows(tensors_[i].name, per_tensor[i]);
    out += error_rows("overall", overall);
    for (std::size_t i = 0; i < all.size(); ++i) {
      out += fmt::format("[{}] {} (T={}, {})\n", i + 1, all[i].label, all[i].schedule.steps.size(), all[i].scaling.text);
    }

    out += "\nrecommendation: ";
    if (!no_recommendation_.empty()) return out + "none: " + no_recommendation_ + "\n";
    const DesignOptions& design = request_.search.design;
    const PlanReport& p = *plan_;
    const auto below = std::lower_bound(overall.sorted.begin(), overall.sorted.end(), lower_) - overall.sorted.begin();
    out += fmt::format("l = {:g} ({:.2f}% of the resolved singular values lie below it), target error {} ({})\n",
                       lower_, 100.0 * static_cast<double>(below) / static_cast<double>(overall.sorted.size()),
                       short_decimal(*design.target_error), target_source_);
    out += fmt::format("  {}: degrees {}, {} steps, {} on these shapes ({}, {}), certified error {} over [{:g}, 1]\n",
                       p.plan.schedule.name, comma_list(p.plan.degrees), p.plan.degrees.size(),
                       flop_text(p.cost.flops), p.cost.any_gram ? "Gram form where it pays" : "standard form",
                       to_string(request_.dtype), short_decimal(p.plan.schedule.final_error), lower_);
    for (const Baseline& b : p.baselines) {
      if (b.name == "polar-express-nanochat-d5") {
        out += fmt::format("  against {}: {} ({:.3f}x), certified error {} over [{:g}, 1]\n", b.name,
                           flop_text(b.cost.flops), b.cost.flops / p.cost.flops, short_decimal(b.final_error), lower_);
      }
    }
    out += "  (polar-express plan --shape ... --lower " + design.lower_text + " --target-error " +
           short_decimal(*design.target_error) + " --format json gives the schedule and every baseline)\n";
    return out;
  }

  void write_plot(const Stats& overall) const {
    if (overall.sorted.empty()) {
      std::cerr << "polar-express: analyze: no resolved singular values to plot\n";
      return;
    }
    const double lo = std::min(overall.sorted.front(), no_recommendation_.empty() ? lower_ : 1.0) / 2;
    const double decades = std::ceil(-std::log10(lo));
    const int bins = static_cast<int>(decades) * kBinsPerDecade;
    std::vector<std::vector<double>> columns;  // overall, then each tensor
    auto histogram = [&](const std::vector<double>& sorted) {
      std::vector<double> counts(static_cast<std::size_t>(bins), 0.0);
      for (double v : sorted) {
        const int bin = static_cast<int>(std::floor((std::log10(v) + decades) * kBinsPerDecade));
        counts[static_cast<std::size_t>(std::clamp(bin, 0, bins - 1))] += 1;
      }
      for (double& c : counts) c /= static_cast<double>(sorted.size());
      return counts;
    };
    columns.push_back(histogram(overall.sorted));
    std::string spectrum = "# fraction of the resolved normalised singular values per log bin (polar-express analyze)\n\"x\" " +
                           column_header("all tensors");
    for (const TensorResult& t : tensors_) {
      std::vector<double> values;
      for (const MatrixSpectrum& m : t.spectra) {
        const std::vector<double> v = scaled_spectrum(m, spectrum_scaling_);
        values.insert(values.end(), v.begin(), v.end());
      }
      if (values.empty()) continue;
      columns.push_back(histogram(values));
      spectrum.append(" ").append(column_header(t.name));
    }
    spectrum += "\n";
    for (int i = 0; i < bins; ++i) {
      spectrum += data_cell(std::pow(10.0, (i + 0.5) / kBinsPerDecade - decades));
      for (const std::vector<double>& c : columns) {
        spectrum.append(" ").append(data_cell(c[static_cast<std::size_t>(i)]));
      }
      spectrum += "\n";
    }
    std::vector<Evaluated> all = all_evaluated();
    std::vector<const Schedule*> schedules;
    for (const Evaluated& e : all) schedules.push_back(&e.schedule);
    const std::string composite = composite_data(schedules, Real(lo), Real(1));

    const std::string& prefix = args_.plot;
    std::string script = "# Draws the analyze plot: gnuplot " + prefix + ".gp\n" + script_preamble();
    for (const auto& [extension, terminal] : plot_terminals()) {
      script += fmt::format("\n{}\nset termoption noenhanced\nset output '{}-spectrum.{}'\n", terminal, prefix, extension);
      script += "set logscale x\nset format x '%.0e'\nset xrange [" + data_cell(lo) + ":1]\n";
      script += "set ylabel 'f_T(x)'\nset y2label 'fraction of singular values per bin'\nset ytics nomirror\n"
                "set y2tics\nset y2range [0:*]\nset style fill transparent solid 0.25 noborder\n";
      script += "set xlabel 'x: normalised singular value (" + spectrum_scaling_.text + "; log scale)'\n";
      script += "set title 'singular values of " + std::filesystem::path(args_.file).filename().string() +
                " and the composite polynomial of each schedule'\n";
      script += fmt::format("plot '{0}-spectrum.dat' using 1:2 axes x1y2 with boxes lc rgb '#888888' title columnheader(2), \\\n"
                            "     for [i=3:{1}] '{0}-spectrum.dat' using 1:i axes x1y2 with steps lw 1 title columnheader(i), \\\n"
                            "     for [i=2:{2}] '{0}-composite.dat' using 1:i with lines title columnheader(i), \\\n"
                            "     1 with lines dt 2 lc rgb '#444444' lw 1 notitle\n",
                            prefix, columns.size() + 1, schedules.size() + 1);
      script += "unset output\n";
    }
    const std::filesystem::path path(prefix);
    const std::string base = path.filename().string();
    write_files(path.parent_path().string(), {{base + "-spectrum.dat", spectrum},
                                               {base + "-composite.dat", composite},
                                               {base + ".gp", script}});
    run_gnuplot(prefix, {prefix + "-spectrum.dat", prefix + "-composite.dat"});
  }

  const AnalyzeArguments& args_;
  std::vector<double> candidates_;
  PlanRequest request_;
  std::string target_source_;
  NormalizationKind spectrum_kind_ = NormalizationKind::kFrobenius;
  Scaling spectrum_scaling_;
  std::vector<Evaluated> evaluated_;
  std::vector<TensorResult> tensors_;
  std::vector<Skipped> skipped_;
  std::size_t zero_matrices_ = 0;
  double lower_ = 0;
  std::optional<PlanReport> plan_;
  std::optional<Evaluated> recommended_;
  std::string no_recommendation_;
};

}  // namespace

Command add_analyze_command(CLI::App& root) {
  auto args = std::make_shared<AnalyzeArguments>();
  CLI::App* app = root.add_subcommand(
      "analyze",
      "The singular values of real gradient or momentum matrices (a .safetensors file, read one tensor\n"
      "at a time, or a .npy file), computed in double and normalised as a schedule's normalisation\n"
      "scales them, and per tensor and overall: quantiles, the fraction below candidate lower bounds,\n"
      "and each schedule's exact max and mean |1 - f_T(sigma)| over them (f_T in MPFR).  Tensors:\n"
      "2-D (M, N) is one matrix, 3-D (B, M, N) a batch of B as the runtime batches, higher ranks\n"
      "(d0, d1, ...) one d0 x (d1 ...) matrix as Muon flattens convolution filters; 1-D tensors are\n"
      "skipped.  Singular values the stored dtype cannot resolve (at most its unit roundoff times\n"
      "||X||_F, by Weyl's inequality: zero for all the data can tell, typically a rank-deficient\n"
      "gradient's null space) are counted apart.  Recommends l (the --quantile of the pooled resolved\n"
      "spectrum, rounded down to one digit) and, through plan, the cheapest schedule reaching\n"
      "--target-error over [l, 1] on these matrices' shapes.  Bad files (truncated, a dtype other than\n"
      "F64/F32/F16/BF16, a huge header, non-finite values) exit 2 with one line.");
  app->add_option("file", args->file, "FILE.safetensors or FILE.npy")->required();
  app->add_option("--normalization", args->normalization,
                  "How the reported spectrum and the recommendation are normalised: frobenius\n"
                  "(X / (factor ||X||_F + eps), the recommended schedule's own factor and eps) or aol\n"
                  "(Turbo-Muon's rescaling as the runtime applies it: X / max|x|, then D X (tall: X D)\n"
                  "with D = diag(1/sqrt(sum_j |A_ij|)), A the short side's Gram matrix, a zero row left zero);\n"
                  "each schedule's errors always use that schedule's own normalisation")
      ->capture_default_str();
  app->add_option("--schedule", args->schedules,
                  "A built-in schedule name or a schedule file, repeatable (default: polar-express-nanochat-d5,\n"
                  "polar-express-paper-d5, muon-jordan-ns5); each runs its list length (a single tuple 5 times)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app->add_option("--format", args->format, "table or json (schema polar-express/analysis/v1)")->capture_default_str();
  app->add_option("--output", args->output, "Write to FILE instead of standard output (only on success)");
  app->add_option("--plot", args->plot,
                  "Also write PREFIX-spectrum.dat (histogram of the normalised singular values, log bins),\n"
                  "PREFIX-composite.dat (f_T of each schedule) and PREFIX.gp, and run gnuplot for\n"
                  "PREFIX-spectrum.svg/.png; without gnuplot, says so and keeps the data");
  app->add_option("--candidates", args->candidates, "Candidate lower bounds l for the fraction-below columns")
      ->capture_default_str();
  app->add_option("--quantile", args->quantile,
                  "Fraction of the resolved singular values the recommended l may leave below it")
      ->capture_default_str();
  app->add_option("--target-error", args->target_error,
                  "Certified error the recommended schedule must reach over [l, 1] (default: that of\n"
                  "polar-express-nanochat-d5 on [1e-3, 1], the accuracy most Muon runs use)");
  app->add_option("--dtype", args->dtype, "Element type the recommendation plans for (bf16, f16, f32, f64)")
      ->capture_default_str();
  app->add_option("--degrees", args->degrees, "Degrees the recommended schedule may use")->capture_default_str();
  app->add_option("--max-steps", args->max_steps, "Most steps the recommended schedule may have")->capture_default_str();
  app->add_option("--algorithm", args->algorithm, "auto, direct or gram, as plan takes it")->capture_default_str();
  app->add_option("--cushion", args->cushion, "Cushion of the recommended schedule (nanochat's by default)")
      ->capture_default_str();
  app->add_option("--safety", args->safety, "Safety factor of the recommended schedule (nanochat's by default)")
      ->capture_default_str();
  app->add_option("--safety-mode", args->safety_mode, "inloop or posthoc")->capture_default_str();
  app->add_option("--precision", args->precision, "MPFR precision in bits (64..65536)")->capture_default_str();
  return {app, [args] { return Analysis(*args).run(); }};
}

}  // namespace polar_express::cli
