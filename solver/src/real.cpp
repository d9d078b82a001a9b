#include "polar_express/solver/real.hpp"

#include <mpfr.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>

namespace polar_express {
namespace {

unsigned digits10_for_bits(unsigned bits) {
  // Boost converts digits10 back to bits with some margin; asking for
  // ceil(bits * log10(2)) + 1 digits always yields at least `bits` bits.
  return static_cast<unsigned>(std::ceil(bits * 0.30102999566398120)) + 1;
}

}  // namespace

PrecisionScope::PrecisionScope(unsigned bits) : saved_digits10_(Real::default_precision()) {
  Real::default_precision(digits10_for_bits(bits));
}

PrecisionScope::~PrecisionScope() { Real::default_precision(saved_digits10_); }

Real at_precision(const Real& value, unsigned bits) {
  Real result;
  mpfr_set_prec(result.backend().data(), static_cast<mpfr_prec_t>(bits));
  mpfr_set(result.backend().data(), value.backend().data(), MPFR_RNDN);
  return result;
}

unsigned precision_bits(const Real& value) {
  return static_cast<unsigned>(mpfr_get_prec(value.backend().data()));
}

bool is_decimal_number(std::string_view text) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  std::string word(text.substr(i));
  std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
  if (word == "inf" || word == "infinity" || word == "nan") return true;
  std::size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

Real parse_real(const std::string& text, unsigned bits) {
  if (!is_decimal_number(text)) throw std::invalid_argument("'" + text + "' is not a number");
  Real result;
  mpfr_set_prec(result.backend().data(), static_cast<mpfr_prec_t>(bits));
  char* end = nullptr;
  const int inexact = mpfr_strtofr(result.backend().data(), text.c_str(), &end, 10, MPFR_RNDN);
  (void)inexact;
  if (end != text.c_str() + text.size()) {
    throw std::invalid_argument("'" + text + "' is not a number");
  }
  return result;
}

namespace {

mpfr_rnd_t mpfr_rounding(Rounding rounding) {
  switch (rounding) {
    case Rounding::kDown: return MPFR_RNDD;
    case Rounding::kUp: return MPFR_RNDU;
    case Rounding::kNearest: break;
  }
  return MPFR_RNDN;
}

}  // namespace

double to_double(const Real& value, Rounding rounding) {
  return mpfr_get_d(value.backend().data(), mpfr_rounding(rounding));
}

float to_float(const Real& value, Rounding rounding) {
  return mpfr_get_flt(value.backend().data(), mpfr_rounding(rounding));
}

std::string to_decimal(const Real& value, int significant_digits) {
  return to_decimal(value, significant_digits, Rounding::kNearest);
}

std::string to_decimal(const Real& value, int significant_digits, Rounding rounding) {
  const mpfr_srcptr x = value.backend().data();
  if (mpfr_nan_p(x)) return "nan";
  if (mpfr_inf_p(x)) return mpfr_sgn(x) > 0 ? "inf" : "-inf";
  if (mpfr_zero_p(x)) return "0";
  // %.*R?g: rounded in the given direction, shortest of fixed/scientific,
  // trailing zeros cut.
  const char* format = rounding == Rounding::kDown ? "%.*RDg" : (rounding == Rounding::kUp ? "%.*RUg" : "%.*RNg");
  char* text = nullptr;
  if (mpfr_asprintf(&text, format, significant_digits, x) < 0 || text == nullptr) {
    throw std::bad_alloc();
  }
  std::unique_ptr<char, decltype(&mpfr_free_str)> owner(text, &mpfr_free_str);
  return std::string(text);
}

int decimal_digits_for_bits(unsigned bits) {
  return static_cast<int>(std::ceil(bits * 0.30102999566398120)) + 1;
}

}  // namespace polar_express
