"""pe.Schedule, pe.schedules, pe.design and pe.verify against the published
lists and a sampled evaluation of the polynomials in numpy."""

import decimal
import json

import numpy as np
import pytest

import polar_express as pe

solver = pytest.mark.skipif(not pe.has_solver, reason="this build has no MPFR solver")


def published_coefficients(entry):
    """A published list as it runs: "steps" as printed, or the paper's
    "raw_steps" with every step but the last divided by (s, s^3, s^5) for
    its posthoc safety s."""
    if "steps" in entry:
        return entry["steps"]
    s = 1 + entry["design"]["safety"]
    raw = entry["raw_steps"]
    return [[c / s ** (2 * k + 1) for k, c in enumerate(step)] for step in raw[:-1]] + [raw[-1]]


def sampled_errors(schedule, lower, upper, steps=None, points=200001):
    """max |1 - f_t(x)| after each step t on a log-spaced grid of [lower, upper],
    evaluated in extended precision (numpy longdouble): at most the true maximum
    plus a rounding far below the certificates' slack."""
    x = np.geomspace(np.longdouble(lower), np.longdouble(upper), points)
    coefficients = [np.array(c, dtype=np.longdouble) for c in schedule.coefficients]
    errors = []
    for t in range(steps or len(coefficients)):
        c = coefficients[min(t, len(coefficients) - 1)]
        x = x * np.polyval(c[::-1], x * x)
        errors.append(float(np.max(np.abs(1 - x))))
    return errors


def certifies(bound, sampled):
    """A certificate holds what sampling sees and is tight to 0.1%."""
    return sampled - 1e-17 <= bound <= sampled * (1 + 1e-3) + 1e-15


def test_catalogue_names_are_the_published_ones(published):
    assert pe.schedules() == list(published)


def test_builtin_coefficients_are_the_published_numbers(published):
    for name, entry in published.items():
        schedule = pe.Schedule.builtin(name)
        expected = published_coefficients(entry)
        assert schedule.steps == len(expected) and schedule.name == name
        np.testing.assert_allclose(np.concatenate(schedule.coefficients), np.concatenate(expected), rtol=1e-15)
        assert schedule.degrees == [2 * len(c) - 1 for c in expected]
        assert schedule.after_list == entry["after_list"]


def test_builtin_certificates_bound_the_sampled_error():
    # The built-ins carry the certificate of the doubles they run (the exact
    # check against mpmath is test_certificates.py).
    for name in ["polar-express-paper-d5", "polar-express-nanochat-d5"]:
        schedule = pe.Schedule.builtin(name)
        cert = schedule.certificate
        sampled = sampled_errors(schedule, cert.lower, cert.upper)
        for bound, seen in zip(cert.error_bounds, sampled):
            assert certifies(bound, seen), name


def test_normalisation_of_builtins(published):
    nanochat = pe.Schedule.builtin("polar-express-nanochat-d5")
    assert (nanochat.normalization, nanochat.normalization_factor, nanochat.eps) == ("frobenius", 1.02, 1e-6)
    assert published["polar-express-nanochat-d5"]["normalization"] == "X / (1.02 * ||X||_F + 1e-6)"
    aol = [n for n, e in published.items() if e.get("normalization") == "AOL"]
    for name in aol:
        assert pe.Schedule.builtin(name).normalization == "aol"


def test_coefficient_lists():
    s = pe.Schedule(coefficients=[[3.0, -3.2, 1.2], [1.875, -1.25, 0.375]], normalization_factor=1.02, eps=1e-6,
                    after_list="cycle", name="mine")
    assert (s.name, s.steps, s.degrees, s.after_list, s.eps, s.normalization_factor) == (
        "mine", 2, [5, 5], "cycle", 1e-6, 1.02)
    assert s.coefficients == [[3.0, -3.2, 1.2], [1.875, -1.25, 0.375]]
    assert s.certificate is None and s.error_bound() is None
    assert s == pe.Schedule([[3.0, -3.2, 1.2], [1.875, -1.25, 0.375]], 1.02, 1e-6, "cycle", "mine")
    assert s != s.with_eps(1e-7) and s.with_eps(1e-7).eps == 1e-7
    assert pe.Schedule.from_spec(s.to_spec()) == s
    assert pe.Schedule.builtin("muon-jordan-ns5").to_spec() == "muon-jordan-ns5"
    cubic = pe.Schedule([[1.5, -0.5]])
    assert cubic.degrees == [3]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(coefficients=[]), "non-empty"),
        (dict(coefficients=[[1.0]]), "at least 2"),
        (dict(coefficients=[[1.0, float("nan")]]), "finite"),
        (dict(coefficients=[[1.5, -0.5]], normalization_factor=0.0), "factor"),
        (dict(coefficients=[[1.5, -0.5]], eps=-1.0), "eps"),
        (dict(coefficients=[[1.5, -0.5]], after_list="loop"), "after_list"),
        (dict(coefficients=[[1.5, "x"]]), "real number"),
    ],
)
def test_bad_schedules(arguments, message):
    with pytest.raises(ValueError, match=message):
        pe.Schedule(**arguments)


def test_unknown_builtin_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown schedule 'nope'.*polar-express-paper-d5"):
        pe.Schedule.builtin("nope")


@solver
def test_design_reproduces_the_published_nanochat_list(published):
    schedule = pe.design(degree=5, lower=1e-3, steps=5, cushion=0.02, safety=0.02, safety_mode="inloop")
    expected = published["polar-express-nanochat-d5"]["steps"]
    np.testing.assert_allclose(np.concatenate(schedule.coefficients), np.concatenate(expected), rtol=1e-12)
    document = schedule.document
    assert document["schema"] == "polar-express/schedule/v1" and len(document["steps"]) == 5
    # Its certificate is that of the doubles: at least the sampled error, and
    # no further above it than the certification's slack.
    sampled = sampled_errors(schedule, 1e-3, 1.0)
    for bound, seen in zip(schedule.certificate.error_bounds, sampled):
        assert certifies(bound, seen)


@solver
def test_design_to_a_target_error():
    schedule = pe.design(degree=[7, 5], lower="1e-3", target_error=1e-6)
    assert schedule.degrees[0] == 7 and set(schedule.degrees[1:]) == {5}
    assert schedule.error_bound() <= 1e-6
    with pytest.raises(ValueError, match="exactly one"):
        pe.design(degree=5, lower=1e-3)
    with pytest.raises(ValueError):
        pe.design(degree=4, lower=1e-3, steps=3)


@solver
def test_verify_certifies_the_doubles():
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    result = pe.verify(schedule, lower=1e-3, upper=1.0, steps=10)
    assert result["schema"] == "polar-express/verification/v1"
    assert len(result["steps"]) == 10
    sampled = sampled_errors(schedule, 1e-3, 1.0, steps=10)
    for step, seen in zip(result["steps"], sampled):
        assert certifies(float(step["error_after"]), seen)
    # Defaults: the certificate's interval and the list's length.
    assert len(pe.verify("polar-express-paper-d5")["steps"]) == 8
    with pytest.raises(ValueError, match="lower"):
        pe.verify(schedule, lower=0.0)


@solver
def test_verify_with_rounding(published):
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    exact = pe.verify(schedule, lower=1e-3, upper=1.0)
    rounded = pe.verify(schedule, lower=1e-3, upper=1.0, dtype="f64", shape=(64, 256))
    r = rounded["rounding"]
    assert r["dtype"] == "f64" and r["shape"] == [64, 256] and r["form"] == "direct"
    # Rounding only widens the exact chain; in f64 the list stays in its band.
    for with_rounding, step in zip(r["steps"], exact["steps"]):
        assert float(with_rounding["error"]) >= float(step["error_enclosure"][1])
    assert r["blow_up_step"] is None
    # The top singular value 2% high: in exact arithmetic 1.02 already ends
    # above 2 (each step's value computed here in 40-digit decimals, whose
    # exponent range holds the 1e11019 it reaches, from the published
    # numbers), so the normalised input is past the band in every precision.
    with decimal.localcontext() as context:
        context.prec = 40
        x = decimal.Decimal("1.02")
        for c in published_coefficients(published["polar-express-paper-d5"]):
            x = x * sum(decimal.Decimal(v) * x ** (2 * k) for k, v in enumerate(c))
            assert x > 2
    high = pe.verify(schedule, lower=1e-3, upper=1.02, dtype="bf16", shape=(64, 256))
    assert high["rounding"]["blow_up_step"] == 0
    with pytest.raises(ValueError, match="bf8"):
        pe.verify(schedule, dtype="bf8", shape=(8, 8))
    with pytest.raises(ValueError, match="shape"):
        pe.verify(schedule, dtype="bf16")
    with pytest.raises(ValueError, match="shape"):
        pe.verify(schedule, dtype="bf16", shape=(0, 8))
    with pytest.raises(ValueError, match="dtype"):
        pe.verify(schedule, shape=(8, 8))


@solver
def test_schedule_files_in_both_formats(tmp_path, published):
    entry = published["polar-express-paper-d5"]
    listed = tmp_path / "published.json"
    listed.write_text(json.dumps(entry))
    from_list = pe.Schedule.from_file(listed)
    np.testing.assert_allclose(np.concatenate(from_list.coefficients),
                               np.concatenate(published_coefficients(entry)), rtol=1e-15)
    assert from_list.certificate.lower == pytest.approx(1e-3)

    designed = pe.design(degree=5, lower=1e-3, steps=4, name="four")
    ours = tmp_path / "designed.json"
    ours.write_text(json.dumps(designed.document))
    from_ours = pe.Schedule.from_file(str(ours))
    assert from_ours.coefficients == designed.coefficients and from_ours.name == "four"
    assert from_ours.certificate == designed.certificate

    with pytest.raises(ValueError, match="no such file"):
        pe.Schedule.from_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError):
        pe.Schedule.from_file(broken)
