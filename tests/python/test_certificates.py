"""Every certificate the project ships is about the numbers that run: for every
built-in schedule and every step, the bound in its generated C++ tables (the
double table and the float table) and in pe.Schedule.builtin(name).certificate
(its doubles and their floats) is at least the exact worst-case error of those
very numbers.  The exact error comes from an independent evaluation in mpmath
(independent_errors.py: the numbers converted exactly, witnesses found from
the critical points, |1 - f_t| at them in interval arithmetic), which shares
no code with the tool; a witness above a certificate is a failure.  The
witnesses also meet the certificates to 1e-9, so a certificate can be neither
wrong nor vacuous."""

import pathlib
import re
from fractions import Fraction

import numpy as np
import pytest

import polar_express as pe

mp = pytest.importorskip("mpmath", reason="the independent evaluation needs mpmath")
from independent_errors import attained_errors, inside, read_decimal  # noqa: E402  (needs mpmath)

GENERATED = pathlib.Path(__file__).resolve().parents[2] / "generated"
HEX = r"-?0x[0-9a-f.]+p[-+]\d+f?"


def hex_value(literal):
    """A C hexadecimal float literal as the binary number it denotes (exactly)."""
    return float.fromhex(literal.rstrip("f"))


def tables(text):
    """The generated header's two tables: {"double": rows, "float": rows}, each row
    the coefficients its degree uses."""
    found = {}
    for kind, body in re.findall(r"OddPolynomialStep<(double|float), \d+>, \d+> \w+\{\{(.*?)\n\}\};", text, re.S):
        body = re.sub(r"//[^\n]*", "", body)
        rows = []
        for degree, literals in re.findall(r"\{(\d+),\s*\{([^}]*)\}\}", body):
            values = [hex_value(v.strip()) for v in literals.split(",")]
            rows.append(values[: (int(degree) + 1) // 2])
        found[kind] = rows
    return found


def certificate(text):
    """The header's input interval (its decimal ends rounded inwards) and, per
    table, each step's proved bound as decimal text and as the double the runtime
    reads."""
    info = text[text.index("_info{"):]
    lower, upper = re.search(r'\n    \d+,\n    "([^"]*)",\n    "([^"]*)",\n', info).groups()
    rows = re.findall(r'\{"[^"]*",\s*"[^"]*",\s*"[^"]*",\s*"([^"]*)",\s*"([^"]*)",\s*'
                      rf"{HEX}, {HEX}, {HEX}, ({HEX}), ({HEX})\}}", info)
    bounds = {
        "double": [(read_decimal(text_bound), hex_value(value)) for text_bound, _, value, _ in rows],
        "float": [(read_decimal(text_bound), hex_value(value)) for _, text_bound, _, value in rows],
    }
    return inside(lower, upward=True), inside(upper, upward=False), bounds


def identifier(name):
    return name.replace("-", "_")


def check(chain, lower, upper, bounds, label):
    """Each bound (a number, or several for one step) at least the error the
    independent evaluation attains, and within 1e-9 of it."""
    attained, images = attained_errors(chain, lower, upper)
    assert len(bounds) == len(chain), label
    for t, (seen, estimate, step_bounds) in enumerate(zip(attained, images, bounds)):
        # The witnesses reach the images' extremes: the evaluation missed none.
        assert seen >= estimate * (1 - mp.mpf(10) ** -30), (label, t + 1)
        for bound in step_bounds if isinstance(step_bounds, tuple) else (step_bounds,):
            assert seen <= bound, f"{label} step {t + 1}: the certificate {bound} is below the attained {seen}"
            assert bound <= seen * (1 + mp.mpf(10) ** -9) + mp.mpf(10) ** -300, (label, t + 1, bound, seen)


def test_every_builtin_has_generated_tables():
    headers = {p.stem for p in GENERATED.glob("*.hpp") if "_info{" in p.read_text()}
    assert {identifier(n) for n in pe.schedules()} <= headers


@pytest.mark.parametrize("name", pe.schedules() + ["polar-express-d3", "polar-express-d7"])
def test_generated_tables_certify_the_numbers_they_hold(name):
    text = (GENERATED / f"{identifier(name)}.hpp").read_text()
    found = tables(text)
    lower, upper, bounds = certificate(text)
    for kind in ("double", "float"):
        check(found[kind], lower, upper, bounds[kind], f"{name} {kind} table")


@pytest.mark.parametrize("name", pe.schedules())
def test_builtin_certificates_certify_the_doubles_and_their_floats(name):
    schedule = pe.Schedule.builtin(name)
    cert = schedule.certificate
    doubles = schedule.coefficients
    floats = [[float(np.float32(c)) for c in step] for step in doubles]
    check(doubles, cert.lower, cert.upper, cert.error_bounds, f"{name} doubles")
    check(floats, cert.lower, cert.upper, cert.float_error_bounds, f"{name} floats")


@pytest.mark.skipif(not pe.has_solver, reason="this build has no MPFR solver")
def test_designed_and_read_schedules_certify_their_doubles(tmp_path):
    designed = pe.design(degree=[7, 5], lower=1e-3, steps=4, cushion=0.02, safety=0.02)
    cert = designed.certificate
    check(designed.coefficients, cert.lower, cert.upper, cert.error_bounds, "design doubles")
    document = designed.document
    # The JSON certifies the MPFR coefficients and, apart, the doubles: the
    # latter are the runtime's, with the bounds the handle carries.
    assert document["certified"] == "mpfr"
    for step, coefficients in zip(document["steps"], designed.coefficients):
        assert [float(Fraction(c)) for c in step["double"]["coefficients"]] == coefficients
    check(designed.coefficients, cert.lower, cert.upper,
          [read_decimal(step["double"]["error_enclosure"][1]) for step in document["steps"]], "design JSON doubles")
