// polar-express run: the runtime on random matrices against an SVD reference.
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using polar_express::test::line_count;
using polar_express::test::run_cli;

TEST_CASE("run --format json reports the errors and the time", "[cli][run]") {
  const auto r = run_cli(
      "run --backend cpu --shape 3x20x31 --builtin polar-express-paper-d5 --steps 12 --spectrum logspace:1e-3 "
      "--seed 4 --repeats 3 --format json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["backend"] == "cpu");
  CHECK(doc["dtype"] == "f64");
  CHECK(doc["shape"]["batch"] == 3);
  CHECK(doc["shape"]["rows"] == 20);
  CHECK(doc["shape"]["cols"] == 31);
  CHECK(doc["steps"] == 12);
  CHECK(doc["rel_fro_error"].get<double>() < 1e-10);
  CHECK(doc["max_sigma_error"].get<double>() < 1e-12);
  CHECK(doc["median_ms"].get<double>() >= 0);
  CHECK(doc["times_ms"].size() == 3);
  CHECK(doc["failed_matrices"] == 0);
}

TEST_CASE("run --backend cpu names the BLAS, its kernels and the threads, and counts GFLOP/s", "[cli][run]") {
  const auto r = run_cli("run --backend cpu --shape 2x48x64 --dtype f32 --builtin polar-express-nanochat-d5 "
                         "--repeats 2 --format json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  const nlohmann::json& cpu = doc["cpu"];
  CHECK(cpu["blas"] == "OpenBLAS");
  CHECK(cpu["config"].get<std::string>().rfind("OpenBLAS ", 0) == 0);
  CHECK_FALSE(cpu["core"].get<std::string>().empty());
  CHECK(cpu["usable_cpus"].get<int>() >= 1);
  CHECK(cpu["workers"].get<int>() * cpu["blas_threads"].get<int>() <= cpu["usable_cpus"].get<int>());
  // 5 direct quintic steps on 48 x 64: 4 k^2 K + 2 k^3 each, per matrix.
  const double k = 48, big = 64;
  CHECK(doc["flops"].get<double>() == Approx(2 * 5 * (4 * k * k * big + 2 * k * k * k)));
  CHECK(doc["gflops_per_s"].get<double>() == Approx(doc["flops"].get<double>() / doc["median_ms"].get<double>() / 1e6));

  const auto table = run_cli("run --backend cpu --shape 8x8 --builtin polar-express-nanochat-d5 --repeats 1");
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("blas kernels"));
  CHECK_THAT(table.out, Catch::Contains(cpu["core"].get<std::string>()));
}

TEST_CASE("run --backend cpu takes bf16 and f16, computed in f32", "[cli][run]") {
  for (const std::string dtype : {"bf16", "f16"}) {
    const auto r = run_cli("run --backend cpu --shape 3x40x24 --dtype " + dtype +
                           " --builtin polar-express-paper-d5 --steps 10 --format json");
    REQUIRE(r.exit_code == 0);
    const nlohmann::json doc = nlohmann::json::parse(r.out);
    CHECK(doc["dtype"] == dtype);
    // The f32 iterate converges; the output rounded to 8 (bf16) or 11 (f16)
    // significand bits moves each entry by a relative 2^-9 / 2^-12 at most.
    CHECK(doc["max_sigma_error"].get<double>() < (dtype == "bf16" ? 0.05 : 0.01));
    CHECK(doc["failed_matrices"] == 0);
  }
}

TEST_CASE("run: tall shapes, f32, a schedule file, a table", "[cli][run]") {
  SECTION("f32 on a tall Gaussian matrix") {
    const auto r = run_cli("run --backend cpu --shape 45x17 --dtype f32 --builtin polar-express-paper-d5 --steps 12 "
                           "--format json");
    REQUIRE(r.exit_code == 0);
    const nlohmann::json doc = nlohmann::json::parse(r.out);
    CHECK(doc["dtype"] == "f32");
    CHECK(doc["max_sigma_error"].get<double>() < 1e-5);
  }
  SECTION("five steps of nanochat's list stop short of 1, as designed") {
    const auto r = run_cli("run --backend cpu --shape 40x40 --builtin polar-express-nanochat-d5 "
                           "--spectrum logspace:1e-3 --format json");
    REQUIRE(r.exit_code == 0);
    const double error = nlohmann::json::parse(r.out)["max_sigma_error"].get<double>();
    CHECK(error > 1e-3);
    CHECK(error < 0.5);
  }
  SECTION("Turbo-Muon's list with its AOL normalisation, run past its 4 steps") {
    const auto r = run_cli("run --backend cpu --shape 3x24x40 --builtin turbo-muon-aol-4step --steps 10 "
                           "--spectrum logspace:0.05 --format json");
    REQUIRE(r.exit_code == 0);
    // `verify --builtin turbo-muon-aol-4step --lower 0.05 --steps 10`
    // certifies 0.0319 over [0.05, 1]; AOL keeps the normalised singular
    // values at most 1 and, for these spectra, above 0.05.
    CHECK(nlohmann::json::parse(r.out)["max_sigma_error"].get<double>() < 0.04);
  }
  SECTION("a schedule file") {
    polar_express::test::TempDir dir;
    std::ofstream(dir.file("ns.json")) << R"({"name": "newton-schulz-3", "normalization": "X / ||X||_F",
      "after_list": "repeat_last", "steps": [[1.5, -0.5]]})";
    const auto r = run_cli("run " + dir.file("ns.json") +
                           " --backend cpu --shape 2x9x9 --steps 40 --spectrum logspace:0.1 --format json");
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["max_sigma_error"].get<double>() < 1e-12);
  }
  SECTION("the table names every figure") {
    const auto r = run_cli("run --backend cpu --shape 8x12 --builtin polar-express-paper-d5");
    REQUIRE(r.exit_code == 0);
    for (const char* key : {"rel_fro_error", "max_sigma_error", "median_ms", "1x8x12"}) {
      CHECK(r.out.find(key) != std::string::npos);
    }
  }
}

TEST_CASE("run rejects bad input: one line, exit 2", "[cli][run][errors]") {
  const std::string schedule = " --builtin polar-express-paper-d5";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"run --backend cpu --shape 4y5" + schedule, "4y5"},
      {"run --backend cpu --shape 0x5" + schedule, "0x5"},
      {"run --backend cpu --shape 2x3x4x5" + schedule, "2x3x4x5"},
      {"run --backend cpu --shape x5" + schedule, "x5"},
      {"run --backend tpu --shape 4x5" + schedule, "tpu"},
      {"run --backend cpu --shape 4x5 --dtype f8" + schedule, "f8"},
      {"run --backend cpu --shape 4x5 --spectrum flat" + schedule, "flat"},
      {"run --backend cpu --shape 4x5 --spectrum logspace:2" + schedule, "logspace:2"},
      {"run --backend cpu --shape 4x5 --steps 0" + schedule, "--steps 0"},
      {"run --backend cpu --shape 4x5 --format csv" + schedule, "csv"},
      {"run --backend cpu --shape 4x5 --builtin no-such-list", "no-such-list"},
      {"run --backend cpu --shape 4x5", "--builtin"},
      {"run --backend cpu --shape 4x5 /no/such/file.json", "/no/such/file.json"},
      {"run --backend cuda --shape 4x5 --dtype f64" + schedule, "f64"},
      {"run --backend cpu --shape 4x5 --spectrum 'logspace: 0.5'" + schedule, "'logspace: 0.5'"},
      {"run --backend cpu --shape 4x5 --spectrum logspace:0x1p-3" + schedule, "logspace:0x1p-3"},
      {"run --backend cpu --shape 4x5 --seed -1" + schedule, "--seed: '-1' is negative"},
      {"run --backend cpu --shape 4x5 --seed 18446744073709551616" + schedule,
       "--seed: '18446744073709551616' is outside [0, 18446744073709551615]"},
      {"run --backend cpu --shape 4x5 --repeats +3" + schedule, "--repeats: '+3' is not an integer"},
      {"run --backend cpu --shape 4x5 --steps 010" + schedule + " --format yaml", "yaml"},
  };
  for (const auto& [arguments, named] : cases) {
    CAPTURE(arguments);
    const auto r = run_cli(arguments);
    CHECK(r.exit_code == 2);
    CHECK(line_count(r.err) == 1);
    CHECK(r.err.find(named) != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("run --backend cuda without a GPU is a clear usage error", "[cli][run][errors][.needs-no-gpu]") {
  const auto probe = run_cli("run --backend cuda --shape 4x5 --dtype f32 --builtin polar-express-paper-d5");
  if (probe.exit_code == 0) {
    CHECK(probe.out.find("max_sigma_error") != std::string::npos);
    polar_express::test::skip_run("a CUDA device is present, so the no-GPU error cannot be shown");
  }
  CHECK(probe.exit_code == 2);
  CHECK(line_count(probe.err) == 1);
  CHECK(probe.err.find("--backend cuda") != std::string::npos);
}

TEST_CASE("run --backend cuda: shipped schedules run their generated kernels", "[cli][run][cuda][.needs-gpu]") {
  const auto probe = run_cli("run --backend cuda --shape 4x32x64 --builtin polar-express-nanochat-d5 --format json");
  if (probe.exit_code == 2 && probe.err.find("--backend cuda") != std::string::npos) {
    polar_express::test::skip_run("no CUDA device (or no CUDA backend): " + probe.err);
  }
  REQUIRE(probe.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(probe.out);
  CHECK(doc["dtype"] == "bf16");
  CHECK(doc["cuda_kernels"] == "fused tensor-core kernel (generated)");
  CHECK(doc["failed_matrices"] == 0);
  CHECK(doc["rel_fro_error"].get<double>() < 0.3);
  const auto f32 = run_cli("run --backend cuda --shape 4x32x64 --dtype f32 --builtin polar-express-nanochat-d5 --format json");
  REQUIRE(f32.exit_code == 0);
  CHECK(nlohmann::json::parse(f32.out)["cuda_kernels"] == "fused SIMT kernel (generated)");
  const auto generic = run_cli("run --backend cuda --shape 4x32x64 --builtin muon-jordan-ns5 --format json");
  REQUIRE(generic.exit_code == 0);
  CHECK(nlohmann::json::parse(generic.out)["cuda_kernels"] == "cuBLASLt");
}

TEST_CASE("run: memory is counted before anything is allocated", "[cli][run]") {
  // 8 x 100 x 100 in f64: the batch alone in double is 0.64 MB.
  const auto refused = run_cli(
      "run --backend cpu --shape 8x100x100 --builtin polar-express-nanochat-d5 --max-memory 100000");
  CHECK(refused.exit_code == 2);
  CHECK(line_count(refused.err) == 1);
  CHECK(refused.err.find("--max-memory allows") != std::string::npos);
  CHECK(refused.out.empty());
  const auto allowed = run_cli(
      "run --backend cpu --shape 8x100x100 --builtin polar-express-nanochat-d5 --max-memory 1e9 --repeats 1");
  CHECK(allowed.exit_code == 0);
}

TEST_CASE("run: an iteration that blows up fails the run, it is not reported ok", "[cli][run]") {
  // p(x) = 3x: 40 steps take every singular value to 3^40, finite in f64.
  polar_express::test::TempDir dir;
  std::ofstream(dir.file("triple.json")) << R"({"name": "triple", "normalization": "X / ||X||_F",
    "after_list": "repeat_last", "steps": [[3, 0]]})";
  const auto r = run_cli("run " + dir.file("triple.json") + " --backend cpu --shape 4x6x6 --steps 40 --format json");
  CHECK(r.exit_code == 1);
  CHECK(nlohmann::json::parse(r.out)["failed_matrices"] == 4);
}

// The dynamic loader's own account (LD_DEBUG=files names every library it
// opens): OpenBLAS starts a thread per core when loaded, so commands that
// run no CPU plan must not load it, and `run --backend cpu` must.
TEST_CASE("only a CPU plan loads OpenBLAS", "[cli][run][startup]") {
  polar_express::test::TempDir dir;
  auto loaded_libraries = [&](const std::string& arguments) {
    const std::string log = dir.file("loader");
    const std::string command =
        "LD_DEBUG=files " + std::string(POLAR_EXPRESS_CLI) + " " + arguments + " >" + dir.file("out") + " 2>" + log;
    REQUIRE(std::system(command.c_str()) == 0);
    return polar_express::test::read_text(log);
  };
  CHECK_THAT(loaded_libraries("--help"), !Catch::Contains("openblas"));
  CHECK_THAT(loaded_libraries("design --lower 1e-3 --steps 1"), !Catch::Contains("openblas"));
  CHECK_THAT(loaded_libraries("run --backend cpu --builtin polar-express-nanochat-d5 --shape 8x16 --repeats 1"), Catch::Contains("openblas"));
}
