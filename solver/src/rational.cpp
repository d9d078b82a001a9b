#include "polar_express/solver/rational.hpp"

#include <mpfr.h>

#include <cctype>
#include <stdexcept>

namespace polar_express {

Rational exact_rational(const Real& value) {
  const mpfr_srcptr x = value.backend().data();
  if (!mpfr_number_p(x)) throw std::invalid_argument("exact_rational: " + to_decimal(value, 17) + " is not finite");
  if (mpfr_zero_p(x)) return Rational(0);
  // x = mantissa * 2^exponent with an integer mantissa.
  Integer mantissa;
  const mpfr_exp_t exponent = mpfr_get_z_2exp(mantissa.backend().data(), x);
  Rational result(mantissa);
  if (exponent >= 0) {
    mpq_mul_2exp(result.backend().data(), result.backend().data(), static_cast<mp_bitcnt_t>(exponent));
  } else {
    mpq_div_2exp(result.backend().data(), result.backend().data(), static_cast<mp_bitcnt_t>(-exponent));
  }
  return result;
}

std::optional<Rational> parse_decimal_exactly(const std::string& text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  bool negative = false;
  if (i < n && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::string digits;
  long fraction_digits = 0;
  while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) digits += text[i++];
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) {
      digits += text[i++];
      ++fraction_digits;
    }
  }
  if (digits.empty()) return std::nullopt;
  long exponent = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E' || text[i] == '@')) {
    ++i;
    bool exponent_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) exponent_negative = text[i++] == '-';
    if (i == n) return std::nullopt;
    for (; i < n && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > kMaxDecimalExponent + static_cast<long>(digits.size())) return std::nullopt;
    }
    if (exponent_negative) exponent = -exponent;
  }
  if (i != n) return std::nullopt;
  exponent -= fraction_digits;
  if (exponent > kMaxDecimalExponent || exponent < -kMaxDecimalExponent) return std::nullopt;
  // Base 10 explicitly: Boost's string constructor would read "0123" as octal.
  Integer mantissa;
  mpz_set_str(mantissa.backend().data(), digits.c_str(), 10);
  Integer power = boost::multiprecision::pow(Integer(10), static_cast<unsigned>(exponent < 0 ? -exponent : exponent));
  Rational result = exponent < 0 ? Rational(mantissa, power) : Rational(mantissa * power);
  return negative ? Rational(-result) : result;
}

Real round_rational(const Rational& value, unsigned bits, Rounding rounding) {
  Real result;
  mpfr_set_prec(result.backend().data(), static_cast<mpfr_prec_t>(bits));
  const mpfr_rnd_t mode = rounding == Rounding::kDown ? MPFR_RNDD : (rounding == Rounding::kUp ? MPFR_RNDU : MPFR_RNDN);
  mpfr_set_q(result.backend().data(), value.backend().data(), mode);
  return result;
}

}  // namespace polar_express
