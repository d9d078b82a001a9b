"""pe.orthogonalize on numpy arrays (and other DLPack producers on the CPU):
accuracy against numpy's SVD within the schedule's certified error, layouts,
out=, <G, U>, statuses and bad input."""

import ctypes
import re
import threading
import warnings

import numpy as np
import pytest

import polar_express as pe
from conftest import certified_batch, import_installed, polar_by_svd, rounding, sigma_error, with_spectrum

SHAPES = [(24, 40), (40, 24), (3, 24, 40), (3, 40, 24), (2, 33, 33), (2, 48, 96)]


@pytest.mark.parametrize("name", ["polar-express-paper-d5", "polar-express-nanochat-d5"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_within_certified_error(name, shape, dtype):
    schedule = pe.Schedule.builtin(name)
    rng = np.random.default_rng(sum(shape))
    g = certified_batch(rng, shape, schedule).astype(dtype)
    y = pe.orthogonalize(g, schedule=schedule)
    assert type(y) is np.ndarray and y.dtype == dtype and y.shape == g.shape

    bound = schedule.error_bound() + rounding(dtype, shape)
    assert sigma_error(y) <= bound
    # y = U f(S) V^T for G = U S V^T: its distance to the polar factor U V^T
    # in the spectral norm is max |1 - f(sigma)| too.
    polar, _ = polar_by_svd(g)
    assert np.max(np.linalg.norm(y.astype(np.float64) - polar, ord=2, axis=(-2, -1))) <= bound


def test_paper_list_past_its_end_converges_in_double():
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    rng = np.random.default_rng(7)
    g = certified_batch(rng, (4, 48, 80), schedule)
    y = pe.orthogonalize(g, schedule=schedule, steps=schedule.steps + 4)
    polar, _ = polar_by_svd(g)
    assert sigma_error(y) <= 1e-12
    assert np.max(np.abs(y - polar)) <= 1e-12


def test_report_carries_the_certified_bound():
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    g = certified_batch(np.random.default_rng(1), (2, 16, 24), schedule)
    _, report = pe.orthogonalize(g, schedule=schedule, return_report=True)
    assert report.status == ["ok", "ok"] and report.all_succeeded
    assert report.sigma_error_bound == schedule.error_bound()
    _, past = pe.orthogonalize(g, schedule=schedule, steps=schedule.steps + 1, return_report=True)
    assert past.sigma_error_bound is None  # past the certified list


@pytest.mark.parametrize("shape", [(24, 40), (3, 40, 24)])
def test_nuclear_norm_is_the_sum_of_singular_values(shape):
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    g = certified_batch(np.random.default_rng(3), shape, schedule)
    y, nuc = pe.orthogonalize(g, schedule=schedule, nuclear_norm=True)
    _, sigma = polar_by_svd(g)
    exact = sigma.sum(axis=-1)
    assert nuc.shape == exact.shape and nuc.dtype == np.float64
    # <G, U f(S) V^T> = sum sigma_i f(sigma_i): within the bound, relatively.
    assert np.all(np.abs(nuc - exact) <= (schedule.error_bound() + 1e-12) * exact)
    np.testing.assert_array_equal(y, pe.orthogonalize(g, schedule=schedule))


def test_column_major_runs_as_the_transpose():
    rng = np.random.default_rng(4)
    g = rng.standard_normal((40, 24))
    fortran = np.asfortranarray(g)
    y = pe.orthogonalize(fortran)
    assert y.flags.f_contiguous
    np.testing.assert_array_equal(y, pe.orthogonalize(np.ascontiguousarray(g.T)).T)
    np.testing.assert_allclose(y, pe.orthogonalize(g), atol=1e-12)


def test_layouts_the_runtime_cannot_take_are_copied():
    rng = np.random.default_rng(5)
    big = rng.standard_normal((6, 20, 30))
    expected = pe.orthogonalize(np.ascontiguousarray(big[::2, :, ::2]))
    np.testing.assert_array_equal(pe.orthogonalize(big[::2, :, ::2]), expected)  # strided columns
    np.testing.assert_array_equal(pe.orthogonalize(big[::2]), pe.orthogonalize(big[::2].copy()))  # batch gaps
    np.testing.assert_array_equal(pe.orthogonalize(big[0, ::-1]), pe.orthogonalize(big[0, ::-1].copy()))
    readonly = big[1].copy()
    readonly.flags.writeable = False
    np.testing.assert_array_equal(pe.orthogonalize(readonly), pe.orthogonalize(big[1]))


def test_out_writes_in_place():
    rng = np.random.default_rng(6)
    g = rng.standard_normal((3, 16, 24))
    expected = pe.orthogonalize(g)
    out = np.empty_like(g)
    assert pe.orthogonalize(g, out=out) is out
    np.testing.assert_array_equal(out, expected)
    assert pe.orthogonalize(g, out=g) is g
    np.testing.assert_array_equal(g, expected)
    h = rng.standard_normal((16, 24))
    fortran_out = np.asfortranarray(np.empty((16, 24)))  # another layout: computed, then copied
    assert pe.orthogonalize(h, out=fortran_out) is fortran_out
    np.testing.assert_array_equal(fortran_out, pe.orthogonalize(h))


def test_out_must_match():
    g = np.random.default_rng(0).standard_normal((16, 24))
    with pytest.raises(ValueError, match="shape"):
        pe.orthogonalize(g, out=np.empty((24, 16)))
    with pytest.raises(TypeError, match="float32"):
        pe.orthogonalize(g, out=np.empty((16, 24), dtype=np.float32))
    readonly = np.empty((16, 24))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match=r"out \(ndarray\) is not writable"):
        pe.orthogonalize(g, out=readonly)


def test_non_finite_and_zero_matrices_are_reported_per_matrix():
    rng = np.random.default_rng(8)
    g = rng.standard_normal((4, 12, 20))
    g[1, 3, 4] = np.nan
    g[2, 0, 0] = np.inf
    g[3] = 0
    with pytest.warns(pe.OrthogonalizeWarning, match=r"2 of 4 .*matrix 1: non-finite input; matrix 2: non-finite"):
        y, report = pe.orthogonalize(g, return_report=True)
    assert report.status == ["ok", "non-finite input", "non-finite input", "zero"]
    assert np.isnan(y[1]).all() and np.isnan(y[2]).all()
    assert np.array_equal(y[3], np.zeros((12, 20)))
    np.testing.assert_array_equal(y[0], pe.orthogonalize(g[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pe.OrthogonalizeWarning)
        with pytest.raises(pe.OrthogonalizeWarning):
            pe.orthogonalize(g[1])


def test_diverging_schedule_is_reported():
    # p(x) = 3x: every singular value grows 3^steps times.
    runaway = pe.Schedule(coefficients=[[3.0, 0.0]], name="runaway")
    g = np.random.default_rng(9).standard_normal((8, 8))
    with pytest.warns(pe.OrthogonalizeWarning, match="diverged"):
        y = pe.orthogonalize(g, schedule=runaway, steps=40)
    assert np.isnan(y).all()


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.ones(5), ValueError, "2-D matrix or a 3-D batch"),
        (np.ones((2, 2, 3, 3)), ValueError, "4-D"),
        (np.ones((0, 4)), ValueError, "empty"),
        (np.ones((3, 4), dtype=np.int64), TypeError, "int64"),
        (np.ones((3, 4), dtype=np.complex128), TypeError, "complex128"),
        (np.ones((3, 4), dtype=np.uint16), TypeError, "uint16"),
        (np.ones((3, 4), dtype=bool), TypeError, "bool"),
        ([[1.0, 2.0], [3.0, 4.0]], TypeError, "DLPack"),
    ],
)
def test_bad_input_raises_one_clear_error(bad, error, message):
    with pytest.raises(error, match=message):
        pe.orthogonalize(bad)


def test_bad_arguments():
    g = np.eye(3)
    with pytest.raises(ValueError, match="unknown schedule 'nope'"):
        pe.orthogonalize(g, schedule="nope")
    with pytest.raises(ValueError, match="steps"):
        pe.orthogonalize(g, steps=0)
    with pytest.raises(TypeError, match="schedule must be"):
        pe.orthogonalize(g, schedule=3)


class _CudaLookalike:
    """A DLPack producer that says its data is on CUDA device 0."""

    def __dlpack_device__(self):
        return (2, 0)

    def __dlpack__(self, **kwargs):
        raise AssertionError("the data must not be touched before the device is checked")


def test_cuda_input_without_the_backend_is_one_clear_error():
    if pe.cuda_available():
        pytest.skip("the CUDA backend is available here")
    with pytest.raises(pe.BackendUnavailable) as caught:
        pe.orthogonalize(_CudaLookalike())
    assert isinstance(caught.value, ValueError) and "CUDA" in str(caught.value)


def test_plans_are_cached_and_reused():
    pe.clear_plan_cache()
    rng = np.random.default_rng(10)
    for _ in range(3):
        pe.orthogonalize(rng.standard_normal((4, 16, 24)))
    assert pe.plan_cache_size() == 1
    pe.orthogonalize(rng.standard_normal((4, 16, 24)).astype(np.float32))
    pe.orthogonalize(rng.standard_normal((4, 16, 24)), steps=7)
    assert pe.plan_cache_size() == 3
    capacity = pe.plan_cache_capacity()
    try:
        pe.set_plan_cache_capacity(2)
        assert pe.plan_cache_size() == 2
    finally:
        pe.set_plan_cache_capacity(capacity)


def test_one_cpu_thread_makes_results_independent_of_the_batch():
    # With one thread a matrix runs alone whatever the batch size (no OpenBLAS
    # thread split that depends on it): a batch equals its matrices one by one.
    rng = np.random.default_rng(12)
    batch = rng.standard_normal((5, 64, 96)).astype(np.float32)
    assert pe.cpu_threads() == 0
    try:
        pe.set_cpu_threads(1)
        assert pe.cpu_threads() == 1 and pe.plan_cache_size() == 0
        together = pe.orthogonalize(batch)
        for b in range(5):
            assert np.array_equal(pe.orthogonalize(batch[b]), together[b])
        assert np.array_equal(pe.orthogonalize(batch[1:4]), together[1:4])
    finally:
        pe.set_cpu_threads(0)
    with pytest.raises(ValueError, match="-1"):
        pe.set_cpu_threads(-1)


def openblas_num_threads():
    """NUM_THREADS of the OpenBLAS on the loader's path, from its own
    openblas_get_config() (None when it does not say)."""
    try:
        library = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None
    library.openblas_get_config.restype = ctypes.c_char_p
    found = re.search(rb"MAX_THREADS=(\d+)", library.openblas_get_config())
    return int(found.group(1)) if found else None


def test_cpu_threads_are_bounded_by_openblas():
    # pe.set_cpu_threads(5000) once let 2000 matrices call OpenBLAS from 2000
    # threads at once: "too many memory regions", then a segfault.
    limit = pe.max_cpu_threads()
    expected = openblas_num_threads()
    if expected is not None:
        assert limit == expected
    assert limit >= 1
    for bad in (5000, limit + 1, -1, 2**40):
        with pytest.raises(ValueError, match=rf"threads must be in 0\.\.{limit}, not {bad}$"):
            pe.set_cpu_threads(bad)
    for bad in (2.0, "4", True):
        with pytest.raises(TypeError, match="threads must be an integer"):
            pe.set_cpu_threads(bad)
    assert pe.cpu_threads() == 0
    # The largest setting runs: a batch of twice as many matrices, each on one
    # worker with one BLAS thread, equals one thread's result bit for bit.
    batch = np.random.default_rng(13).standard_normal((2 * limit, 12, 20))
    try:
        pe.set_cpu_threads(1)
        alone = pe.orthogonalize(batch)
        pe.set_cpu_threads(limit)
        assert pe.cpu_threads() == limit
        np.testing.assert_array_equal(pe.orthogonalize(batch), alone)
    finally:
        pe.set_cpu_threads(0)


def test_threads_share_plans_safely():
    rng = np.random.default_rng(11)
    inputs = [rng.standard_normal((4, 32, 48)) for _ in range(8)]
    expected = [pe.orthogonalize(g) for g in inputs]
    results = [None] * len(inputs)

    def work(i):
        for _ in range(5):
            results[i] = pe.orthogonalize(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_jax_arrays_come_back_as_jax_arrays():
    jnp = import_installed("jax.numpy")
    g = np.random.default_rng(12).standard_normal((2, 16, 24)).astype(np.float32)
    y = pe.orthogonalize(jnp.asarray(g))
    assert type(y) is type(jnp.asarray(g)) and y.dtype == jnp.float32 and y.shape == g.shape
    np.testing.assert_array_equal(np.asarray(y), pe.orthogonalize(g))


def test_every_builtin_applies_its_polynomials_to_the_singular_values():
    """Y = U f(S) V^T, f the schedule's composed polynomials after its
    normalisation, evaluated on numpy's singular values (AOL schedules, whose
    rescaling also turns the singular vectors, only stay in range)."""
    rng = np.random.default_rng(13)
    g = with_spectrum(rng, 24, 40, 5 * np.geomspace(1, 0.1, 24))
    u, sigma, vt = np.linalg.svd(g, full_matrices=False)
    for name in pe.schedules():
        schedule = pe.Schedule.builtin(name)
        y = pe.orthogonalize(g, schedule=name)
        if schedule.normalization == "aol":
            assert np.isfinite(y).all() and sigma_error(y) < 1, name
            continue
        x = sigma / (schedule.normalization_factor * np.linalg.norm(sigma) + schedule.eps)
        for c in schedule.coefficients:
            x = x * np.polyval(c[::-1], x * x)
        np.testing.assert_allclose(y, (u * x) @ vt, rtol=0, atol=1e-12, err_msg=name)


def test_a_negative_view_is_orthogonalized_as_its_values():
    # torch's lazy negation (x._neg_view()) keeps the stored memory; the polar
    # factor of -x is -polar(x).
    torch = pytest.importorskip("torch")
    x = torch.randn(12, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    negative = x._neg_view()
    assert negative.is_neg()
    expected = pe.orthogonalize(-x)
    assert torch.equal(pe.orthogonalize(negative), expected)
    assert torch.equal(pe.orthogonalize(x), -expected)  # the sign is what the test can tell apart
    out = torch.zeros(12, 20, dtype=torch.float64)._neg_view()
    assert out.is_neg()
    pe.orthogonalize(negative, out=out)
    assert torch.equal(out, expected)
