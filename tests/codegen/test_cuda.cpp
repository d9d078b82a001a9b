// Target cuda: the table SpecializedKernels reads, and (where nvcc is) that
// the emitted translation unit compiles against the runtime's headers.
#include "polar_express/codegen/codegen.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace polar_express;
using codegen_test::read_text;
using codegen_test::TempDir;
using codegen_test::write_text;

namespace {

std::string nvcc() {
  if (codegen_test::have_program("nvcc")) return "nvcc";
  if (std::filesystem::exists("/usr/local/cuda/bin/nvcc")) return "/usr/local/cuda/bin/nvcc";
  return {};
}

}  // namespace

TEST_CASE("cuda output is the table of floats and its factory", "[codegen][cuda]") {
  const Schedule schedule = builtin_schedule("polar-express-nanochat-d5");
  const auto files = codegen::emit(schedule, codegen::Target::kCuda);
  REQUIRE(files.size() == 2);
  CHECK(files[0].name == "polar_express_nanochat_d5.cu");
  CHECK(files[1].name == "polar_express_nanochat_d5_cuda.hpp");
  const std::string& cu = files[0].content;
  CHECK_THAT(cu, Catch::Contains("static constexpr int kSteps = 5;"));
  CHECK_THAT(cu, Catch::Contains("static constexpr int kMaxCoefficients = 3;"));
  CHECK_THAT(cu, Catch::Contains("kDegrees[kSteps] = {5, 5, 5, 5, 5};"));
  for (const ScheduleStep& step : schedule.steps) {
    std::string row = "{";
    for (std::size_t k = 0; k < step.polynomial.coefficients.size(); ++k) {
      if (k) row += ", ";
      // The double's float: what the runtime's float paths multiply by.
      row += codegen::hex_literal(codegen::nearest_float(Real(codegen::nearest_double(step.polynomial.coefficients[k]))));
    }
    CHECK_THAT(cu, Catch::Contains(row + "},"));
  }
  CHECK_THAT(cu, Catch::Contains("kNormFactor = " + codegen::hex_literal(1.02f) + ";"));
  CHECK_THAT(cu, Catch::Contains("kNormEps = " + codegen::hex_literal(1e-6f) + ";"));
  CHECK_THAT(cu, Catch::Contains("SpecializedKernels<polar_express_nanochat_d5_table>"));
  CHECK_THAT(files[1].content,
             Catch::Contains("std::unique_ptr<polar_express::runtime::cuda::ScheduleKernels> make_polar_express_nanochat_d5_cuda();"));
  CHECK(cu == read_text(POLAR_EXPRESS_SOURCE_DIR "/generated/polar_express_nanochat_d5.cu"));
}

TEST_CASE("cuda refuses a schedule that cycles (the kernels repeat the last step)", "[codegen][cuda]") {
  Schedule schedule = builtin_schedule("polar-express-nanochat-d5");
  schedule.after_list = AfterList::kCycle;
  CHECK_THROWS_WITH(codegen::emit(schedule, codegen::Target::kCuda), Catch::Contains("repeat their last step"));
}

TEST_CASE("the emitted .cu compiles with nvcc against runtime/include", "[codegen][cuda][compile][.needs-nvcc]") {
  const std::string compiler = nvcc();
  if (compiler.empty()) test::skip_run("nvcc not found: the emitted CUDA source is not compiled");
  TempDir dir;
  for (const auto& file : codegen::emit(builtin_schedule("polar-express-paper-d5"), codegen::Target::kCuda)) {
    write_text(dir.file(file.name), file.content);
  }
  // For sm_80, the oldest architecture the runtime builds for, so that the
  // tensor-core path (inline PTX that ptxas checks) is the one compiled;
  // without device optimization (-G): this checks that the emitted source
  // compiles, in seconds instead of a minute.  The optimized build of the
  // same source (generated/, kept equal to what emit writes) for every
  // architecture is the CUDA module's (runtime/CMakeLists.txt).
  const int status = codegen_test::run_command(compiler + " -std=c++17 -arch=sm_80 -G -I " POLAR_EXPRESS_SOURCE_DIR
                                               "/runtime/include -c " + dir.file("polar_express_paper_d5.cu") +
                                               " -o " + dir.file("paper.o"),
                                               dir.file("log"));
  INFO(read_text(dir.file("log")));
  CHECK(status == 0);
  CHECK(std::filesystem::file_size(dir.file("paper.o")) > 0);
}
