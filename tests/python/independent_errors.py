"""Lower bounds on the worst-case error of a chain of odd polynomials,
computed with mpmath and no code of polar_express.

For coefficients given as binary floats (converted to mpmath exactly) and an
input interval [a, b], ``attained_errors`` returns for every step t a number
that max_{x in [a, b]} |1 - f_t(x)| is proved to reach: |1 - f_t(x)| at a
witness point x, evaluated in interval arithmetic and rounded down.  A
certificate below it is wrong, whatever the accuracy of the search.

The witnesses follow the image of [a, b] step by step.  Each odd polynomial
p maps an interval onto [min, max] of its values at the ends and at its real
critical points inside (the roots of p', found by numpy and refined by
Newton's method in mpmath).  The ends of the image of step t-1 are attained
at known witnesses; a critical point c inside it is attained at some x
between the two witnesses, where f_{t-1}(x) - c changes sign, and bisection
finds such an x.  Then f_t(x) is within a quadratic error of p_t(c).  The
images' own values (an estimate, not a bound) come back too: the witnesses
must approach them, so that a search that missed an extremum fails loudly
rather than passing.
"""

from fractions import Fraction

import mpmath as mp
import numpy as np

# Far more digits than a certificate prints (about 80), so that neither the
# witnesses nor the certificates read back lose anything the check needs.
DIGITS = 120
mp.mp.dps = DIGITS
mp.iv.dps = DIGITS


def inside(text, upward):
    """The decimal `text` as a binary number at DIGITS, rounded up (a lower end)
    or down (an upper end): inside the interval the decimal ends bound."""
    value = Fraction(text)
    return mp.fdiv(value.numerator, value.denominator, rounding="u" if upward else "d")


def read_decimal(text):
    """A decimal certificate as a binary number at DIGITS, rounded up: never below
    the value the text states."""
    return inside(text, upward=True)


def _evaluate(coefficients, x):
    """sum c_k x^(2k+1) by Horner in x^2 (works for mpf and iv.mpf)."""
    square = x * x
    total = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        total = total * square + c
    return total * x


def _compose(chain, x):
    for coefficients in chain:
        x = _evaluate(coefficients, x)
    return x


def _critical_points(coefficients, lo, hi):
    """Real x in (lo, hi) with p'(x) = 0: p' is even, a polynomial in z = x^2,
    whose roots numpy finds in double and Newton's method refines at DIGITS."""
    derivative = [(2 * k + 1) * c for k, c in enumerate(coefficients)]
    while len(derivative) > 1 and derivative[-1] == 0:
        derivative.pop()
    if len(derivative) < 2:
        return []

    def in_z(z):
        total = derivative[-1]
        for c in reversed(derivative[:-1]):
            total = total * z + c
        return total

    points = []
    for guess in np.roots([float(c) for c in reversed(derivative)]):
        if abs(guess.imag) > 1e-6 * abs(guess) or guess.real <= 0:
            continue
        z = mp.findroot(in_z, mp.mpf(float(guess.real)), tol=mp.mpf(10) ** (-DIGITS + 10))
        root = mp.sqrt(z)
        points += [x for x in (root, -root) if lo < x < hi]
    return points


def _preimage(prefix, target, x_below, x_above):
    """An x between x_below and x_above (f(x_below) <= target <= f(x_above),
    f the composite of `prefix`) with f(x) = target, by bisection."""
    lo, hi = x_below, x_above
    for _ in range(4 * DIGITS):
        mid = (lo + hi) / 2
        if _compose(prefix, mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _attained(chain, x):
    """|1 - f(x)| at the point x, rounded down: interval arithmetic."""
    value = _compose([[mp.iv.mpf(c) for c in step] for step in chain], mp.iv.mpf(x))
    least, most = mp.mpf(value.a), mp.mpf(value.b)
    if most < 1:
        return mp.fsub(1, most, exact=True)
    if least > 1:
        return mp.fsub(least, 1, exact=True)
    return mp.mpf(0)


def attained_errors(chain, a, b):
    """For each step t of `chain` (lists of binary floats, increasing power), a
    value that max |1 - f_t(x)| over [a, b] reaches (a and b binary numbers, or
    exactly convertible ones).  Returns (attained, images)."""
    exact = [[mp.mpf(c) for c in step] for step in chain]
    a, b = mp.mpf(a), mp.mpf(b)
    # The witnesses of the ends of the current image, and those ends.
    witness_lo, witness_hi = a, b
    lo, hi = a, b
    attained, images = [], []
    for t, coefficients in enumerate(exact):
        prefix = exact[:t]
        candidates = [witness_lo, witness_hi]
        for c in _critical_points(coefficients, lo, hi):
            candidates.append(_preimage(prefix, c, witness_lo, witness_hi))
        values = [_compose(exact[: t + 1], x) for x in candidates]
        low = min(range(len(values)), key=lambda i: values[i])
        high = max(range(len(values)), key=lambda i: values[i])
        witness_lo, witness_hi = candidates[low], candidates[high]
        lo, hi = values[low], values[high]
        images.append(max(abs(1 - lo), abs(1 - hi)))
        attained.append(max(_attained(chain[: t + 1], witness_lo), _attained(chain[: t + 1], witness_hi)))
    return attained, images
