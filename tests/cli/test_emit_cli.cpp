// `polar-express emit` end to end: every target, byte equality with
// generated/, and bad input (one line on stderr, exit 2, nothing written).
#include "cli_runner.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

using polar_express::test::CliResult;
using polar_express::test::line_count;
using polar_express::test::read_text;
using polar_express::test::run_cli;
using polar_express::test::TempDir;

namespace {

std::size_t entries(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

void check_bad_input(const CliResult& r, const std::string& needle) {
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains(needle));
}

}  // namespace

TEST_CASE("emit --target cpp and cuda write exactly the committed generated/ files", "[cli][emit]") {
  TempDir dir;
  for (const char* target : {"cpp", "cuda"}) {
    const CliResult r = run_cli(std::string("emit --builtin polar-express-paper-d5 --target ") + target +
                                " --output " + dir.path().string());
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
  }
  CHECK(entries(dir.path()) == 3);
  for (const char* name : {"polar_express_paper_d5.hpp", "polar_express_paper_d5.cu", "polar_express_paper_d5_cuda.hpp"}) {
    INFO(name);
    CHECK(read_text(dir.file(name)) == read_text(std::string(POLAR_EXPRESS_SOURCE_DIR "/generated/") + name));
  }
}

TEST_CASE("emit --target json round-trips a designed schedule", "[cli][emit]") {
  TempDir dir;
  REQUIRE(run_cli("design --degree 7 --lower 1e-3 --steps 4 --format json --name my-d7 --output " +
                  dir.file("in.json")).exit_code == 0);
  const CliResult r = run_cli("emit " + dir.file("in.json") + " --target json --output " + dir.path().string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json in = nlohmann::json::parse(read_text(dir.file("in.json")));
  const nlohmann::json out = nlohmann::json::parse(read_text(dir.file("my_d7.json")));
  CHECK(out["schema"] == "polar-express/schedule/v1");
  CHECK(out["name"] == "my-d7");
  CHECK(out["input"] == in["input"]);
  REQUIRE(out["steps"].size() == 4);
  for (std::size_t t = 0; t < 4; ++t) {
    CHECK(out["steps"][t]["coefficients"] == in["steps"][t]["coefficients"]);
    CHECK(out["steps"][t]["error_after"] == in["steps"][t]["error_after"]);
  }
}

TEST_CASE("emit --target torch writes the Python function", "[cli][emit]") {
  TempDir dir;
  const CliResult r = run_cli("emit --builtin polar-express-nanochat-d5 --target torch --output " + dir.path().string());
  REQUIRE(r.exit_code == 0);
  const std::string py = read_text(dir.file("polar_express_nanochat_d5.py"));
  CHECK_THAT(py, Catch::Contains("def polar_express_nanochat_d5(G: torch.Tensor, steps: int = 5)"));
  CHECK_THAT(py, Catch::Contains("(8.156554524902461, -22.48329292557795, 15.878769915207462)"));
}

TEST_CASE("emit refuses bad input with one line, exit 2, nothing written", "[cli][emit]") {
  TempDir dir;
  const std::string out = " --output " + dir.path().string();
  check_bad_input(run_cli("emit --builtin polar-express-paper-d5 --target rust" + out), "unknown target 'rust'");
  check_bad_input(run_cli("emit --builtin no-such-schedule --target cpp" + out), "no-such-schedule");
  check_bad_input(run_cli("emit --target cpp" + out), "give a SCHEDULE.json or --builtin NAME");
  check_bad_input(run_cli("emit " + dir.file("x.json") + " --builtin polar-express-paper-d5 --target cpp" + out),
                  "only with --registry");
  check_bad_input(run_cli("emit --registry --builtin polar-express-paper-d5 --builtin polar-express-paper-d5 "
                          "--target cpp" + out),
                  "appears twice");
  check_bad_input(run_cli("emit --registry --builtin polar-express-paper-d5 --target json" + out),
                  "not json");
  check_bad_input(run_cli("emit " + dir.file("missing.json") + " --target cpp" + out), "missing.json");
  std::ofstream(dir.file("plain")) << "a file, not a directory";
  check_bad_input(run_cli("emit --builtin polar-express-paper-d5 --target cpp --output " + dir.file("plain") + "/sub"),
                  dir.file("plain") + "/sub': Not a directory");

  // A schedule whose name makes no identifier.
  REQUIRE(run_cli("design --lower 1e-3 --steps 2 --format json --name 'bad name!' --output " + dir.file("bad.json"))
              .exit_code == 0);
  check_bad_input(run_cli("emit " + dir.file("bad.json") + " --target cpp" + out), "'bad name!'");
  CHECK(entries(dir.path()) == 2);  // bad.json and plain only
}

TEST_CASE("emit creates its output directory with its parents", "[cli][emit]") {
  TempDir dir;
  const std::string nested = dir.file("a") + "/b/c";
  const CliResult r = run_cli("emit --builtin polar-express-paper-d5 --target cpp --output " + nested);
  REQUIRE(r.exit_code == 0);
  CHECK(std::filesystem::exists(nested + "/polar_express_paper_d5.hpp"));
  CHECK(entries(nested) == 1);
}

TEST_CASE("emit --registry lists every schedule it writes, by name", "[cli][emit]") {
  TempDir dir;
  const CliResult r = run_cli("emit --registry --builtin all --target cpp --output " + dir.path().string());
  REQUIRE(r.exit_code == 0);
  const std::string registry = read_text(dir.file("polar_express_registry.hpp"));
  // The catalogue's names, read from the published file independently.
  const auto published = nlohmann::json::parse(read_text(std::string(POLAR_EXPRESS_TEST_DATA) + "/published_schedules.json"));
  for (const auto& entry : published.at("schedules")) {
    const std::string name = entry.at("name").get<std::string>();
    CAPTURE(name);
    std::string id = name;
    std::replace(id.begin(), id.end(), '-', '_');
    CHECK_THAT(registry, Catch::Contains("{\"" + name + "\", [] { return polar_express::runtime::schedule_from_generated(" +
                                         id + ", " + id + "_info); }}"));
    CHECK_THAT(registry, Catch::Contains("#include \"" + id + ".hpp\""));
    CHECK(std::filesystem::exists(dir.file(id + ".hpp")));
  }
  CHECK(entries(dir.path()) == published.at("schedules").size() + 1);

  TempDir cuda;
  REQUIRE(run_cli("emit --registry --builtin polar-express-nanochat-d5 --builtin muon-jordan-ns5 --target cuda --output " +
                  cuda.path().string())
              .exit_code == 0);
  const std::string kernels = read_text(cuda.file("polar_express_cuda_registry.hpp"));
  CHECK_THAT(kernels, Catch::Contains("{\"polar-express-nanochat-d5\", &make_polar_express_nanochat_d5_cuda}"));
  CHECK_THAT(kernels, Catch::Contains("{\"muon-jordan-ns5\", &make_muon_jordan_ns5_cuda}"));
  CHECK(entries(cuda.path()) == 5);  // two .cu, two _cuda.hpp, the registry
}

TEST_CASE("emit into an unwritable directory leaves no file behind", "[cli][emit]") {
  TempDir parent;
  const std::string locked = parent.file("locked");
  std::filesystem::create_directory(locked);
  ::chmod(locked.c_str(), 0555);
  // root writes through a 0555 mode; /proc refuses new files to everyone.
  const std::string target = ::geteuid() == 0 ? std::string("/proc") : locked;
  const CliResult r = run_cli("emit --builtin polar-express-paper-d5 --target cuda --output " + target);
  check_bad_input(r, "cannot write");
  CHECK_FALSE(std::filesystem::exists(target + "/polar_express_paper_d5.cu"));
  CHECK_FALSE(std::filesystem::exists(target + "/polar_express_paper_d5_cuda.hpp"));
  CHECK(entries(locked) == 0);
  ::chmod(locked.c_str(), 0755);
}

TEST_CASE("emit refuses what the generated code could not do, naming the field", "[cli][emit][errors]") {
  TempDir dir;
  const std::string out = " --output " + dir.file("out");
  auto file = [&](const std::string& name, const std::string& text) {
    polar_express::test::write_text(dir.file(name), text);
    return dir.file(name);
  };
  auto own = [](const std::string& factor) {
    return R"({"schema": "polar-express/schedule/v1", "name": "n", "normalization": {"factor": ")" + factor +
           R"(", "eps": 0}, "steps": [{"coefficients": [1.5, -0.5]}]})";
  };
  // 1e-400 is positive in MPFR but 0 as a double; 1e400 is no double.
  check_bad_input(run_cli("emit " + file("tiny.json", own("1e-400")) + " --target torch" + out),
                  "normalization factor: \"1e-400\" is outside [");
  check_bad_input(run_cli("emit " + file("huge.json", own("1e400")) + " --target cpp" + out),
                  "normalization factor: \"1e400\" is outside [");
  // Published text with such a factor is refused the same way.
  check_bad_input(run_cli("emit " + file("text.json", R"j({"name": "t", "normalization": "X / (1e-400 * ||X||_F + 1e-7)",
                                                        "steps": [[1.5, -0.5]]})j") + " --target torch" + out),
                  "normalization factor: \"1e-400\" is outside [");
  // AOL scales rows: the CUDA kernel sets and the torch function cannot apply
  // it; JSON and the C++ tables carry it (text and kind) for the runtime.
  check_bad_input(run_cli("emit --builtin turbo-muon-aol-4step --target torch" + out),
                  "normalises by 'AOL', which the torch target does not implement");
  check_bad_input(run_cli("emit --builtin turbo-muon-aol-4step --target cuda" + out), "the cuda target");
  const CliResult json = run_cli("emit --builtin turbo-muon-aol-4step --target json" + out);
  REQUIRE(json.exit_code == 0);
  CHECK(nlohmann::json::parse(read_text(dir.file("out/turbo_muon_aol_4step.json")))["normalization"]["text"] == "AOL");
  REQUIRE(run_cli("emit " + dir.file("out/turbo_muon_aol_4step.json") + " --target cpp" + out).exit_code == 0);
  CHECK_THAT(read_text(dir.file("out/turbo_muon_aol_4step.hpp")), Catch::Contains("\"AOL\",\n    \"aol\","));
  // Coefficients past float (cuda, cpp's f32 table) or double (torch).
  const std::string big = file("big.json", R"({"name": "big", "steps": [[1e300, -0.5]]})");
  check_bad_input(run_cli("emit " + big + " --target cuda" + out),
                  "schedule 'big' step 1 coefficient 1 1e+300 is not finite as a float, which the cuda target writes");
  check_bad_input(run_cli("emit " + file("bigger.json", R"({"name": "b", "steps": [["1e400", -0.5]]})") + " --target torch" + out),
                  "step 1 coefficient 1 1e+400 is not finite as a double");
  // Certifying is bounded like design and verify.
  check_bad_input(run_cli("emit --builtin polar-express-paper-d5 --target cpp --precision 65536 --max-minutes 0.0001" + out),
                  "emit: the certificate of 8 steps at 65536 bits is estimated at");
  CHECK_FALSE(std::filesystem::exists(dir.file("out/polar_express_paper_d5.hpp")));
}
