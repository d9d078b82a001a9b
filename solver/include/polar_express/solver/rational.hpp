#pragma once
// Exact rationals (GMP's mpq through Boost.Multiprecision): the values a
// certificate is about.  A coefficient read as decimal text is the rational
// that text denotes, and an MPFR value is the dyadic rational it holds.
#include "polar_express/solver/real.hpp"

#include <boost/multiprecision/gmp.hpp>

#include <optional>
#include <string>

namespace polar_express {

using Rational = boost::multiprecision::mpq_rational;
using Integer = boost::multiprecision::mpz_int;

// The value of a finite MPFR number, exactly.  Throws std::invalid_argument
// for NaN or an infinity.
Rational exact_rational(const Real& value);

// Decimal exponents beyond this are refused.  Certification works on the
// exact rationals, whose sizes follow the exponents: a coefficient of
// 1e-10000 (33 kbit) certifies in a tenth of a second, one of 1e-66601 (the
// schedule-reader fuzzer's find) took a minute.
inline constexpr long kMaxDecimalExponent = 10000;

// The exact value of a decimal numeral as MPFR's strtofr reads it in base 10:
// [+-] digits [. digits] [(e|E|@) [+-] digits], at least one digit in the
// mantissa ("2", "-3.4445", ".5", "1.", "1e-3", "2.5E+10").  nullopt for
// anything else, and for an exponent beyond +-kMaxDecimalExponent.
std::optional<Rational> parse_decimal_exactly(const std::string& text);

// The double nearest to `value` (ties to even), subnormals included; an
// infinity where it rounds past the largest double.
double nearest_double(const Rational& value);

// The decimal numeral whose value is exactly the finite double `value`
// (every double is a terminating decimal), without trailing zeros, e.g.
// "0.1000000000000000055511151231257827021181583404541015625": what
// parse_decimal_exactly reads back as that double.  Throws
// std::invalid_argument for NaN or an infinity.
std::string exact_decimal(double value);

// `value` rounded to `bits` bits towards -infinity (kDown), +infinity (kUp)
// or to nearest.
Real round_rational(const Rational& value, unsigned bits, Rounding rounding);

}  // namespace polar_express
