#include "polar_express/solver/rational.hpp"

#include <mpfr.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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

double nearest_double(const Rational& value) {
  // mpq_get_d truncates towards zero: the nearest double is it or one of its
  // neighbours, compared exactly.  Past the largest double the next value up
  // is 2^1024, which rounds to an infinity.
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  const double truncated = mpq_get_d(value.backend().data());
  if (!std::isfinite(truncated)) return truncated;
  const Rational overflow(Integer(1) << 1024);
  double best = truncated;
  Rational best_distance = abs(value - Rational(truncated));
  for (const double direction : {-kInfinity, kInfinity}) {
    const double neighbour = std::nextafter(truncated, direction);
    const Rational at = std::isfinite(neighbour) ? Rational(neighbour) : (neighbour > 0 ? overflow : Rational(-overflow));
    const Rational distance = abs(value - at);
    std::uint64_t bits = 0;
    std::memcpy(&bits, &neighbour, sizeof bits);
    // A tie goes to the even significand (an infinity counts as even).
    const bool even = !std::isfinite(neighbour) || (bits & 1u) == 0;
    if (distance < best_distance || (distance == best_distance && even)) {
      best = neighbour;
      best_distance = distance;
    }
  }
  return best;
}

std::string exact_decimal(double value) {
  if (!std::isfinite(value)) throw std::invalid_argument("exact_decimal: the value is not finite");
  if (value == 0) return "0";
  int exponent = 0;
  // value = mantissa * 2^(exponent - 53) with an integer mantissa.
  const double fraction = std::frexp(std::abs(value), &exponent);
  Integer mantissa(static_cast<std::int64_t>(std::ldexp(fraction, 53)));
  int shift = exponent - 53;
  std::string digits;
  int point = 0;  // digits after the decimal point
  if (shift >= 0) {
    digits = Integer(mantissa << shift).str();
  } else {
    // m / 2^s = m 5^s / 10^s.
    digits = Integer(mantissa * boost::multiprecision::pow(Integer(5), static_cast<unsigned>(-shift))).str();
    point = -shift;
  }
  while (point > 0 && digits.back() == '0') {
    digits.pop_back();
    --point;
  }
  std::string text;
  if (point > 0) {
    if (static_cast<int>(digits.size()) <= point) digits.insert(0, static_cast<std::size_t>(point) - digits.size() + 1, '0');
    text = digits.substr(0, digits.size() - static_cast<std::size_t>(point)) + "." +
           digits.substr(digits.size() - static_cast<std::size_t>(point));
  } else {
    text = digits;
  }
  return value < 0 ? "-" + text : text;
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
