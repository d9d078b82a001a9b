"""polar_express.jax: orthogonalize under jit and vmap against optax's
Newton-Schulz on the same coefficients and against the CPU runtime (degree 7,
mixed degrees, AOL), its failures and errors; muon against
optax.contrib.muon; Schedule.to_optax."""

import functools

import numpy as np
import pytest

from conftest import certified_batch, import_installed, polar_by_svd

jax = import_installed("jax")
optax = import_installed("optax")
import jax.numpy as jnp  # noqa: E402
from optax.contrib import MuonDimensionNumbers  # noqa: E402

import polar_express as pe  # noqa: E402
import polar_express.jax as pej  # noqa: E402

NS7 = [35 / 16, -35 / 16, 21 / 16, -5 / 16]
JORDAN = [3.4445, -4.775, 2.0315]


def relative(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def gaussian(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def jitted(schedule, steps=None):
    return jax.jit(functools.partial(pej.orthogonalize, schedule=schedule, steps=steps))


@pytest.mark.parametrize("name", ["cesista-quintic-5step", "you-6step", "cans-5step", "muon-jordan-ns5"])
@pytest.mark.parametrize("shape", [(64, 64), (96, 64), (64, 160), (48, 200)])
def test_jit_equals_optax_newton_schulz_on_the_same_coefficients(name, shape):
    schedule = pe.Schedule.builtin(name)
    steps = 5 if schedule.steps == 1 else None
    coefficients = jnp.asarray(schedule.to_optax(steps), dtype=jnp.float32)
    eps = schedule.eps
    reference = jax.jit(lambda x: optax.contrib._muon.orthogonalize_via_newton_schulz(x, coefficients, eps=eps))
    x = gaussian(shape, seed=shape[1])
    assert relative(jitted(schedule, steps)(x), reference(x)) <= 1e-5


def test_aol_equals_optax_aol_preconditioning():
    schedule = pe.Schedule.builtin("turbo-muon-aol-4step")
    coefficients = jnp.asarray(schedule.to_optax(), dtype=jnp.float32)
    x = gaussian((64, 96), seed=4)
    reference = optax.contrib._muon.orthogonalize_via_newton_schulz(x, coefficients, preconditioning="aol")
    assert relative(jitted(schedule)(x), reference) <= 1e-5


SCHEDULES = {
    "degree-7": (pe.Schedule(coefficients=[NS7], eps=1e-7, name="ns7"), 6),
    "mixed": (pe.Schedule(coefficients=[NS7, JORDAN, [1.5, -0.5]], eps=1e-7, name="mixed"), 6),
    "aol": (pe.Schedule.builtin("turbo-muon-aol-4step"), None),
    "nanochat": (pe.Schedule.builtin("polar-express-nanochat-d5"), None),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("shape", [(48, 80), (80, 48), (32, 160), (3, 40, 64)])
def test_equal_to_the_cpu_runtime(name, shape):
    schedule, steps = SCHEDULES[name]
    x = gaussian(shape, seed=len(shape))
    native = pe.orthogonalize(x, schedule=schedule, steps=steps)
    assert relative(jitted(schedule, steps)(x), native) <= 1e-5


def test_vmap_jit_and_eager_agree():
    schedule = SCHEDULES["mixed"][0]
    x = gaussian((4, 40, 64), seed=2)
    batched = jax.vmap(functools.partial(pej.orthogonalize, schedule=schedule))(x)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(pej.orthogonalize(x, schedule=schedule)), atol=1e-6)
    static = jax.jit(pej.orthogonalize, static_argnames=("schedule", "steps"))
    u = static(x[0], schedule=schedule, steps=4)
    assert u.shape == (40, 64) and u.dtype == jnp.float32
    assert relative(u, pe.orthogonalize(x[0], schedule=schedule, steps=4)) <= 1e-5


def test_within_the_certified_error():
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    g = certified_batch(np.random.default_rng(6), (2, 40, 72), schedule).astype(np.float32)
    u = np.asarray(jitted(schedule)(g), dtype=np.float64)
    polar, _ = polar_by_svd(g)
    assert np.max(np.linalg.norm(u - polar, ord=2, axis=(-2, -1))) <= schedule.error_bound() + 1e-4


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_16_bit_arrays_keep_their_dtype(dtype):
    schedule = pe.Schedule.builtin("polar-express-paper-d5")
    g = certified_batch(np.random.default_rng(7), (64, 160), schedule)
    u = jitted(schedule)(jnp.asarray(g, dtype=dtype))
    assert u.dtype == dtype
    s = np.linalg.svd(np.asarray(u, dtype=np.float64), compute_uv=False)
    assert np.max(np.abs(1 - s)) <= 0.05


def test_zero_and_non_finite_matrices():
    x = gaussian((3, 16, 24))
    x[1] = 0
    x[2, 0, 0] = np.nan
    u = np.asarray(jitted("polar-express-nanochat-d5")(x))
    assert np.isfinite(u[0]).all() and (u[1] == 0).all() and np.isnan(u[2]).all()


def test_bad_input():
    with pytest.raises(ValueError, match="2-D matrix or a 3-D batch"):
        pej.orthogonalize(jnp.ones(4))
    with pytest.raises(ValueError, match="empty"):
        pej.orthogonalize(jnp.ones((0, 3)))
    with pytest.raises(TypeError, match="int32"):
        pej.orthogonalize(jnp.ones((3, 3), dtype=jnp.int32))
    with pytest.raises(ValueError, match=r"steps must be an integer in 1\.\.\d+, not 0"):
        pej.orthogonalize(jnp.ones((3, 3)), steps=0)


# ------------------------------------------------------------------ muon


def _params(rng):
    return {
        "w": jnp.asarray(rng.standard_normal((32, 48)), jnp.float32),
        "heads": jnp.asarray(rng.standard_normal((3, 16, 24)), jnp.float32),
        "conv": jnp.asarray(rng.standard_normal((8, 4, 3, 3)), jnp.float32),
        "b": jnp.asarray(rng.standard_normal((48,)), jnp.float32),
    }


DIMS = {
    "w": MuonDimensionNumbers(0, 1),
    "heads": MuonDimensionNumbers(1, 2),  # a batch of three 16 x 24 matrices
    "conv": MuonDimensionNumbers((1, 2, 3), 0),  # (in, kh, kw) -> out
    "b": None,  # AdamW
}


@pytest.mark.parametrize(
    "options",
    [{}, {"nesterov": False}, {"adaptive": True}, {"consistent_rms": 0.2}, {"weight_decay": 0.1}, {"beta": 0.9}],
)
def test_muon_updates_equal_optax_contrib_muon_over_ten_steps(options):
    schedule = pe.Schedule.builtin("cesista-quintic-5step")
    ours = pej.muon(0.02, schedule=schedule, eps=1e-8, muon_weight_dimension_numbers=DIMS, **options)
    theirs = optax.contrib.muon(0.02, ns_coeffs=schedule.to_optax(), ns_steps=schedule.steps, eps=1e-8,
                                muon_weight_dimension_numbers=DIMS, **options)
    rng = np.random.default_rng(0)
    params = _params(rng)
    p_ours, p_theirs = params, params
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    step_ours, step_theirs = jax.jit(ours.update), jax.jit(theirs.update)
    for _ in range(10):
        grads = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), jnp.float32), params)
        u_ours, s_ours = step_ours(grads, s_ours, p_ours)
        u_theirs, s_theirs = step_theirs(grads, s_theirs, p_theirs)
        for key in params:
            assert relative(u_ours[key], u_theirs[key]) <= 1e-5, key
        p_ours, p_theirs = optax.apply_updates(p_ours, u_ours), optax.apply_updates(p_theirs, u_theirs)


def test_muon_default_takes_the_2d_parameters_and_adamw_the_rest():
    schedule = pe.Schedule.builtin("muon-jordan-ns5")
    ours = pej.muon(0.02, schedule=schedule, steps=5, eps=1e-8)
    theirs = optax.contrib.muon(0.02, ns_coeffs=tuple(JORDAN), ns_steps=5, eps=1e-8)
    params = {"w": jnp.ones((8, 12)) + jnp.eye(8, 12), "b": jnp.ones((12,))}
    grads = jax.tree.map(lambda p: p * 0.5, params)
    u_ours, _ = ours.update(grads, ours.init(params), params)
    u_theirs, _ = theirs.update(grads, theirs.init(params), params)
    np.testing.assert_array_equal(np.asarray(u_ours["b"]), np.asarray(u_theirs["b"]))
    assert relative(u_ours["w"], u_theirs["w"]) <= 1e-5
    wrong = pej.muon(0.1, muon_weight_dimension_numbers={"w": DIMS["w"], "b": MuonDimensionNumbers()})
    with pytest.raises(ValueError, match="rank 2 or more"):
        wrong.update(grads, wrong.init(params), params)


# ------------------------------------------------------------------ to_optax


def test_to_optax_rows_and_steps_past_the_list():
    schedule = pe.Schedule.builtin("cesista-quintic-5step")
    array = schedule.to_optax()
    assert array.shape == (5, 3) and array.tolist() == schedule.coefficients
    longer = schedule.to_optax(7)
    assert longer.shape == (7, 3) and longer[5].tolist() == longer[6].tolist() == schedule.coefficients[-1]
    cycle = pe.Schedule(coefficients=[JORDAN, [2.0, -1.5, 0.5]], after_list="cycle", name="two")
    assert cycle.to_optax(3).tolist() == [JORDAN, [2.0, -1.5, 0.5], JORDAN]
    assert pe.Schedule.builtin("newton-schulz-cubic").to_optax().tolist() == [[1.5, -0.5, 0.0]]


def test_to_optax_refuses_what_optax_cannot_express():
    with pytest.raises(ValueError, match="normalisation factor 1"):
        pe.Schedule.builtin("polar-express-nanochat-d5").to_optax()
    with pytest.raises(ValueError, match="degree 7"):
        pe.Schedule(coefficients=[NS7], name="ns7").to_optax()
