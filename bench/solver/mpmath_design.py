#!/usr/bin/env python3
"""A straightforward mpmath implementation of `polar-express design`: the
baseline the C++ solver is timed against (bench/solver/run.sh), and an
independent check of its values (tests quote the step-7 coefficients).

Greedy Polar Express chain: Remez on [max(l, cushion*u), u] (linear solve for
the levelled system, extrema from the real roots of p' in y = x^2 found with
mpmath.polyroots), recentring, safety factor (posthoc or inloop, every step but
the last), and the error after each step from the images of the input interval.

usage: mpmath_design.py DEGREE LOWER STEPS CUSHION SAFETY MODE [DIGITS] [--repeat N]
"""
import sys
import time

import mpmath as mp


def evaluate(c, x):
    y = x * x
    acc = mp.mpf(0)
    for coefficient in reversed(c):
        acc = acc * y + coefficient
    return acc * x


def critical_points(c, a, b):
    # p'(x) = sum (2k+1) c_k y^k; polyroots wants the highest power first.
    q = len(c)
    if q == 1:
        return []
    dy = [(2 * k + 1) * c[k] for k in range(q)][::-1]
    roots = mp.polyroots(dy, maxsteps=200, extraprec=2 * mp.mp.prec)
    points = []
    for r in roots:
        if abs(mp.im(r)) < mp.mpf(10) ** (-mp.mp.dps // 2) and a * a < mp.re(r) < b * b:
            points.append(mp.sqrt(mp.re(r)))
    return sorted(points)


def image(c, a, b):
    values = [evaluate(c, a), evaluate(c, b)] + [evaluate(c, x) for x in critical_points(c, a, b)]
    return min(values), max(values)


def remez(degree, l, u):
    q = (degree + 1) // 2
    points = [(l + u) / 2 - (u - l) / 2 * mp.cos(mp.pi * i / q) for i in range(q + 1)]
    for _ in range(200):
        rows = [[x ** (2 * k + 1) for k in range(q)] + [(-1) ** i] for i, x in enumerate(points)]
        solution = mp.lu_solve(mp.matrix(rows), mp.matrix([1] * (q + 1)))
        c = [solution[k] for k in range(q)]
        points = [l] + critical_points(c, l, u) + [u]
        errors = [abs(1 - evaluate(c, x)) for x in points]
        if max(errors) - min(errors) <= mp.mpf(2) ** (-mp.mp.prec + 64) * max(errors):
            return c
    raise RuntimeError("Remez did not converge")


def design(degree, lower, steps, cushion, safety, mode):
    l, u = mp.mpf(lower), mp.mpf(1)
    raw, scaled = [], []
    for _ in range(steps):
        lo = max(l, cushion * u)
        c = remez(degree, lo, u)
        if lo > l:
            bottom, top = image(c, l, u)
            c = [x * 2 / (bottom + top) for x in c]
        s = [x / (1 + safety) ** (2 * k + 1) for k, x in enumerate(c)]
        raw.append(c)
        scaled.append(s)
        bottom, _ = image(s if mode == "inloop" else c, l, u)
        l, u = bottom, 2 - bottom
    schedule = scaled[:-1] + [raw[-1]]
    a, b = mp.mpf(lower), mp.mpf(1)
    errors = []
    for c in schedule:
        a, b = image(c, a, b)
        errors.append(max(1 - a, b - 1))
    return schedule, errors


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    if "--repeat" in sys.argv:
        args.remove(str(repeat))
    degree, lower, steps, cushion, safety, mode = args[:6]
    mp.mp.prec = int(args[6]) if len(args) > 6 else 256
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        schedule, errors = design(int(degree), mp.mpf(lower), int(steps), mp.mpf(cushion), mp.mpf(safety), mode)
        times.append(time.perf_counter() - start)
    for c, e in zip(schedule, errors):
        print(" ".join(mp.nstr(x, 20) for x in c), " error", mp.nstr(e, 6))
    times.sort()
    print(f"median_ms {1000 * times[len(times) // 2]:.3f}")


if __name__ == "__main__":
    main()
