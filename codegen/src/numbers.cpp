// Rounding MPFR values to the formats the targets store, and writing them
// exactly.  Hex literals come from the bits of the value and decimals from
// MPFR (in the "C" locale every polar-express program runs in), never from
// printf of a double, so the text does not depend on the C library.
#include "polar_express/codegen/codegen.hpp"

#include <mpfr.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

namespace polar_express::codegen {
namespace {

void require_finite(bool finite, const Real& value, const char* format) {
  if (!finite) {
    throw std::invalid_argument("value " + to_decimal(value, 17) + " is not finite as a " + format);
  }
}

// %a of an IEEE binary value given its bits: kFraction stored fraction bits,
// exponent bias kBias.
template <int kFraction, int kBias, class Bits>
std::string hex_from_bits(Bits bits, int total_bits) {
  const Bits fraction_mask = (Bits{1} << kFraction) - 1;
  const bool negative = (bits >> (total_bits - 1)) & 1u;
  const Bits exponent_mask = (Bits{1} << (total_bits - 1 - kFraction)) - 1;
  const Bits exponent_field = (bits >> kFraction) & exponent_mask;
  if (exponent_field == exponent_mask) throw std::invalid_argument("hex_literal: the value is not finite");
  Bits fraction = bits & fraction_mask;
  std::string text = negative ? "-0x" : "0x";
  if (exponent_field == 0 && fraction == 0) return text + "0p+0";
  int exponent = static_cast<int>(exponent_field) - kBias;
  if (exponent_field == 0) {
    // Subnormal: shift the leading bit up to the implicit position, as %a
    // prints normalised subnormals.
    exponent = 1 - kBias;
    while (!(fraction >> kFraction)) {
      fraction <<= 1;
      --exponent;
    }
    fraction &= fraction_mask;
  }
  constexpr int kNibbles = (kFraction + 3) / 4;
  fraction <<= 4 * kNibbles - kFraction;
  std::string digits;
  for (int k = kNibbles - 1; k >= 0; --k) digits += "0123456789abcdef"[(fraction >> (4 * k)) & 0xfu];
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  text += digits.empty() ? "1" : "1." + digits;
  return text + "p" + (exponent < 0 ? "-" : "+") + std::to_string(std::abs(exponent));
}

std::string mpfr_format(const char* format, int digits, mpfr_srcptr x) {
  char* text = nullptr;
  if (mpfr_asprintf(&text, format, digits, x) < 0 || text == nullptr) throw std::bad_alloc();
  std::unique_ptr<char, decltype(&mpfr_free_str)> owner(text, &mpfr_free_str);
  return std::string(text);
}

}  // namespace

double nearest_double(const Real& value) {
  const double result = to_double(value, Rounding::kNearest);
  require_finite(std::isfinite(result), value, "double");
  return result;
}

double double_rounded_up(const Real& value) {
  const double result = to_double(value, Rounding::kUp);
  require_finite(std::isfinite(result), value, "double");
  return result;
}

float nearest_float(const Real& value) {
  const float result = to_float(value, Rounding::kNearest);
  require_finite(std::isfinite(result), value, "float");
  return result;
}

std::string hex_literal(double value) {
  static_assert(sizeof(double) == 8 && std::numeric_limits<double>::is_iec559, "IEEE binary64 double");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return hex_from_bits<52, 1023>(bits, 64);
}

std::string hex_literal(float value) {
  static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "IEEE binary32 float");
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return hex_from_bits<23, 127>(bits, 32) + "f";
}

std::string shortest_decimal(double value) {
  if (!std::isfinite(value)) throw std::invalid_argument("shortest_decimal: the value is not finite");
  mpfr_t x;
  mpfr_t back;
  mpfr_init2(x, 53);
  mpfr_init2(back, 53);
  mpfr_set_d(x, value, MPFR_RNDN);
  std::string text;
  // 17 significant digits always read back; a subnormal has fewer bits than
  // the 53 the read-back below assumes, so it keeps all 17.
  const int first = std::fpclassify(value) == FP_SUBNORMAL ? 17 : 1;
  for (int digits = first; digits <= 17; ++digits) {
    text = mpfr_format("%.*RNg", digits, x);
    mpfr_strtofr(back, text.c_str(), nullptr, 10, MPFR_RNDN);
    if (mpfr_equal_p(back, x)) break;
  }
  mpfr_clear(x);
  mpfr_clear(back);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

}  // namespace polar_express::codegen
