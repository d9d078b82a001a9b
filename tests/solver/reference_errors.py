#!/usr/bin/env python3
"""Independent reference values for the verification tests (mpmath, 60 digits).

The C++ tests compare the tool's certified worst-case errors with the
literals this script prints.  It shares no code with the tool: the
schedules are taken from tests/data/published_schedules.json (the paper's
raw list scaled by Algorithm 1 here), and the worst case of |1 - f_T(x)| over
[a, b] is found in two ways that must agree:

  * images: each odd polynomial maps an interval onto [min, max] of its
    values at the ends and at the real critical points inside, found as the
    roots of p'(x) = 0 with mpmath.polyroots;
  * sampling: |1 - f_T| on 4000 log-spaced points, every local maximum
    refined by golden-section search on the composite itself.

Sampling can only under-estimate, so sampled <= images must hold, and the two
must agree to 1e-20 relative; the printed value is the images' one.

Run: python3 tests/solver/reference_errors.py   (needs mpmath)
"""
import json
import os

import mpmath as mp

mp.mp.dps = 60

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "published_schedules.json")


def published(name):
    with open(DATA) as f:
        for s in json.load(f)["schedules"]:
            if s["name"] == name:
                # Decimal text to mpf directly, never through a binary double.
                if "raw_steps" in s:
                    safety = 1 + mp.mpf(repr(s["design"]["safety"]))
                    raw = [[mp.mpf(repr(c)) for c in step] for step in s["raw_steps"]]
                    return [[c / safety ** (2 * k + 1) for k, c in enumerate(step)] if t + 1 < len(raw) else step
                            for t, step in enumerate(raw)]
                return [[mp.mpf(repr(c)) for c in step] for step in s["steps"]]
    raise KeyError(name)


def expand(steps, count):
    return [steps[min(t, len(steps) - 1)] for t in range(count)]


def evaluate(c, x):
    return sum(ck * x ** (2 * k + 1) for k, ck in enumerate(c))


def image(c, a, b):
    # p'(x) = sum (2k+1) c_k x^(2k): roots in x^2 via polyroots (highest first).
    derivative = [(2 * k + 1) * ck for k, ck in enumerate(c)][::-1]
    points = [a, b]
    if len(derivative) > 1:
        for y in mp.polyroots(derivative, maxsteps=400, extraprec=400):
            if abs(mp.im(y)) < mp.mpf(10) ** -40 and mp.re(y) > 0:
                x = mp.sqrt(mp.re(y))
                if a < x < b:
                    points.append(x)
    values = [evaluate(c, x) for x in points]
    return min(values), max(values)


def errors_by_images(chain, a, b):
    lo, hi = a, b
    out = []
    for c in chain:
        lo, hi = image(c, lo, hi)
        out.append(max(abs(1 - lo), abs(1 - hi)))
    return out


def error_by_sampling(chain, a, b, points=4000):
    def gap(x):
        for c in chain:
            x = evaluate(c, x)
        return abs(1 - x)

    ratio = (b / a) ** (mp.mpf(1) / points)
    xs = [a * ratio ** i for i in range(points)] + [b]
    gs = [gap(x) for x in xs]
    best = max(gs)
    golden = (mp.sqrt(5) - 1) / 2
    for i in range(len(xs)):
        if (i == 0 or gs[i] >= gs[i - 1]) and (i + 1 == len(xs) or gs[i] >= gs[i + 1]):
            lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, len(xs) - 1)]
            c, d = hi - golden * (hi - lo), lo + golden * (hi - lo)
            gc, gd = gap(c), gap(d)
            for _ in range(150):
                if gc > gd:
                    hi, d, gd = d, c, gc
                    c = hi - golden * (hi - lo)
                    gc = gap(c)
                else:
                    lo, c, gc = c, d, gd
                    d = lo + golden * (hi - lo)
                    gd = gap(d)
            best = max(best, gc, gd)
    return best


def report(label, chain, a, b, every_step=False):
    by_images = errors_by_images(chain, a, b)
    sampled = error_by_sampling(chain, a, b)
    assert sampled <= by_images[-1] * (1 + mp.mpf(10) ** -40), (label, sampled, by_images[-1])
    assert abs(sampled - by_images[-1]) <= by_images[-1] * mp.mpf(10) ** -20, (label, sampled, by_images[-1])
    shown = by_images if every_step else by_images[-1:]
    print(f"{label}: " + ", ".join(mp.nstr(e, 17) for e in shown))


def main():
    l, u = mp.mpf("1e-3"), mp.mpf(1)
    jordan = published("muon-jordan-ns5")
    report("muon-jordan-ns5, 10 steps on [1e-3, 1], after each step", expand(jordan, 10), l, u, every_step=True)

    paper = published("polar-express-paper-d5")
    report("polar-express-paper-d5, 8 steps on [1e-3, 1], after each step", paper, l, u, every_step=True)

    nanochat = published("polar-express-nanochat-d5")
    for label, a, b in [
        ("upper x 1.01", l, u * mp.mpf("1.01")),
        ("upper x 1.02", l, u * mp.mpf("1.02")),
        ("all / 1.01", l / mp.mpf("1.01"), u / mp.mpf("1.01")),
        ("all / 1.02", l / mp.mpf("1.02"), u / mp.mpf("1.02")),
        ("lower / 10", l / 10, u),
        ("lower / 100", l / 100, u),
    ]:
        report(f"polar-express-nanochat-d5, 5 steps, {label} [{mp.nstr(a, 8)}, {mp.nstr(b, 8)}]", nanochat, a, b)


if __name__ == "__main__":
    main()
