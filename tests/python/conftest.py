"""Shared helpers of the Python tests: matrices with a chosen spectrum and the
polar factor by numpy's SVD (the independent reference)."""

import importlib
import importlib.util
import json
import pathlib

import numpy as np
import pytest

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def published():
    """The published lists, by name (tests/data/published_schedules.json)."""
    document = json.loads((DATA / "published_schedules.json").read_text())
    return {entry["name"]: entry for entry in document["schedules"]}


def import_installed(name):
    """The module ``name``, or the test module skipped when it is not installed.
    Skipped only when absent: an installed module that fails to import (a
    broken jax, a jaxlib that does not match) fails the tests instead of
    hiding them, as pytest.importorskip would."""
    if importlib.util.find_spec(name.partition(".")[0]) is None:
        pytest.skip(f"{name} is not installed (scripts/python-env.sh --jax installs jax and optax)",
                    allow_module_level=True)
    return importlib.import_module(name)


def import_torch():
    """torch, or the test module skipped without it.  One intra-op thread: the
    tests' matrices are small, and torch's thread pool would only add
    synchronisation (on a loaded two-core machine, long spin waits)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def with_spectrum(rng, rows, cols, sigma):
    """A rows x cols float64 matrix U diag(sigma) V^T with random orthonormal U, V."""
    k = min(rows, cols)
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    return (u * np.asarray(sigma)) @ v.T


def certified_batch(rng, shape, schedule, ratio=0.05, scale=3.0):
    """Matrices (2-D, or a 3-D batch) with singular values scale * geomspace(1,
    ratio); checks that, once normalised as the schedule does (X / (f ||X||_F +
    eps)), they lie inside its certified interval, where its bound holds."""
    rows, cols = shape[-2:]
    k = min(rows, cols)
    batch = [with_spectrum(rng, rows, cols, scale * np.geomspace(1, ratio, k)) for _ in range(
        shape[0] if len(shape) == 3 else 1)]
    cert = schedule.certificate
    for g in batch:
        normalised = np.linalg.svd(g, compute_uv=False) / (
            schedule.normalization_factor * np.linalg.norm(g) + schedule.eps)
        assert cert.lower <= normalised.min() and normalised.max() <= cert.upper
    return np.stack(batch) if len(shape) == 3 else batch[0]


def rounding(dtype, shape):
    """What rounding adds to the certified error: 20 unit roundoffs of the
    element type times sqrt(K), K the long side (measured: 3 to 8 times less)."""
    return 20 * float(np.finfo(dtype).eps) / 2 * max(shape[-2:]) ** 0.5


def polar_by_svd(g):
    """(U V^T, singular values) of each matrix, in float64."""
    u, s, vt = np.linalg.svd(np.asarray(g, dtype=np.float64), full_matrices=False)
    return u @ vt, s


def sigma_error(y):
    """max |1 - sigma_i| over the matrices of y (numpy SVD in float64)."""
    s = np.linalg.svd(np.asarray(y, dtype=np.float64), compute_uv=False)
    return float(np.max(np.abs(1 - s)))
