// Target cpp: the committed headers hold the solver's values correctly
// rounded, are constant expressions, and any emitted header compiles alone
// with g++ and clang++ under -Werror.
#include "../../generated/polar_express_d3.hpp"
#include "../../generated/polar_express_d7.hpp"
#include "../../generated/polar_express_nanochat_d5.hpp"
#include "../../generated/polar_express_paper_d5.hpp"
#include "polar_express/codegen/codegen.hpp"
#include "polar_express/solver/catalogue.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

using namespace polar_express;
namespace gen = polar_express::schedules;
using codegen_test::read_text;
using codegen_test::TempDir;
using codegen_test::write_text;

namespace {

// The tables are usable in constant expressions.
constexpr double horner_at_one(const gen::OddPolynomialStep<double, 3>& step) {
  return step.coefficients[0] + step.coefficients[1] + step.coefficients[2];
}
static_assert(gen::polar_express_paper_d5.size() == 8);
static_assert(gen::polar_express_paper_d5[7].degree == 5);
static_assert(gen::polar_express_paper_d5[7].coefficients[0] == 1.875);
static_assert(horner_at_one(gen::polar_express_paper_d5[7]) == 1.0);
static_assert(gen::polar_express_nanochat_d5_f32.size() == 5);
static_assert(gen::polar_express_d3[0].degree == 3 && gen::polar_express_d7[0].degree == 7);
static_assert(gen::polar_express_d7_info.steps[5].error_after_value < 1e-6);
static_assert(gen::polar_express_d7_info.steps[5].error_bound_value < 1e-6);
static_assert(gen::polar_express_paper_d5_info.normalization_factor == 1.01);

// `d` is a nearest T to `value`: no neighbour of d is closer.  Checked in
// MPFR arithmetic, independently of the rounding the emitter uses.
template <class T>
bool is_nearest(T d, const Real& value) {
  PrecisionScope scope(2048);
  const Real distance = abs(Real(value) - Real(d));
  const T up = std::nextafter(d, std::numeric_limits<T>::infinity());
  const T down = std::nextafter(d, -std::numeric_limits<T>::infinity());
  return distance <= abs(Real(value) - Real(up)) && distance <= abs(Real(value) - Real(down));
}

template <class Table, class Table32>
void check_table(const Table& table, const Table32& table32, const Schedule& schedule) {
  REQUIRE(table.size() == schedule.steps.size());
  for (std::size_t t = 0; t < table.size(); ++t) {
    const auto& coefficients = schedule.steps[t].polynomial.coefficients;
    CHECK(table[t].degree == schedule.steps[t].degree());
    CHECK(table32[t].degree == schedule.steps[t].degree());
    for (std::size_t k = 0; k < coefficients.size(); ++k) {
      INFO("step " << t + 1 << " coefficient " << k << " = " << to_decimal(coefficients[k], 40));
      CHECK(is_nearest(table[t].coefficients[k], coefficients[k]));
      // The float table holds the doubles' floats, what the runtime's float
      // paths multiply by.
      CHECK(is_nearest(table32[t].coefficients[k], Real(table[t].coefficients[k])));
    }
    for (std::size_t k = coefficients.size(); k < std::size(table[t].coefficients); ++k) {
      CHECK(table[t].coefficients[k] == 0.0);
    }
  }
}

DesignOptions shipped_design(int degree) {
  // As the CLI reads the flags of scripts/regenerate-generated.sh.
  const unsigned bits = 2 * 256 + 64;
  DesignOptions options;
  options.degrees = {degree};
  options.lower = parse_real("1e-3", bits);
  options.upper = parse_real("1", bits);
  options.target_error = parse_real("1e-6", bits);
  options.cushion = parse_real("0.02407327424182761", bits);
  options.safety = parse_real("0.01", bits);
  options.safety_mode = SafetyMode::kPostHoc;
  return options;
}

}  // namespace

TEST_CASE("generated headers hold the solver's coefficients, correctly rounded, and their floats", "[codegen][cpp]") {
  check_table(gen::polar_express_paper_d5, gen::polar_express_paper_d5_f32, builtin_schedule("polar-express-paper-d5"));
  check_table(gen::polar_express_nanochat_d5, gen::polar_express_nanochat_d5_f32,
              builtin_schedule("polar-express-nanochat-d5"));
  check_table(gen::polar_express_d3, gen::polar_express_d3_f32, design_schedule(shipped_design(3)));
  check_table(gen::polar_express_d7, gen::polar_express_d7_f32, design_schedule(shipped_design(7)));
}

TEST_CASE("generated metadata carries the certificate of the tables' numbers and the design", "[codegen][cpp]") {
  const Schedule source = builtin_schedule("polar-express-paper-d5");
  const Schedule doubles = rounded_to(source, ElementType::kF64);
  const Schedule floats = rounded_to(source, ElementType::kF32);
  const auto& info = gen::polar_express_paper_d5_info;
  CHECK(std::strcmp(info.name, "polar-express-paper-d5") == 0);
  CHECK(std::strcmp(info.identifier, "polar_express_paper_d5") == 0);
  CHECK(std::strcmp(info.after_list, "repeat_last") == 0);
  CHECK(info.normalization_eps == 1e-7);
  CHECK_FALSE(info.design.designed);
  CHECK(info.precision_bits == 256);
  // The doubles' interval lies inside the certified one.
  CHECK(Real(info.input_lower_value) >= source.input.lower);
  CHECK(Real(info.input_upper_value) <= source.input.upper);
  for (std::size_t t = 0; t < doubles.steps.size(); ++t) {
    // The double table's polynomials are the doubles' own.
    for (std::size_t k = 0; k < doubles.steps[t].polynomial.coefficients.size(); ++k) {
      CHECK(Real(gen::polar_express_paper_d5[t].coefficients[k]) == doubles.steps[t].polynomial.coefficients[k]);
      CHECK(Real(gen::polar_express_paper_d5_f32[t].coefficients[k]) == floats.steps[t].polynomial.coefficients[k]);
    }
    CHECK(info.steps[t].error_after_value == codegen::nearest_double(doubles.steps[t].error_after));
    CHECK(info.steps[t].lower_value == codegen::nearest_double(doubles.steps[t].interval.lower));
    CHECK(parse_real(info.steps[t].upper, 256) == at_precision(doubles.steps[t].interval.upper, 256));
    // Each bound stays a bound in both forms: its text read at the
    // certificate's precision and its double are >= the rigorous upper end of
    // its table's numbers, and the double is the smallest such.
    const unsigned bits = certification_bits(256);
    const Real& bound = doubles.steps[t].error_enclosure.upper;
    CHECK(parse_real(info.steps[t].error_bound, bits) >= bound);
    CHECK(Real(info.steps[t].error_bound_value) >= bound);
    CHECK(Real(std::nextafter(info.steps[t].error_bound_value, 0.0)) < bound);
    CHECK(info.steps[t].error_bound_value >= info.steps[t].error_after_value);
    const Real& float_bound = floats.steps[t].error_enclosure.upper;
    CHECK(parse_real(info.steps[t].error_bound_f32, bits) >= float_bound);
    CHECK(Real(info.steps[t].error_bound_f32_value) >= float_bound);
    CHECK(Real(std::nextafter(info.steps[t].error_bound_f32_value, 0.0)) < float_bound);
  }
  CHECK(info.final_error_value < 1e-14);
  CHECK(info.final_error_bound_value == info.steps[doubles.steps.size() - 1].error_bound_value);
  CHECK(std::strcmp(info.final_error_bound, info.steps[doubles.steps.size() - 1].error_bound) == 0);
  CHECK(info.final_error_bound_f32_value == info.steps[doubles.steps.size() - 1].error_bound_f32_value);

  const auto& d3 = gen::polar_express_d3_info;
  CHECK(d3.design.designed);
  CHECK(std::strcmp(d3.design.degrees, "3") == 0);
  CHECK(std::strcmp(d3.design.lower, "1e-3") == 0);
  CHECK(std::strcmp(d3.design.cushion, "0.02407327424182761") == 0);
  CHECK(std::strcmp(d3.design.safety_mode, "posthoc") == 0);
  CHECK(d3.design.steps == 0);
  CHECK(d3.final_error_bound_value <= 1e-6);
  // The fewest steps: one fewer does not reach the target.
  CHECK(d3.steps[gen::polar_express_d3.size() - 2].error_bound_value > 1e-6);
}

TEST_CASE("emitted bytes do not depend on the caller's MPFR precision", "[codegen][cpp]") {
  const Schedule schedule = builtin_schedule("polar-express-nanochat-d5");
  std::string low, high;
  {
    PrecisionScope scope(64);
    low = codegen::emit(schedule, codegen::Target::kCpp).at(0).content;
  }
  {
    PrecisionScope scope(4096);
    high = codegen::emit(schedule, codegen::Target::kCpp).at(0).content;
  }
  CHECK(low == high);
  CHECK(low == read_text(POLAR_EXPRESS_SOURCE_DIR "/generated/polar_express_nanochat_d5.hpp"));
}

TEST_CASE("an emitted header compiles alone with g++ and clang++ under -Werror", "[codegen][cpp][compile]") {
  // Awkward metadata: quotes, backslashes (one at the end, which would splice
  // a // comment), a would-be trigraph, UTF-8 and a tab; mixed degrees so the
  // table pads (nanochat's steps, then the last steps of the degree-3 and
  // degree-7 designs); steps that cycle.
  Schedule schedule = builtin_schedule("polar-express-nanochat-d5");
  schedule.name = "Odd-names_2";
  schedule.source = "say \"hi\" ?" "?= caf\xc3\xa9\tend\\";
  schedule.normalization_text = "X / (||X|| + eps) \\";
  schedule.after_list = AfterList::kCycle;
  schedule.steps.push_back(design_schedule(shipped_design(3)).steps.back());
  schedule.steps.push_back(design_schedule(shipped_design(7)).steps.back());
  const auto files = codegen::emit(schedule, codegen::Target::kCpp);
  REQUIRE(files.size() == 1);
  CHECK(files[0].name == "Odd_names_2.hpp");

  TempDir dir;
  write_text(dir.file(files[0].name), files[0].content);
  write_text(dir.file("source.txt"), schedule.source);
  write_text(dir.file("main.cpp"), R"(#include "Odd_names_2.hpp"
#include "Odd_names_2.hpp"
#include ")" POLAR_EXPRESS_SOURCE_DIR R"(/generated/polar_express_paper_d5.hpp"
#include <cstdio>
#include <cstring>
namespace s = polar_express::schedules;
static_assert(s::Odd_names_2.size() == 7 && s::Odd_names_2[5].degree == 3 && s::Odd_names_2[6].degree == 7);
static_assert(s::Odd_names_2[5].coefficients[2] == 0 && s::Odd_names_2[5].coefficients[3] == 0);
static_assert(s::Odd_names_2_f32[0].coefficients[0] > 8.0f && s::Odd_names_2_f32[6].coefficients[3] < 0);
int main() {
  std::fputs(s::Odd_names_2_info.source, stdout);
  return std::strcmp(s::Odd_names_2_info.after_list, "cycle") == 0 ? 0 : 3;
}
)");
  int compilers = 0;
  for (const std::string compiler : {"g++", "clang++"}) {
    if (!codegen_test::have_program(compiler)) {
      WARN(compiler << " not found: the header is not compiled with it");
      continue;
    }
    ++compilers;
    const std::string binary = dir.file("main-" + compiler);
    const int status = codegen_test::run_command(
        compiler + " -std=c++17 -Wall -Wextra -Wpedantic -Werror -o " + binary + " " + dir.file("main.cpp"),
        dir.file("log"));
    INFO(read_text(dir.file("log")));
    REQUIRE(status == 0);
    REQUIRE(codegen_test::run_command(binary, dir.file("out")) == 0);
    CHECK(read_text(dir.file("out")) == schedule.source);
  }
  CHECK(compilers > 0);
}
