// The numeric edges of code generation: correct rounding from MPFR and exact
// literal text, checked against independent computations.
#include "polar_express/codegen/codegen.hpp"

#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>

using namespace polar_express;
using codegen::hex_literal;

namespace {

Real exact(const std::string& text, unsigned bits = 256) { return parse_real(text, bits); }

// The C library's %a, for comparison (the tests run in the "C" locale).
std::string printf_hex(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", value);
  return buffer;
}

}  // namespace

TEST_CASE("hex literals match %a and read back exactly", "[codegen][numbers]") {
  CHECK(hex_literal(1.0) == "0x1p+0");
  CHECK(hex_literal(0.375) == "0x1.8p-2");
  CHECK(hex_literal(-1.25) == "-0x1.4p+0");
  CHECK(hex_literal(0.0) == "0x0p+0");
  CHECK(hex_literal(-0.0) == "-0x0p+0");
  CHECK(hex_literal(std::numeric_limits<double>::denorm_min()) == "0x1p-1074");
  CHECK(hex_literal(DBL_MAX) == "0x1.fffffffffffffp+1023");
  CHECK(hex_literal(1.0f) == "0x1p+0f");
  CHECK(hex_literal(-0x1.6e6e54p+4f) == "-0x1.6e6e54p+4f");
  CHECK(hex_literal(std::numeric_limits<float>::denorm_min()) == "0x1p-149f");
  CHECK_THROWS_AS(hex_literal(std::numeric_limits<double>::infinity()), std::invalid_argument);

  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-1060, 1020);
  for (int i = 0; i < 2000; ++i) {
    const double value = std::ldexp(mantissa(random), exponent(random));
    const std::string text = hex_literal(value);
    INFO(text);
    CHECK(std::strtod(text.c_str(), nullptr) == value);
    if (std::fpclassify(value) == FP_NORMAL) CHECK(text == printf_hex(value));
    const auto single = static_cast<float>(value);
    if (std::isfinite(single)) {
      const std::string float_text = hex_literal(single);
      CHECK(std::strtof(float_text.substr(0, float_text.size() - 1).c_str(), nullptr) == single);
    }
  }
}

TEST_CASE("MPFR values round once, to nearest, in each format", "[codegen][numbers]") {
  CHECK(codegen::nearest_double(exact("1") / 3) == 1.0 / 3.0);
  CHECK(codegen::nearest_double(exact("0.1")) == 0.1);
  CHECK(codegen::nearest_float(exact("0.1")) == 0.1f);
  // 1 + 2^-24 + 2^-60 lies just above the midpoint of the floats 1 and
  // 1 + 2^-23; through a double it would land on the midpoint and round to 1.
  const Real above_midpoint = 1 + boost::multiprecision::ldexp(Real(1), -24) + boost::multiprecision::ldexp(Real(1), -60);
  CHECK(static_cast<float>(codegen::nearest_double(above_midpoint)) == 1.0f);
  CHECK(codegen::nearest_float(above_midpoint) == 1.0f + 0x1p-23f);
  CHECK_THROWS_AS(codegen::nearest_float(exact("1e39")), std::invalid_argument);
  CHECK_THROWS_AS(codegen::nearest_double(exact("1e309")), std::invalid_argument);
}

TEST_CASE("shortest decimals read back as the same double", "[codegen][numbers]") {
  CHECK(codegen::shortest_decimal(1.01) == "1.01");
  CHECK(codegen::shortest_decimal(1e-7) == "1e-07");
  CHECK(codegen::shortest_decimal(2.0) == "2.0");
  CHECK(codegen::shortest_decimal(-0.375) == "-0.375");
  CHECK(codegen::shortest_decimal(0.1 + 0.2) == "0.30000000000000004");
  std::mt19937_64 random(11);
  std::uniform_real_distribution<double> value(-30.0, 30.0);
  for (int i = 0; i < 1000; ++i) {
    const double v = value(random);
    const std::string text = codegen::shortest_decimal(v);
    INFO(text);
    CHECK(std::strtod(text.c_str(), nullptr) == v);
  }
}
