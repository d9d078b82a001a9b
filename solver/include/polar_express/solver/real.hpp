#pragma once
// The solver's scalar: an MPFR float whose precision is chosen at run time.
//
// Boost.Multiprecision (1.74) gives new values the process-wide default
// precision, and copies keep the precision of their source.  Every solver
// entry point therefore opens a PrecisionScope for its working precision and
// converts its inputs with at_precision(); the solver is not thread-safe for
// that reason (the default precision is global).
#include <boost/multiprecision/mpfr.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace polar_express {

using Real = boost::multiprecision::mpfr_float;

// Smallest and largest precisions (bits) the solver accepts.
inline constexpr unsigned kMinPrecisionBits = 64;
inline constexpr unsigned kMaxPrecisionBits = 1u << 16;

// Raised for numerical failure: non-convergence, a lost certificate.
class SolverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sets the default precision of new Reals to at least `bits` for its lifetime.
class PrecisionScope {
 public:
  explicit PrecisionScope(unsigned bits);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  unsigned saved_digits10_;
};

// `value` re-rounded (to nearest) to exactly `bits` bits of mantissa.
Real at_precision(const Real& value, unsigned bits);

// Mantissa bits of `value`.
unsigned precision_bits(const Real& value);

// Whether `text` is a decimal number as every reader of this project takes
// it: [+-] digits [. digits] [(e|E) [+-] digits] (digits on at least one
// side of the point), or [+-] inf, infinity or nan in any case.  Nothing
// else: no blanks, no hexadecimal, none of MPFR's '@' exponents or
// "nan(...)" payloads.
bool is_decimal_number(std::string_view text);

// Parses an is_decimal_number() string at `bits` bits, correctly rounded;
// throws std::invalid_argument naming the text when it is not one.
Real parse_real(const std::string& text, unsigned bits);

// Correctly rounded decimal with `significant_digits` digits, scientific form
// only when the exponent is far from zero (e.g. "0.0123", "1.5e-30").
std::string to_decimal(const Real& value, int significant_digits);

// The same with a directed rounding: a decimal upper bound of `value`
// (kUp) or a lower bound (kDown), as a rigorous bound must be printed.
enum class Rounding { kNearest, kDown, kUp };
std::string to_decimal(const Real& value, int significant_digits, Rounding rounding);

// `value` as a double or a float rounded as asked (kNearest: ties to even),
// subnormals included; past the type's range an infinity or its largest
// finite value, as the direction says.
double to_double(const Real& value, Rounding rounding);
float to_float(const Real& value, Rounding rounding);

// Decimal digits that `bits` bits of mantissa determine, plus one for the
// round trip ("all digits the precision supports").
int decimal_digits_for_bits(unsigned bits);

}  // namespace polar_express
