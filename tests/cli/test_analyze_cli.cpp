// `polar-express analyze` end to end: matrices with known singular values
// written as .npy and .safetensors (the expected errors computed here from
// the published coefficients in long double), the tensor layouts (batches,
// flattened filters, skipped vectors, rank-deficient ones), AOL, the tiny model's momentum buffers
// (tests/data/make_tiny_model.py) with a recommendation verify re-certifies,
// plots, and bad files: one line on stderr, exit 2, nothing written.
#include "cli_runner.hpp"

#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::read_text;
using polar_express::test::run_cli;
using polar_express::test::TempDir;
using polar_express::test::write_text;

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// U diag(sigma) V^T with U, V from Householder QR of Gaussian matrices.
RowMatrix with_spectrum(Eigen::Index rows, Eigen::Index cols, const std::vector<double>& sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const auto k = static_cast<Eigen::Index>(sigma.size());
  auto orthonormal = [&](Eigen::Index n) -> Eigen::MatrixXd {
    const Eigen::MatrixXd g = Eigen::MatrixXd::NullaryExpr(n, k, [&] { return normal(rng); });
    return Eigen::HouseholderQR<Eigen::MatrixXd>(g).householderQ() * Eigen::MatrixXd::Identity(n, k);
  };
  const Eigen::VectorXd s = Eigen::Map<const Eigen::VectorXd>(sigma.data(), k);
  return orthonormal(rows) * s.asDiagonal() * orthonormal(cols).transpose();
}

std::vector<double> logspace(double lowest, int n) {
  std::vector<double> s;
  for (int i = 0; i < n; ++i) s.push_back(std::pow(lowest, static_cast<double>(i) / (n - 1)));
  return s;
}

std::string raw_bytes(const void* data, std::size_t bytes) { return std::string(static_cast<const char*>(data), bytes); }

std::string f64_bytes(const RowMatrix& m) { return raw_bytes(m.data(), static_cast<std::size_t>(m.size()) * 8); }

std::string f32_bytes(const RowMatrix& m) {
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> f = m.cast<float>();
  return raw_bytes(f.data(), static_cast<std::size_t>(f.size()) * 4);
}

std::string npy(const std::string& descr, const std::vector<long>& shape, const std::string& data,
                bool fortran = false) {
  std::string dims;
  for (long d : shape) dims += std::to_string(d) + ", ";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': (" + dims + "), }";
  header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  return std::string("\x93NUMPY\x01\x00", 8) + raw_bytes(&length, 2) + header + data;
}

struct Entry {
  std::string name, dtype;
  std::vector<long> shape;
  std::string data;
};

std::string safetensors(const std::vector<Entry>& entries) {
  nlohmann::ordered_json header;
  std::string data;
  for (const Entry& e : entries) {
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.data.size()}}};
    data += e.data;
  }
  const std::string text = header.dump();
  const std::uint64_t length = text.size();
  return raw_bytes(&length, 8) + text + data;
}

// The published list's coefficients and normalisation.
struct Published {
  std::vector<std::vector<long double>> steps;
  double factor = 1, eps = 0;
};

Published published(const std::string& name, double factor, double eps) {
  const nlohmann::json doc = nlohmann::json::parse(read_text(std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json"));
  Published p{{}, factor, eps};
  for (const auto& s : doc["schedules"]) {
    if (s["name"] != name) continue;
    for (const auto& step : s["steps"]) p.steps.push_back(step.get<std::vector<long double>>());
  }
  REQUIRE(!p.steps.empty());
  return p;
}

// max and mean |1 - f_T(s / (factor ||s||_2 + eps))| in long double.
std::pair<double, double> expected_errors(const Published& p, int steps, const std::vector<double>& sigma) {
  long double norm = 0;
  for (double s : sigma) norm += static_cast<long double>(s) * s;
  norm = std::sqrt(norm);
  long double worst = 0, sum = 0;
  for (double s : sigma) {
    long double x = s / (p.factor * norm + p.eps);
    for (int t = 0; t < steps; ++t) {
      const auto& c = p.steps[std::min<std::size_t>(static_cast<std::size_t>(t), p.steps.size() - 1)];
      const long double y = x * x;
      long double h = 0;
      for (std::size_t j = c.size(); j-- > 0;) h = h * y + c[j];
      x *= h;
    }
    worst = std::max(worst, std::abs(1 - x));
    sum += std::abs(1 - x);
  }
  return {static_cast<double>(worst), static_cast<double>(sum / sigma.size())};
}

nlohmann::json analyze_json(const std::string& arguments) {
  const CliResult r = run_cli("analyze --format json " + arguments);
  INFO("analyze " << arguments << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

const nlohmann::json& schedule_entry(const nlohmann::json& tensor, const std::string& name) {
  for (const auto& s : tensor["schedules"]) {
    if (s["name"] == name) return s;
  }
  FAIL("no schedule " << name);
  return tensor;
}

}  // namespace

TEST_CASE("analyze: a matrix with known singular values gives the exact errors", "[cli][analyze]") {
  TempDir dir;
  const std::vector<double> sigma = logspace(3e-2, 48);
  write_text(dir.file("known.npy"), npy("<f8", {48, 80}, f64_bytes(with_spectrum(48, 80, sigma, 1))));
  const nlohmann::json doc = analyze_json(dir.file("known.npy") + " --schedule polar-express-nanochat-d5 --schedule muon-jordan-ns5");
  CHECK(doc["schema"] == "polar-express/analysis/v1");
  REQUIRE(doc["tensors"].size() == 1);
  const nlohmann::json& t = doc["tensors"][0];
  CHECK(t["name"] == "known");
  CHECK(t["matrices"] == "1x48x80");
  CHECK(t["singular_values"] == 48);
  CHECK(t["unresolved_singular_values"] == 0);

  // The spectrum as the recommendation's schedule (nanochat's devices: X / (1.02 ||X||_F + 1e-6)) scales it.
  long double norm = 0;
  for (double s : sigma) norm += static_cast<long double>(s) * s;
  const double scale = 1.0 / (1.02 * std::sqrt(static_cast<double>(norm)) + 1e-6);
  CHECK(t["sigma_min"].get<double>() == Approx(sigma.back() * scale).epsilon(1e-12));
  CHECK(t["sigma_max"].get<double>() == Approx(sigma.front() * scale).epsilon(1e-12));
  // The lower quantiles: the 1st, 5th (ceil(0.1 * 48)) and 24th smallest.
  CHECK(t["quantiles"]["0.01"].get<double>() == Approx(sigma[47] * scale).epsilon(1e-12));
  CHECK(t["quantiles"]["0.1"].get<double>() == Approx(sigma[43] * scale).epsilon(1e-12));
  CHECK(t["quantiles"]["0.5"].get<double>() == Approx(sigma[24] * scale).epsilon(1e-12));
  std::size_t below = 0;
  for (double s : sigma) below += s * scale < 1e-2;
  CHECK(t["fraction_below"]["0.01"].get<double>() == Approx(static_cast<double>(below) / 48));

  const auto [nano_max, nano_mean] = expected_errors(published("polar-express-nanochat-d5", 1.02, 1e-6), 5, sigma);
  const auto [jordan_max, jordan_mean] = expected_errors(published("muon-jordan-ns5", 1.0, 1e-7), 5, sigma);
  const nlohmann::json& nano = schedule_entry(t, "polar-express-nanochat-d5");
  const nlohmann::json& jordan = schedule_entry(t, "muon-jordan-ns5");
  CHECK(nano["steps"] == 5);
  CHECK(jordan["steps"] == 5);
  // The SVD's rounding (~1e-16 sigma_max) passes through f_T's slope (at most ~1e3).
  CHECK(nano["max_error"].get<double>() == Approx(nano_max).margin(1e-11));
  CHECK(nano["mean_error"].get<double>() == Approx(nano_mean).margin(1e-11));
  CHECK(jordan["max_error"].get<double>() == Approx(jordan_max).margin(1e-11));
  CHECK(jordan["mean_error"].get<double>() == Approx(jordan_mean).margin(1e-11));
  // One tensor: overall is the same.
  CHECK(schedule_entry(doc["overall"], "muon-jordan-ns5")["max_error"] == jordan["max_error"]);
  // And a recommendation: l is the 1% quantile rounded down to one digit.
  const double q = t["quantiles"]["0.01"];
  const double l = doc["recommendation"]["lower"];
  CHECK(l <= q);
  CHECK(l > q / 10);
  CHECK(doc["recommendation"]["schedule"]["schema"] == "polar-express/schedule/v1");
}

TEST_CASE("analyze: safetensors layouts, dtypes, batches, filters, vectors and zeros", "[cli][analyze]") {
  TempDir dir;
  const RowMatrix a = with_spectrum(24, 16, logspace(1e-1, 16), 2);
  const RowMatrix b0 = with_spectrum(16, 24, logspace(1e-2, 16), 3);
  const RowMatrix b1 = with_spectrum(16, 24, std::vector<double>(16, 0.5), 4);
  RowMatrix batch(32, 24);
  batch << b0, b1;
  const RowMatrix filter = with_spectrum(8, 18, logspace(0.5, 8), 5);
  const RowMatrix bias = RowMatrix::Constant(1, 7, 0.25);
  const RowMatrix zero = RowMatrix::Zero(5, 5);
  // Rank 12 of 16: F32 storage leaves the four zero singular values at its
  // rounding level, below 2^-24 ||X||_F.
  std::vector<double> low_rank_sigma = logspace(0.1, 12);
  low_rank_sigma.resize(16, 0.0);
  const RowMatrix low_rank = with_spectrum(16, 24, low_rank_sigma, 9);
  write_text(dir.file("model.safetensors"),
             safetensors({{"a", "F64", {24, 16}, f64_bytes(a)},
                          {"a32", "F32", {24, 16}, f32_bytes(a)},
                          {"batch", "F64", {2, 16, 24}, f64_bytes(batch)},
                          {"conv", "F64", {8, 2, 3, 3}, f64_bytes(filter)},
                          {"bias", "F64", {7}, f64_bytes(bias)},
                          {"zero", "F64", {5, 5}, f64_bytes(zero)},
                          {"low_rank", "F32", {16, 24}, f32_bytes(low_rank)}}));
  const nlohmann::json doc = analyze_json(dir.file("model.safetensors") + " --schedule muon-jordan-ns5");
  std::map<std::string, nlohmann::json> tensors;
  for (const auto& t : doc["tensors"]) tensors[t["name"]] = t;
  REQUIRE(tensors.size() == 5);
  CHECK(tensors["low_rank"]["singular_values"] == 16);
  CHECK(tensors["low_rank"]["unresolved_singular_values"] == 4);
  CHECK(tensors["a32"]["unresolved_singular_values"] == 0);
  CHECK(tensors["batch"]["matrices"] == "2x16x24");
  CHECK(tensors["conv"]["matrices"] == "1x8x18");
  CHECK(tensors["batch"]["singular_values"] == 32);
  // Each matrix of the batch is normalised by its own norm (the flat one's
  // is 0.5 sqrt(16)), not by the batch's.
  double b0_norm = 0;
  for (double v : logspace(1e-2, 16)) b0_norm += v * v;
  b0_norm = std::sqrt(b0_norm);
  const double b0_top = 1 / (1.02 * b0_norm + 1e-6);
  CHECK(tensors["batch"]["sigma_max"].get<double>() == Approx(std::max(b0_top, 0.5 / (1.02 * 2 + 1e-6))).epsilon(1e-12));
  CHECK(tensors["batch"]["sigma_min"].get<double>() == Approx(1e-2 / (1.02 * b0_norm + 1e-6)).epsilon(1e-12));
  // F32 storage moves the singular values by about its rounding.
  CHECK(tensors["a32"]["sigma_min"].get<double>() == Approx(tensors["a"]["sigma_min"].get<double>()).epsilon(1e-5));
  std::map<std::string, std::string> skipped;
  for (const auto& s : doc["skipped"]) skipped[s["name"]] = s["reason"];
  CHECK_THAT(skipped["bias"], Catch::Contains("not a matrix"));
  CHECK(skipped["zero"] == "all zero");
  CHECK(doc["overall"]["singular_values"] == 16 + 16 + 32 + 8 + 16);
  CHECK(doc["overall"]["unresolved_singular_values"] == 4);
}

TEST_CASE("analyze: AOL scaling as Turbo-Muon applies it", "[cli][analyze]") {
  TempDir dir;
  const RowMatrix x = with_spectrum(40, 24, logspace(1e-2, 24), 6) * 3.0;
  write_text(dir.file("aol.npy"), npy("<f8", {40, 24}, f64_bytes(x)));
  const nlohmann::json doc =
      analyze_json(dir.file("aol.npy") + " --normalization aol --schedule turbo-muon-aol-4step");
  // Tall: X D with D = diag(1 / sqrt(sum_j |X^T X|_ij)).
  const Eigen::MatrixXd gram = x.transpose() * x;
  const Eigen::VectorXd d = gram.cwiseAbs().rowwise().sum().cwiseSqrt().cwiseInverse();
  const Eigen::VectorXd s = Eigen::BDCSVD<Eigen::MatrixXd>(x * d.asDiagonal()).singularValues();
  const nlohmann::json& t = doc["tensors"][0];
  CHECK(t["sigma_max"].get<double>() == Approx(s.maxCoeff()).epsilon(1e-12));
  CHECK(t["sigma_min"].get<double>() == Approx(s.minCoeff()).epsilon(1e-12));
  CHECK(t["sigma_max"].get<double>() <= 1.0);
  CHECK(doc["normalization"] == "AOL");
  CHECK(schedule_entry(t, "turbo-muon-aol-4step")["normalization"] == "AOL");
}

TEST_CASE("analyze: the tiny model's momentum buffers get a recommendation verify re-certifies", "[cli][analyze]") {
  const std::string file = std::string(POLAR_EXPRESS_TEST_DATA) + "/tiny_model_momentum.safetensors";
  const CliResult table = run_cli("analyze " + file);
  INFO(table.err);
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("recommendation: l = ") && Catch::Contains("hidden.weight") &&
                            Catch::Contains("polar-express-nanochat-d5"));
  const nlohmann::json doc = analyze_json(file);
  CHECK(doc["tensors"].size() == 5);
  REQUIRE(doc["skipped"].size() == 1);
  CHECK(doc["skipped"][0]["name"] == "hidden.bias");
  const nlohmann::json& r = doc["recommendation"];
  REQUIRE(r["schedule"].is_object());
  TempDir dir;
  write_text(dir.file("recommended.json"), r["schedule"].dump());
  const std::string lower = nlohmann::json(r["lower"].get<double>()).dump();
  const CliResult verified = run_cli("verify " + dir.file("recommended.json") + " --lower " + lower +
                                     " --expect-error " + r["target_error"].get<std::string>());
  INFO(verified.err);
  CHECK(verified.exit_code == 0);
  // Every singular value at or above l: the recommended schedule's error there stays under its target.
  CHECK(r["plan"]["final_error"].is_string());
}

TEST_CASE("analyze --plot writes the spectrum and composite data and the script", "[cli][analyze]") {
  TempDir dir;
  write_text(dir.file("m.npy"), npy("<f4", {16, 32}, f32_bytes(with_spectrum(16, 32, logspace(1e-2, 16), 7))));
  const CliResult r = run_cli("analyze " + dir.file("m.npy") + " --plot " + dir.file("plot"));
  REQUIRE(r.exit_code == 0);
  for (const char* name : {"plot-spectrum.dat", "plot-composite.dat", "plot.gp"}) {
    CHECK(std::filesystem::exists(dir.file(name)));
  }
  CHECK_THAT(read_text(dir.file("plot.gp")), Catch::Contains("plot-spectrum.svg"));
  CHECK(run_cli("analyze " + dir.file("m.npy") + " --plot " + dir.file("missing/plot")).exit_code == 2);
}

TEST_CASE("analyze: bad files exit 2 with one line and write nothing", "[cli][analyze]") {
  TempDir dir;
  const RowMatrix m = with_spectrum(4, 6, logspace(0.1, 4), 8);
  const std::string good = safetensors({{"w", "F32", {4, 6}, f32_bytes(m)}});
  auto with_length = [&](std::uint64_t length, const std::string& rest) { return raw_bytes(&length, 8) + rest; };
  RowMatrix with_nan = m;
  with_nan(2, 3) = std::nan("");
  RowMatrix with_inf = m;
  with_inf(0, 0) = INFINITY;
  std::string big_npy = npy("<f8", {4, 6}, f64_bytes(m));
  big_npy[6] = 2;  // version 2: a 4-byte header length, set to 1 GiB
  const std::uint32_t huge = 1u << 30;
  big_npy.replace(8, 4, raw_bytes(&huge, 4));

  const std::vector<std::pair<std::string, std::string>> cases{
      {"short.safetensors", "abc"},
      {"huge_header.safetensors", with_length(std::uint64_t{1} << 40, "{}")},
      {"cut_header.safetensors", with_length(1000, "{\"w\": {}}")},
      {"not_json.safetensors", with_length(5, "{nope")},
      {"int.safetensors", safetensors({{"w", "I64", {4, 6}, std::string(192, '\0')}})},
      {"offsets.safetensors", safetensors({{"w", "F32", {4, 7}, f32_bytes(m)}})},
      {"truncated.safetensors", good.substr(0, good.size() - 10)},
      {"nan.safetensors", safetensors({{"w", "F32", {4, 6}, f32_bytes(with_nan)}})},
      {"inf.npy", npy("<f8", {4, 6}, f64_bytes(with_inf))},
      {"int.npy", npy("<i4", {4, 6}, std::string(96, '\0'))},
      {"truncated.npy", npy("<f8", {4, 6}, f64_bytes(m).substr(0, 100))},
      {"huge_header.npy", big_npy},
      {"bad_header.npy", std::string("\x93NUMPY\x01\x00\x10\x00{'descr': <f8  }", 26)},
      {"vector.npy", npy("<f8", {24}, f64_bytes(m))},
      {"plain.txt", "not a tensor file"},
  };
  for (const auto& [name, content] : cases) {
    write_text(dir.file(name), content);
    const CliResult r = run_cli("analyze " + dir.file(name) + " --output " + dir.file("out.txt"));
    INFO(name << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(line_count(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains(name));
    CHECK_FALSE(std::filesystem::exists(dir.file("out.txt")));
  }
  const CliResult missing = run_cli("analyze " + dir.file("none.npy"));
  CHECK(missing.exit_code == 2);
  CHECK(line_count(missing.err) == 1);
  // The good file, read back in Fortran order, has the same spectrum as its C-order twin.
  const RowMatrix transposed = m.transpose();  // its row-major bytes are m's column-major ones
  write_text(dir.file("c.npy"), npy("<f8", {4, 6}, f64_bytes(m)));
  write_text(dir.file("f.npy"), npy("<f8", {4, 6}, f64_bytes(transposed), true));
  const nlohmann::json c = analyze_json(dir.file("c.npy"));
  const nlohmann::json f = analyze_json(dir.file("f.npy"));
  CHECK(f["tensors"][0]["sigma_min"].get<double>() == Approx(c["tensors"][0]["sigma_min"].get<double>()).epsilon(1e-13));
  // --schedule takes one value per use, so the file may follow it.
  CHECK(run_cli("analyze --schedule muon-jordan-ns5 --schedule you-6step " + dir.file("c.npy")).exit_code == 0);
  CHECK(run_cli("analyze " + dir.file("c.npy") + " --normalization spectral").exit_code == 2);
  CHECK(run_cli("analyze " + dir.file("c.npy") + " --schedule no-such-list").exit_code == 2);
}
