#include "real_roots.hpp"

#include "bracketed_newton.hpp"

#include <mpfr.h>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace polar_express::detail {
namespace {

using boost::multiprecision::msb;

void trim(IntegerPolynomial& p) {
  while (!p.empty() && p.back() == 0) p.pop_back();
}

int degree(const IntegerPolynomial& p) { return static_cast<int>(p.size()) - 1; }

std::size_t bit_length(const Integer& v) { return v == 0 ? 0 : msb(abs(v)) + 1; }

// p divided by the gcd of its coefficients, leading coefficient positive.
IntegerPolynomial primitive(IntegerPolynomial p) {
  trim(p);
  if (p.empty()) return p;
  Integer content = 0;
  for (const Integer& c : p) {
    content = gcd(content, c);
    if (content == 1) break;
  }
  if (p.back() < 0) content = -content;
  if (content != 1) {
    for (Integer& c : p) mpz_divexact(c.backend().data(), c.backend().data(), content.backend().data());
  }
  return p;
}

IntegerPolynomial derivative(const IntegerPolynomial& p) {
  IntegerPolynomial result;
  for (std::size_t j = 1; j < p.size(); ++j) result.push_back(p[j] * static_cast<unsigned>(j));
  trim(result);
  return result;
}

// ---------------------------------------------------------------- squarefree

// Arithmetic modulo the largest prime below 2^32 (products fit in 64 bits).
constexpr std::uint64_t kPrime = 4294967291u;
using Residues = std::vector<std::uint64_t>;

std::uint64_t mul_mod(std::uint64_t a, std::uint64_t b) {
  return a * b % kPrime;
}

std::uint64_t inverse_mod(std::uint64_t a) {
  std::uint64_t result = 1;
  for (std::uint64_t e = kPrime - 2; e; e >>= 1, a = mul_mod(a, a)) {
    if (e & 1) result = mul_mod(result, a);
  }
  return result;
}

void trim(Residues& p) {
  while (!p.empty() && p.back() == 0) p.pop_back();
}

Residues residues(const IntegerPolynomial& p) {
  Residues r;
  for (const Integer& c : p) r.push_back(mpz_fdiv_ui(c.backend().data(), kPrime));
  return r;
}

// a mod b, for b with a nonzero leading residue.
Residues remainder_mod(Residues a, const Residues& b) {
  const std::uint64_t lead_inverse = inverse_mod(b.back());
  while (a.size() >= b.size()) {
    const std::uint64_t factor = mul_mod(a.back(), lead_inverse);
    const std::size_t shift = a.size() - b.size();
    for (std::size_t j = 0; j < b.size(); ++j) {
      a[shift + j] = (a[shift + j] + kPrime - mul_mod(factor, b[j])) % kPrime;
    }
    a.pop_back();  // cancelled
    trim(a);
  }
  return a;
}

// True when gcd(p, p') is 1 modulo the prime and the prime does not divide
// the leading coefficient: then p is squarefree over the rationals (a
// repeated factor would stay repeated modulo the prime).  False says nothing.
bool squarefree_modulo_prime(const IntegerPolynomial& p) {
  Residues a = residues(p);
  if (a.size() != p.size()) return false;  // the prime divides the leading coefficient
  Residues b = residues(derivative(p));
  trim(b);
  while (!b.empty()) {
    Residues r = remainder_mod(a, b);
    a = std::move(b);
    b = std::move(r);
  }
  return a.size() == 1;
}

// lc(b)^k a - (multiples of b), of degree below b's: a multiple of the
// remainder of a by b.
IntegerPolynomial pseudo_remainder(IntegerPolynomial a, const IntegerPolynomial& b) {
  while (!a.empty() && a.size() >= b.size()) {
    const Integer lead = a.back();
    const std::size_t shift = a.size() - b.size();
    for (Integer& c : a) c *= b.back();
    for (std::size_t j = 0; j < b.size(); ++j) a[shift + j] -= lead * b[j];
    trim(a);
  }
  return a;
}

// gcd by the primitive polynomial remainder sequence.
IntegerPolynomial polynomial_gcd(IntegerPolynomial a, IntegerPolynomial b) {
  a = primitive(std::move(a));
  b = primitive(std::move(b));
  while (!b.empty()) {
    IntegerPolynomial r = primitive(pseudo_remainder(a, b));
    a = std::move(b);
    b = std::move(r);
  }
  return a;
}

// a / b for primitive b dividing a: integer coefficients by Gauss's lemma.
IntegerPolynomial exact_quotient(IntegerPolynomial a, const IntegerPolynomial& b) {
  IntegerPolynomial q(a.size() - b.size() + 1);
  for (std::size_t shift = q.size(); shift-- > 0;) {
    Integer& coefficient = q[shift];
    mpz_divexact(coefficient.backend().data(), a[shift + b.size() - 1].backend().data(), b.back().backend().data());
    for (std::size_t j = 0; j < b.size(); ++j) a[shift + j] -= coefficient * b[j];
  }
  return q;
}

// ---------------------------------------------------------------- Descartes

// f(x + 1), by repeated synthetic division.
void taylor_shift_by_one(IntegerPolynomial& f) {
  const std::size_t n = f.size();
  for (std::size_t i = 0; i + 1 < n; ++i) {
    for (std::size_t j = n - 1; j-- > i;) f[j] += f[j + 1];
  }
}

// Sign changes in the coefficients of (x + 1)^n f(1 / (x + 1)), zeros
// skipped: an upper bound on the roots of f in (0, 1), exact when it is 0
// or 1 (Descartes' rule through the Moebius map of (0, 1) onto (0, inf)).
// Counting stops at 2.
int descartes_bound(const IntegerPolynomial& f) {
  IntegerPolynomial g(f.rbegin(), f.rend());
  taylor_shift_by_one(g);
  int changes = 0;
  int last = 0;
  for (const Integer& c : g) {
    const int s = c.sign();
    if (s == 0) continue;
    if (last != 0 && s != last && ++changes == 2) break;
    last = s;
  }
  return changes;
}

// The upper bound 2^b of the positive roots (Kioustelidis: below
// 2 max over negative q_j of (|q_j| / q_n)^(1/(n-j)), with q_n > 0), or
// nullopt when no coefficient is negative and so no root is positive.
std::optional<long> positive_root_bound_exponent(const IntegerPolynomial& q) {
  const long n = degree(q);
  const long lead_bits = static_cast<long>(bit_length(q.back()));
  std::optional<long> exponent;
  for (long j = 0; j < n; ++j) {
    if (q[static_cast<std::size_t>(j)] >= 0) continue;
    // |q_j| / q_n < 2^(L_j - L_n + 1); its (n-j)-th root, rounded up.
    const long numerator = static_cast<long>(bit_length(q[static_cast<std::size_t>(j)])) - lead_bits + 1;
    const long root = numerator >= 0 ? (numerator + (n - j) - 1) / (n - j) : -((-numerator) / (n - j));
    exponent = std::max(exponent.value_or(root + 1), root + 1);
  }
  return exponent;
}

// y = c * 2^exponent, exactly.
Real dyadic(const Integer& c, long exponent) {
  Real y;
  mpfr_set_prec(y.backend().data(), static_cast<mpfr_prec_t>(std::max<std::size_t>(bit_length(c), 2)));
  mpfr_set_z_2exp(y.backend().data(), c.backend().data(), exponent, MPFR_RNDN);
  return y;
}

struct Isolated {
  std::vector<std::pair<Real, Real>> intervals;  // one root of q in each open interval
  std::vector<Real> exact;                        // roots met exactly
};

// The positive roots of a squarefree q with q(0) != 0.
Isolated isolate_positive(const IntegerPolynomial& q) {
  Isolated out;
  const std::optional<long> bound = positive_root_bound_exponent(q);
  if (!bound) return out;
  const long b = *bound;
  const std::size_t n = q.size() - 1;
  // f(x) = q(2^b x) scaled to integers; roots of q in (0, 2^b) <-> roots of f in (0, 1).
  IntegerPolynomial f = q;
  for (std::size_t j = 0; j <= n; ++j) {
    const long shift = b >= 0 ? b * static_cast<long>(j) : -b * static_cast<long>(n - j);
    f[j] <<= static_cast<unsigned>(shift);
  }
  // A node: the interval [c, c + 1] 2^(b - k) of y and f(x) = q(2^(b-k) (c + x)) up to a positive factor.
  struct Node {
    IntegerPolynomial f;
    Integer c;
    long k;
  };
  std::vector<Node> stack;
  stack.push_back({primitive(std::move(f)), Integer(0), 0});
  constexpr long kMaxDepth = 1 << 20;  // far beyond any separation MPFR can express
  while (!stack.empty()) {
    Node node = std::move(stack.back());
    stack.pop_back();
    const int bound_count = descartes_bound(node.f);
    if (bound_count == 0) continue;
    if (bound_count == 1) {
      out.intervals.emplace_back(dyadic(node.c, b - node.k), dyadic(node.c + 1, b - node.k));
      continue;
    }
    if (node.k > kMaxDepth) throw SolverError("root isolation did not separate the roots of p'");
    // Left half: 2^n f(x / 2); right half: that shifted by one.
    IntegerPolynomial left = node.f;
    for (std::size_t j = 0; j <= n; ++j) left[j] <<= static_cast<unsigned>(n - j);
    IntegerPolynomial right = left;
    taylor_shift_by_one(right);
    const Integer middle = 2 * node.c + 1;
    if (right[0] == 0) out.exact.push_back(dyadic(middle, b - node.k - 1));
    stack.push_back({primitive(std::move(right)), middle, node.k + 1});
    stack.push_back({primitive(std::move(left)), 2 * node.c, node.k + 1});
  }
  return out;
}

// ---------------------------------------------------------------- exact signs

// The sign of sum p[j] y^j for y = m 2^e: with s = -e > 0, the sign of
// sum p[j] m^j 2^(s (n - j)), evaluated by Horner in integers.
int exact_sign_impl(const IntegerPolynomial& p, const Real& y) {
  if (p.empty()) return 0;
  const mpfr_srcptr x = y.backend().data();
  if (mpfr_zero_p(x)) return p[0].sign();
  Integer m;
  long e = mpfr_get_z_2exp(m.backend().data(), x);
  const mp_bitcnt_t zeros = mpz_scan1(m.backend().data(), 0);
  m >>= zeros;
  e += static_cast<long>(zeros);
  Integer result = p.back();
  if (e >= 0) {
    const Integer value = m << static_cast<unsigned>(e);
    for (std::size_t j = p.size() - 1; j-- > 0;) result = result * value + p[j];
  } else {
    const unsigned s = static_cast<unsigned>(-e);
    const std::size_t n = p.size() - 1;
    for (std::size_t j = n; j-- > 0;) result = result * m + (p[j] << static_cast<unsigned>(s * (n - j)));
  }
  return result.sign();
}

// The multiplicity of an exact root r of p.
int multiplicity(IntegerPolynomial p, const Real& r) {
  int count = 0;
  while (!p.empty() && exact_sign_impl(p, r) == 0) {
    p = derivative(p);
    ++count;
  }
  return count;
}

// ---------------------------------------------------------------- refinement

Real evaluate(const std::vector<Real>& c, const Real& y) {
  Real result = c.back();
  for (std::size_t j = c.size() - 1; j-- > 0;) {
    result *= y;
    result += c[j];
  }
  return result;
}

// Narrows the isolating interval (lo, hi) of the one root r of the
// squarefree q in it.  Every point tried is classified by the exact sign of
// q there (left of r, right of r, or r itself), so the bracket always holds
// r; Newton in MPFR only proposes the points, and bisection takes over
// where it does not deliver.
class Refiner {
 public:
  Refiner(const IntegerPolynomial& q, unsigned width_bits) : q_(q), dq_(derivative(q)), width_bits_(width_bits) {
    for (const Integer& c : q_) q_real_.emplace_back(c);
    for (const Integer& c : dq_) dq_real_.emplace_back(c);
  }

  RootBracket refine(const Real& lo, const Real& hi) const {
    // The sign of q on (lo, r); at an end lo that is itself a root of q (met
    // exactly) q takes the sign of q'(lo) just right of it.
    const int lo_sign = exact_sign_impl(q_, lo);
    const int left_sign = lo_sign != 0 ? lo_sign : exact_sign_impl(dq_, lo);
    // An end that is a root of q may not end r's bracket.
    const bool lo_usable = lo_sign != 0;
    const bool hi_usable = exact_sign_impl(q_, hi) != 0;
    // Arithmetic on MPFR values keeps the largest precision of its operands,
    // and the isolating ends carry only the bits they need: lift them.
    const unsigned bits = std::max({precision_bits(Real()), precision_bits(lo), precision_bits(hi)});
    Real a = at_precision(lo, bits);
    Real b = at_precision(hi, bits);
    std::optional<Real> exact;
    // Classifies a point of (a, b) and narrows [a, b] by it.
    auto try_point = [&](const Real& y) {
      if (exact || !(y > a && y < b)) return;
      const int s = exact_sign_impl(q_, y);
      if (s == 0) {
        exact = y;
      } else if (s == left_sign) {
        a = y;
      } else {
        b = y;
      }
    };
    auto bisect = [&] {
      const Real middle = (a + b) / 2;
      if (!(middle > a && middle < b)) throw SolverError("root refinement ran out of precision");
      try_point(middle);
    };
    auto narrow = [&] { return b - a <= boost::multiprecision::ldexp(b, -static_cast<int>(width_bits_)); };

    while (!exact && ((a == lo && !lo_usable) || (b == hi && !hi_usable))) bisect();
    if (!exact) {
      // Newton need only land within the target width; exact signs do the rest.
      const Real tiny = boost::multiprecision::ldexp(Real(1), -static_cast<int>(width_bits_) - 8);
      const Real estimate = bracketed_newton([&](const Real& y) { return evaluate(q_real_, y); },
                                             [&](const Real& y) { return evaluate(dq_real_, y); }, a, b, tiny);
      const Real delta = boost::multiprecision::ldexp(abs(estimate), -static_cast<int>(width_bits_) - 2);
      try_point(estimate);
      try_point(Real(estimate - delta));
      try_point(Real(estimate + delta));
    }
    while (!exact && !narrow()) bisect();
    if (exact) return {*exact, *exact};
    return {a, b};
  }

 private:
  const IntegerPolynomial& q_;
  IntegerPolynomial dq_;
  std::vector<Real> q_real_;
  std::vector<Real> dq_real_;
  unsigned width_bits_;
};

}  // namespace

IntegerPolynomial primitive_integer_polynomial(const std::vector<Rational>& c) {
  Integer common = 1;
  for (const Rational& v : c) common = lcm(common, Integer(denominator(v)));
  IntegerPolynomial p;
  for (const Rational& v : c) p.push_back(Integer(numerator(v)) * (common / Integer(denominator(v))));
  return primitive(std::move(p));
}

IntegerPolynomial squarefree_part(const IntegerPolynomial& p) {
  if (p.size() <= 2 || squarefree_modulo_prime(p)) return primitive(p);
  const IntegerPolynomial g = polynomial_gcd(p, derivative(p));
  return g.size() <= 1 ? primitive(p) : primitive(exact_quotient(p, g));
}

int exact_sign(const IntegerPolynomial& p, const Real& y) { return exact_sign_impl(p, y); }

std::vector<RootBracket> nonnegative_roots(const IntegerPolynomial& p, unsigned width_bits) {
  IntegerPolynomial q = squarefree_part(p);
  std::vector<RootBracket> roots;
  if (q.size() <= 1) return roots;
  if (q[0] == 0) {
    const Real zero = 0;
    roots.push_back({zero, zero, multiplicity(p, zero) % 2 == 1});
    q.erase(q.begin());
    if (q.size() <= 1) return roots;
  }
  const Isolated isolated = isolate_positive(q);
  for (const Real& r : isolated.exact) roots.push_back({r, r, multiplicity(p, r) % 2 == 1});
  const Refiner refiner(q, width_bits);
  for (const auto& [lo, hi] : isolated.intervals) {
    RootBracket bracket = refiner.refine(lo, hi);
    bracket.odd_multiplicity = bracket.lower == bracket.upper
                                   ? multiplicity(p, bracket.lower) % 2 == 1
                                   : exact_sign_impl(p, bracket.lower) != exact_sign_impl(p, bracket.upper);
    roots.push_back(std::move(bracket));
  }
  std::sort(roots.begin(), roots.end(), [](const RootBracket& a, const RootBracket& b) { return a.lower < b.lower; });
  return roots;
}

}  // namespace polar_express::detail
